/** `mosaicbert prepare <inputs...> --out DIR`: tokenize a corpus into train/val shards, with a progress display. */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { prepare, type PrepareProgress } from '../data/prepare.js';
import { parseEncodingErrors } from '../data/utf8.js';

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
    .option('--encoding-errors <mode>', "bytes that are not UTF-8 in .txt/.jsonl inputs: 'strict' (an error naming file and byte offset) or 'replace' (U+FFFD)", 'strict')
    .option('--no-progress', 'no progress display')
    .action(async (inputs: string[], o: { out: string; maxSeqLen: string; mode: string; valFraction: string; seed: string;
      textField: string; maxDocuments?: string; progress: boolean; encodingErrors: string }) => {
      const num = (v: string, name: string, ok: (x: number) => boolean, meaning: string) => {
        const x = Number(v);
        if (v.trim() === '' || !Number.isFinite(x) || !ok(x)) throw new Error(`${name}: expected ${meaning}, got '${v}'`);
        return x;
      };
      const int = (lo: number) => (x: number) => Number.isInteger(x) && x >= lo;
      if (o.mode !== 'truncate' && o.mode !== 'chunk') throw new Error(`--mode: expected 'truncate' or 'chunk', got '${o.mode}'`);
      const encoding_errors = parseEncodingErrors(o.encodingErrors);
      const pb = prepareProgressBar(o.progress);
      const opts = { inputs, out_dir: o.out, mode: o.mode as 'truncate' | 'chunk', text_field: o.textField, encoding_errors,
        max_seq_len: num(o.maxSeqLen, '--max-seq-len', (x) => int(3)(x) && x <= 65535, 'tokens per sample, an integer in [3, 65535]'),
        val_fraction: num(o.valFraction, '--val-fraction', (x) => x >= 0 && x < 1, 'the fraction of documents for validation, in [0, 1)'),
        seed: num(o.seed, '--seed', int(0), 'a seed, an integer >= 0'),
        max_documents: o.maxDocuments === undefined ? undefined
          : num(o.maxDocuments, '--max-documents', int(1), 'a document count, an integer >= 1'),
        onProgress: pb.update };
      let r;
      try { r = await prepare(opts); } finally { pb.stop(); }
      console.log(`${r.out_dir}: ${r.documents} documents (${r.empty_documents} empty) in ${r.seconds.toFixed(1)} s; ` +
        `train ${r.train.num_samples} samples / ${r.train.num_tokens} tokens` +
        (r.val ? `; val ${r.val.num_samples} samples / ${r.val.num_tokens} tokens` : ''));
    });
}
