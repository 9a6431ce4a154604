/**
 * `mosaicbert eval --model DIR --data CORPUS`: MLM loss, masked-token accuracy and perplexity of a masked-LM model
 * on a corpus, with seeded 15% masks (src/train/evaluate_mlm.ts, the pretraining evaluation), and the model's
 * encoder sparsity. `mosaicbert eval --model DIR --task sst2` (or `--dev FILE`): a fine-tuned classifier on a GLUE
 * task's dev split(s) or a custom dev file with the task's metrics (src/glue/evaluate_task.ts). Text output is a
 * short table on stdout; `--json` prints one JSON object instead. Progress goes to stderr.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { setNumThreads } from '../kernels/native.js';
import { loadPretrained, type PretrainedInfo } from '../interop/pretrained.js';
import type { MaskedLMModel } from '../model/mlm.js';
import type { SequenceClassificationModel } from '../model/classification.js';
import type { HeadKind } from '../model/params.js';
import { evaluateMlm } from '../train/evaluate_mlm.js';
import { evaluateTask } from '../glue/evaluate_task.js';
import { formatEvalMetrics } from '../glue/progress.js';
import { taskName } from '../glue/tasks.js';
import { loadTokenizer } from '../pipelines/common.js';
import type { BertTokenizer } from '../tokenizer/bert_tokenizer.js';
import { intOpt } from './options.js';
import { parseDtype } from './pipeline_io.js';
import { checkDataFits, openEvalData } from './eval_data.js';
import { addCustomColumnOptions, parseTableFormat, type CustomColumnOptions } from './custom_task.js';

interface EvalCliOptions extends CustomColumnOptions {
  model: string; data?: string[]; split?: string; mlmProbability?: string; seed?: string; maxSeqLen?: string; mode?: string;
  textField?: string; batchSize?: string; maxSamples?: string; dtype?: string; task?: string; dataDir: string; dev?: string;
  threads?: string; json: boolean; progress: boolean;
}

/** Flags that only an MLM evaluation (--data) reads. */
const MLM_ONLY: Array<[keyof EvalCliOptions, string]> = [['split', '--split'], ['mlmProbability', '--mlm-probability'],
  ['seed', '--seed'], ['mode', '--mode'], ['textField', '--text-field']];

/** Flags that only a custom dev file (--dev) reads. */
const CUSTOM_ONLY: Array<[keyof EvalCliOptions, string]> = [['textColumn', '--text-column'], ['textPairColumn', '--text-pair-column'],
  ['labelColumn', '--label-column'], ['format', '--format']];

export function registerEval(program: Command): void {
  addCustomColumnOptions(program
    .command('eval')
    .description('Evaluate a model: MLM loss, masked-token accuracy and perplexity on a corpus (--data), or a fine-tuned ' +
      "classifier on a GLUE task's dev split(s) (--task) or a custom dev file (--dev) with the task's metrics")
    .requiredOption('--model <dir>', 'Hugging Face model folder or Composer checkpoint (anything fromPretrained reads): MosaicBERT or classic BERT, dense, sparse or INT8')
    .option('--data <paths...>', 'MLM: a folder made by `mosaicbert prepare` (its val split), one split folder (with index.json), ' +
      'or raw text (json[l][.gz|.zst], txt, parquet, MDS), tokenized into a temporary folder and evaluated whole')
    .option('--split <name>', 'MLM: split of a prepared folder, val or train (default val)')
    .option('--mlm-probability <p>', 'MLM: masking rate (default 0.15, the reference eval rate; training uses 0.3)')
    .option('--seed <n>', 'MLM: seed of the masks (default 17, the reference seed)')
    .option('--max-seq-len <n>', 'raw text: tokens per sample (default 128); --task/--dev: truncation length (default 256)')
    .option('--mode <m>', "raw text: 'truncate' (one sample per document, the reference) or 'chunk' (every token)")
    .option('--text-field <name>', 'raw text: JSON field / column of the text (default text)')
    .option('--batch-size <n>', 'samples per forward; MLM masks depend on it (pretraining evaluates with the config\'s device_eval_batch_size, 32 in the CPU presets)', '32')
    .option('--max-samples <n>', 'evaluate only the first N samples (MLM) or examples of each split (--task/--dev)')
    .option('--dtype <dtype>', 'fp32 (weights pre-packed; sparse kernels for pruned weights) or q8 (INT8 projections); default: fp32, or int8 for a quantized folder')
    .option('--task <name>', 'classifier: GLUE task (mnli, qnli, qqp, sst2, cola, rte, mrpc, stsb, wnli)')
    .option('--data-dir <dir>', 'classifier: GLUE data folder', '../shared/data/glue')
    .option('--dev <file>', 'classifier: custom dev file (.csv, .tsv, .jsonl), columns as finetune\'s custom task')
    .option('--threads <n>', 'native kernel threads')
    .option('--json', 'print one JSON object instead of the table', false)
    .option('--no-progress', 'no progress display on stderr')
  ).action(async (o: EvalCliOptions, cmd: Command) => {
    const classifier = o.task !== undefined || o.dev !== undefined;
    if (o.task !== undefined && o.dev !== undefined) throw new Error('--task and --dev exclude each other (--dev is a custom task)');
    if (classifier && o.data) throw new Error('--data (MLM evaluation) and --task/--dev (classifier evaluation) exclude each other');
    if (!classifier && !o.data) throw new Error('eval needs --data CORPUS (MLM evaluation) or --task NAME / --dev FILE (classifier evaluation)');
    if (classifier) for (const [k, flag] of MLM_ONLY) if (o[k] !== undefined) throw new Error(`${flag} applies to MLM evaluation (--data) only`);
    if (o.dev === undefined) {
      for (const [k, flag] of CUSTOM_ONLY) if (cmd.getOptionValueSource(k) === 'cli') throw new Error(`${flag} applies to a custom dev file (--dev) only`);
    }
    if (o.dev !== undefined && !existsSync(o.dev)) throw new Error(`--dev: ${o.dev}: no such file`);
    if (o.threads) setNumThreads(intOpt(o.threads, '--threads', 1, 1024)!);
    const common = { batchSize: intOpt(o.batchSize, '--batch-size')!, maxSamples: intOpt(o.maxSamples, '--max-samples'),
      dtype: o.dtype === undefined ? undefined : parseDtype(o.dtype), t0: performance.now() };
    await (classifier ? evalClassifier(o, common) : evalMlm(o, common));
  });
}

/** The flags both evaluations read, parsed. */
interface Common { batchSize: number; maxSamples?: number; dtype?: 'fp32' | 'q8'; t0: number }

/** `eval --task NAME` / `eval --dev FILE`. */
async function evalClassifier(o: EvalCliOptions, c: Common): Promise<void> {
  const task = o.task === undefined ? undefined : wrapFlag('--task', () => taskName(o.task!));
  const maxSeqLen = intOpt(o.maxSeqLen, '--max-seq-len', 2);
  const { model, info, dir, dtype } = loadForEval<SequenceClassificationModel>(o.model, 'classification', c.dtype);
  const bar = progressBar(o.progress, 'eval {split} {bar} {percentage}% | {value}/{total} examples | ETA {eta_formatted}');
  const r = await evaluateTask(model, await loadTokenizer(dir), { task, dataDir: o.dataDir, maxSeqLen, batchSize: c.batchSize,
    maxExamples: c.maxSamples, warn: (m) => console.error(`warning: ${m}`),
    custom: o.dev === undefined ? undefined : { dev: o.dev, textColumn: o.textColumn, textPairColumn: o.textPairColumn,
      labelColumn: o.labelColumn, format: parseTableFormat(o.format) },
    onProgress: (split, done, n) => bar.update(done, n, { split }) }).finally(bar.stop);
  const sparsity = model.encoderSparsity();
  if (o.json) {
    console.log(JSON.stringify({ model: dir, model_type: info.modelType, task: r.task, metrics: r.metrics, score: r.score,
      examples: r.examples, files: r.files, dtype, encoder_sparsity: sparsity, seconds: (performance.now() - c.t0) / 1000 }));
    return;
  }
  printTable([['model', describeModel(dir, info, sparsity)],
    ...Object.keys(r.metrics).map((s): [string, string] => [s, `${formatEvalMetrics({ [s]: r.metrics[s] }).slice(s.length + 1)} ` +
      `(${r.examples[s]} examples, ${r.files[s]})`]),
    ['score', `${(100 * r.score).toFixed(2)} (mean of the metrics, x100)`]]);
}

/** `eval --data CORPUS`. */
async function evalMlm(o: EvalCliOptions, c: Common): Promise<void> {
  const p = o.mlmProbability === undefined ? 0.15 : Number(o.mlmProbability);
  if (o.mlmProbability !== undefined && (o.mlmProbability.trim() === '' || !(p >= 0 && p <= 1))) {
    throw new Error(`--mlm-probability: expected a number in [0, 1], got '${o.mlmProbability}'`);
  }
  const seed = intOpt(o.seed, '--seed', 0) ?? 17;
  const maxSeqLen = intOpt(o.maxSeqLen, '--max-seq-len', 3, 65535);
  if (o.mode !== undefined && o.mode !== 'truncate' && o.mode !== 'chunk') throw new Error(`--mode: expected 'truncate' or 'chunk', got '${o.mode}'`);
  if (o.split !== undefined && o.split !== 'val' && o.split !== 'train') throw new Error(`--split: expected 'val' or 'train', got '${o.split}'`);
  for (const d of o.data!) if (!existsSync(d)) throw new Error(`--data: ${d}: no such file or folder`);
  const { model, info, dir, dtype } = loadForEval<MaskedLMModel>(o.model, 'mlm', c.dtype);
  const tok = await loadTokenizer(dir);
  const data = await openEvalData({ data: o.data!, split: o.split, maxSeqLen, mode: o.mode as 'truncate' | 'chunk' | undefined,
    textField: o.textField, maxSamples: c.maxSamples, progress: o.progress }, tok);
  try {
    const ds = data.ds;
    checkDataFits(data, model, info, tok);
    const bar = progressBar(o.progress, 'eval {bar} {percentage}% | batch {value}/{total} | loss {loss} | ETA {eta_formatted}');
    let r;
    try {
      r = evaluateMlm(model, ds, { batch_size: c.batchSize, mlm_probability: p, seed, max_samples: c.maxSamples,
        onBatch: (q) => bar.update(q.batches, q.total_batches, { loss: Number.isNaN(q.loss) ? '-' : q.loss.toFixed(4) }) });
    } finally {
      bar.stop();
    }
    if (!r.num_targets) console.error(`warning: no token was masked (--mlm-probability ${p}, ${r.tokens} tokens): loss and accuracy are undefined`);
    const sparsity = model.encoderSparsity();
    if (o.json) {
      console.log(JSON.stringify({ model: dir, model_type: info.modelType, data: data.name, ...r, mlm_probability: p, seed,
        batch_size: c.batchSize, max_seq_len: ds.max_seq_len, dtype, encoder_sparsity: sparsity, seconds: (performance.now() - c.t0) / 1000 }));
      return;
    }
    printTable([['model', describeModel(dir, info, sparsity)],
      ['data', `${data.name} (${r.samples} samples, ${r.tokens} tokens, max_seq_len ${ds.max_seq_len})`],
      ['masking', `${+(100 * p).toFixed(4)}%, seed ${seed}, batch size ${c.batchSize}: ${r.num_targets} masked tokens`],
      ['MLM loss', `${r.loss.toFixed(4)} nats`],
      ['accuracy', `${(100 * r.accuracy).toFixed(2)}% (masked tokens predicted exactly)`],
      ['perplexity', r.perplexity.toFixed(2)]]);
  } finally {
    data.cleanup();
  }
}

/** Runs `f`, prefixing its error message with the flag. */
function wrapFlag<T>(flag: string, f: () => T): T {
  try { return f(); } catch (e) { throw new Error(`${flag}: ${(e as Error).message}`); }
}

/**
 * Loads `--model` with the head the evaluation needs and prepares it for inference as the pipelines do (fp32
 * pre-packed unless `dtype` says q8; an INT8 folder keeps its int8 weights).
 * @throws Error naming the folder when it lacks that head's weights (a classifier given for MLM, or the reverse).
 */
function loadForEval<M extends MaskedLMModel | SequenceClassificationModel>(path: string, head: HeadKind, dtype: 'fp32' | 'q8' | undefined):
  { model: M; info: PretrainedInfo; dir: string; dtype: 'fp32' | 'q8' | 'int8' } {
  if (!existsSync(path)) throw new Error(`--model: ${path}: no such file or folder`);
  const warnings: string[] = [];
  const { model, info } = loadPretrained(path, { head, warn: (m) => warnings.push(m) });
  const headKey = head === 'mlm' ? 'cls.' : 'classifier.';
  if (info.missing.some((k) => k.startsWith(headKey))) {
    throw new Error(head === 'mlm'
      ? `--model: ${path} has no MLM head (cls.predictions.* missing): evaluate a classifier with --task or --dev`
      : `--model: ${path} has no classifier (classifier.* missing): fine-tune it first (mosaicbert finetune), or evaluate an MLM with --data`);
  }
  for (const w of warnings) console.error(`warning: ${w}`);
  const int8Folder = model.encoder.linears().some((l) => l.backend);
  if (dtype || !int8Folder) model.prepareInference(dtype ?? 'fp32');
  return { model: model as M, info, dir: resolve(path), dtype: dtype ?? (int8Folder ? 'int8' : 'fp32') };
}

function describeModel(dir: string, info: PretrainedInfo, sparsity: number): string {
  return `${dir} (${info.modelType === 'bert' ? 'classic BERT' : 'MosaicBERT'}, encoder sparsity ${(100 * sparsity).toFixed(2)}%)`;
}

function printTable(rows: Array<[string, string]>): void {
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
}

/**
 * A cli-progress bar on stderr, started at the first update (a line every 10 s when stderr is not a terminal); an
 * update with another total, or going backwards (the next split), starts a new bar.
 */
function progressBar(enabled: boolean, format: string):
  { update: (value: number, total: number, payload: Record<string, string>) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | null = null, total = -1, last = 0;
  const stop = () => { bar?.stop(); bar = null; };
  return {
    update: (value, of, payload) => {
      if (!enabled) return;
      if (!bar || of !== total || value < last) {
        stop();
        bar = new cliProgress.SingleBar({ format, barsize: 24, hideCursor: true, noTTYOutput: true, notTTYSchedule: 10000, etaBuffer: 20 },
          cliProgress.Presets.shades_classic);
        bar.start(of, 0, payload);
        total = of;
      }
      last = value;
      bar.update(value, payload);
    },
    stop,
  };
}
