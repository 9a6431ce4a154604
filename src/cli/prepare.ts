/** `mosaicbert prepare <inputs...> --out DIR`: tokenize a corpus into train/val shards, with a progress display. */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { prepare, type PrepareProgress } from '../data/prepare.js';

/** A progress display for prepare(): documents, samples, tokens and tokens/s (no total is known in advance). */
export function prepareProgressBar(enabled: boolean): { update: (p: PrepareProgress) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | null = null;
  return {
    update: (p) => {
      if (!enabled) return;
      if (!bar) {
        bar = new cliProgress.SingleBar({ format: 'preparing | {docs} documents | {samples} samples | {tokens} tokens | {tps} tok/s | {where}',
          noTTYOutput: true, notTTYSchedule: 10000, hideCursor: true });
        bar.start(0, 0, { docs: 0, samples: 0, tokens: 0, tps: '0', where: '' });
      }
      bar.update(0, { docs: p.documents, samples: p.samples, tokens: p.tokens, tps: p.tokens_per_s.toFixed(0),
        where: p.where.length > 50 ? '...' + p.where.slice(-47) : p.where });
    },
    stop: () => { bar?.stop(); bar = null; },
  };
}

export function registerPrepare(program: Command): void {
  program
    .command('prepare')
    .description('Tokenize text (json/jsonl/txt[.gz|.zst], parquet, MDS) into train/ and val/ uint16 shards for pretraining')
    .argument('<inputs...>', 'corpus files and folders')
    .requiredOption('-o, --out <dir>', 'output folder (gets train/ and val/)')
    .option('--max-seq-len <n>', 'tokens per sample, [CLS] and [SEP] included', '128')
    .option('--mode <mode>', "'truncate' (one sample per document, the reference) or 'chunk' (every 128-token window)", 'truncate')
    .option('--val-fraction <f>', 'fraction of documents for validation', '0.01')
    .option('--seed <n>', 'split seed', '17')
    .option('--text-field <name>', 'JSON field / column of the text', 'text')
    .option('--max-documents <n>', 'stop after this many documents')
    .option('--no-progress', 'no progress display')
    .action(async (inputs: string[], o: { out: string; maxSeqLen: string; mode: string; valFraction: string; seed: string;
      textField: string; maxDocuments?: string; progress: boolean }) => {
      const num = (v: string, name: string) => {
        const x = Number(v);
        if (!Number.isFinite(x)) throw new Error(`${name}: expected a number, got '${v}'`);
        return x;
      };
      const pb = prepareProgressBar(o.progress);
      const r = await prepare({ inputs, out_dir: o.out, max_seq_len: num(o.maxSeqLen, '--max-seq-len'), mode: o.mode as 'truncate' | 'chunk',
        val_fraction: num(o.valFraction, '--val-fraction'), seed: num(o.seed, '--seed'), text_field: o.textField,
        max_documents: o.maxDocuments ? num(o.maxDocuments, '--max-documents') : undefined, onProgress: pb.update });
      pb.stop();
      console.log(`${r.out_dir}: ${r.documents} documents (${r.empty_documents} empty) in ${r.seconds.toFixed(1)} s; ` +
        `train ${r.train.num_samples} samples / ${r.train.num_tokens} tokens` +
        (r.val ? `; val ${r.val.num_samples} samples / ${r.val.num_tokens} tokens` : ''));
    });
}
