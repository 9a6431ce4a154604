/**
 * `mosaicbert prune --model DIR --sparsity 0.8 [--method obert|gmp] [--data CORPUS] --out DIR`: one-shot pruning
 * of an MLM model folder (src/pruning/one_shot.ts). `obert` collects `--num-grads` MLM gradients (batches of
 * `--grad-batch-size` from the corpus, masked as in pretraining, model in evaluation mode) for the block Fisher
 * inverse, which takes about d·B·4 bytes (d pruned weights, B = --block-size; BERT-base at B = 50: 15.8 GiB); when
 * that exceeds --max-memory the weights are processed in groups at the cost of 2 gradient collections per group.
 * Saves the pruned model with savePretrained (pruned weights as zeros: any Hugging Face / reference loader reads
 * it) and `pruning.json` beside it (settings, achieved sparsity per layer).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { setNumThreads } from '../kernels/native.js';
import { fromPretrained, savePretrained } from '../interop/pretrained.js';
import { writeFileAtomic } from '../data/atomic.js';
import { DataLoader } from '../data/loader.js';
import { loadConfig } from '../train/config.js';
import { ensurePrepared, findData } from '../train/data.js';
import type { LabelledBatch } from '../train/step.js';
import { oneShotPrune, pruningJson } from '../pruning/one_shot.js';
import { defaultMaxMemoryBytes, formatBytes } from '../pruning/memory.js';
import type { PruneProgress } from '../pruning/prune_step.js';
import { intOption } from './pipeline_io.js';
import { prepareProgressBar } from './prepare.js';

interface PruneCliOptions {
  model: string; out: string; sparsity: string; method: string; maskType: string; blockSize: string; numGrads: string;
  gradBatchSize: string; damp: string; numRecomputations: string; params?: string[]; perLayer?: boolean;
  maxMemory?: string; data?: string[]; maxSeqLen: string; seed: string; threads?: string; progress: boolean;
}

/** "8GiB", "512MiB", "1e9" -> bytes. */
export function parseBytes(v: string, flag: string): number {
  const m = /^\s*([0-9.eE+]+)\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?\s*$/.exec(v);
  const unit: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
  const n = m ? Number(m[1]) * unit[m[2] ?? 'B'] : NaN;
  if (!(n > 0)) throw new Error(`${flag} must be a size such as 8GiB, 512MiB or 1e9, got '${v}'`);
  return n;
}

function numberOption(v: string, flag: string, ok: (x: number) => boolean, what: string): number {
  const n = Number(v);
  if (!ok(n)) throw new Error(`${flag} must be ${what}, got '${v}'`);
  return n;
}

export function registerPrune(program: Command): void {
  program
    .command('prune')
    .description('One-shot pruning of an MLM model to a sparsity: oBERT (second order, block Fisher) or global magnitude; ' +
      'saves the model (pruned weights as zeros) and pruning.json')
    .requiredOption('--model <dir>', 'Hugging Face model folder (MLM head)')
    .requiredOption('--out <dir>', 'output folder')
    .requiredOption('--sparsity <s>', 'target sparsity in [0, 1] of the pruned weights')
    .option('--method <m>', 'obert | gmp', 'obert')
    .option('--mask-type <t>', 'unstructured | block4 (1x4 along the input dimension)', 'unstructured')
    .option('--block-size <B>', 'Fisher block size (obert); memory ≈ d·B·4 bytes', '50')
    .option('--num-grads <m>', 'gradients for the Fisher (obert)', '1024')
    .option('--grad-batch-size <n>', 'samples per gradient (obert)', '16')
    .option('--damp <lambda>', 'Fisher damping (obert)', '1e-7')
    .option('--num-recomputations <r>', 'fresh Fisher estimates within the step', '1')
    .option('--params <patterns...>', "weights to prune ('re:' regexes or names; classic-BERT names map onto MosaicBERT's); default: the encoder's projections")
    .option('--per-layer', 'the same sparsity in every weight instead of one global threshold')
    .option('--max-memory <size>', `memory limit of the Fisher inverse (e.g. 8GiB; default half the machine: ${formatBytes(defaultMaxMemoryBytes())})`)
    .option('--data <paths...>', 'corpus for the gradients (as pretrain reads it; default as pretrain finds it)')
    .option('--max-seq-len <n>', 'sample length of the corpus', '128')
    .option('--seed <n>', 'seed of the batch order and MLM masks', '17')
    .option('--threads <n>', 'kernel threads')
    .option('--no-progress', 'no progress bar')
    .action(async (o: PruneCliOptions) => {
      const sparsity = numberOption(o.sparsity, '--sparsity', (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
      if (o.method !== 'obert' && o.method !== 'gmp') throw new Error(`--method must be obert or gmp, got '${o.method}'`);
      if (o.maskType !== 'unstructured' && o.maskType !== 'block4') throw new Error(`--mask-type must be unstructured or block4, got '${o.maskType}'`);
      const blockSize = intOption(o.blockSize, '--block-size', 50)!, numGrads = intOption(o.numGrads, '--num-grads', 1024)!;
      const gradBatch = intOption(o.gradBatchSize, '--grad-batch-size', 16)!, R = intOption(o.numRecomputations, '--num-recomputations', 1)!;
      const damp = numberOption(o.damp, '--damp', (x) => x > 0, 'a positive number');
      const seed = numberOption(o.seed, '--seed', (x) => Number.isInteger(x) && x >= 0, 'an integer >= 0');
      const maxSeqLen = intOption(o.maxSeqLen, '--max-seq-len', 128)!;
      const maxMemoryBytes = o.maxMemory ? parseBytes(o.maxMemory, '--max-memory') : defaultMaxMemoryBytes();
      if (o.threads) setNumThreads(intOption(o.threads, '--threads', 0)!);
      if (!existsSync(join(o.model, 'config.json'))) throw new Error(`--model: ${o.model}: no config.json`);
      const model = fromPretrained(o.model, { head: 'mlm' });

      let gradBatches: (() => Iterable<LabelledBatch>) | undefined;
      if (o.method === 'obert') {
        const { config: cfg } = loadConfig({ preset: 'mosaic-bert-mini', overrides: [`max_seq_len=${maxSeqLen}`, `seed=${seed}`] });
        const sel = findData(cfg, o.data);
        const key = createHash('sha256').update(JSON.stringify([sel.inputs, cfg.max_seq_len, cfg.data_mode, cfg.val_fraction, cfg.seed])).digest('hex').slice(0, 12);
        console.error(`data: ${sel.inputs.join(', ')} (from ${sel.source})`);
        const pb = prepareProgressBar(o.progress);
        const data = await ensurePrepared(sel.inputs, resolve('runs', '.cache', `prepared-${key}`), cfg, pb.update);
        pb.stop();
        gradBatches = function* () {
          const loader = new DataLoader(data.train, { batch_size: gradBatch, shuffle: true, seed, drop_last: true, pad_to: 'longest',
            mlm: { mlm_probability: cfg.train.mlm_probability, seed } });
          for (;;) {
            const b = loader.next();
            yield { batch: b.batch_size, seqlen: b.seq_len, input_ids: b.input_ids, attention_mask: b.attention_mask,
              token_type_ids: b.token_type_ids, labels: b.labels! };
          }
        };
      }

      let bar: cliProgress.SingleBar | null = null;
      const onProgress = (p: PruneProgress) => {
        if (!o.progress) return;
        if (!bar) {
          bar = new cliProgress.SingleBar({ format: 'gradients {bar} {value}/{total} | Fisher collection {c}/{n} | ETA {eta_formatted}',
            barsize: 24, hideCursor: true, noTTYOutput: true, notTTYSchedule: 10000, etaBuffer: 50 }, cliProgress.Presets.shades_classic);
          bar.start(p.total * p.collections, 0, { c: 1, n: p.collections });
        }
        bar.update(p.collection * p.total + p.done, { c: p.collection + 1, n: p.collections });
      };
      let result;
      try {
        result = oneShotPrune(model, { method: o.method, sparsity, maskType: o.maskType, blockSize, numGrads, dampening: damp,
          gradBatches, params: o.params, globalSparsity: !o.perLayer, numRecomputations: R, maxMemoryBytes, onProgress });
      } finally {
        (bar as cliProgress.SingleBar | null)?.stop();
      }
      for (const w of result.warnings) console.error(`warning: ${w}`);
      console.error(`${'weight'.padEnd(52)} ${'shape'.padEnd(12)} sparsity`);
      for (const l of result.layers) console.error(`${(l.name + '.weight').padEnd(52)} ${l.shape.join('x').padEnd(12)} ${(100 * l.sparsity).toFixed(2)}%`);
      console.error(`total: ${result.pruned} of ${result.numel} weights pruned (${(100 * result.achievedSparsity).toFixed(2)}%), ` +
        `${result.method}${result.blockSize ? ` B=${result.blockSize}` : ''} ${result.maskType}` +
        `${result.fisherBytes ? `, Fisher inverse ${formatBytes(result.fisherBytes)} in ${result.groups} group(s), ${result.gradientPasses} gradient passes` : ''}, ` +
        `${result.seconds.toFixed(1)} s`);
      const tokenizerDir = existsSync(join(o.model, 'vocab.txt')) ? o.model : undefined;
      savePretrained(model, o.out, { tokenizerDir });
      writeFileAtomic(join(o.out, 'pruning.json'), JSON.stringify({ source_model: resolve(o.model), ...pruningJson(result) }, null, 2) + '\n');
      console.error(`saved ${o.out} (model + pruning.json)`);
    });
}
