/**
 * Evaluation of a fine-tuned sequence classifier on a task's evaluation split(s) with the task's metrics, by the
 * code fine-tuning evaluates with (finetune.ts: `encodeExamples`, then `evaluate`): a GLUE task's dev TSV(s) in
 * the official layout (MNLI: matched and mismatched; no train file needed), or a labelled CSV/TSV/JSONL file read
 * as `finetune`'s custom task reads its dev file. The score is the mean of the metric values over the splits, as
 * fine-tuning reports it.
 */
import { existsSync } from 'node:fs';
import type { SequenceClassificationModel } from '../model/classification.js';
import type { BertTokenizer } from '../tokenizer/bert_tokenizer.js';
import { encodeExamples, evaluate, GLUE_MAX_SEQ_LEN, type CustomTaskOptions } from './finetune.js';
import { readLabelledFile } from './generic.js';
import { mean } from './metrics.js';
import { glueTask, readGlueSplit, taskFiles, type GlueSplit, type MetricName } from './tasks.js';

/** Options of {@link evaluateTask}: `task` (a GLUE task) or `custom` (a labelled file). */
export interface TaskEvalOptions {
  /** GLUE task name, any spelling ('SST-2', 'sst2'). */
  task?: string;
  /** GLUE data folder (default ../shared/data/glue). */
  dataDir?: string;
  /** A custom dev file with finetune's column options (regression when the model has one label). */
  custom?: Omit<CustomTaskOptions, 'train' | 'regression'>;
  /** Truncation length in tokens (default 256, fine-tuning's). */
  maxSeqLen?: number;
  /** Examples per forward (default 32). */
  batchSize?: number;
  /** Only the first N examples of each split. */
  maxExamples?: number;
  /** Receives warnings (e.g. skipped malformed rows). */
  warn?: (message: string) => void;
  /** Called after each forward: the split, its examples done so far and its size (progress displays). */
  onProgress?: (split: string, done: number, total: number) => void;
}

/** What {@link evaluateTask} measured. */
export interface TaskEvalResult {
  task: string;
  /** Split name -> metric name -> value (accuracy and F1 in [0, 1], MCC and correlations in [-1, 1]). */
  metrics: Record<string, Record<string, number>>;
  /** Mean of every metric value of every split. */
  score: number;
  /** Split name -> examples evaluated. */
  examples: Record<string, number>;
  /** Split name -> file read. */
  files: Record<string, string>;
}

/** The class names of a model's config `id2label` in id order, unless they are the generic LABEL_k. */
function modelLabels(model: SequenceClassificationModel): string[] | undefined {
  const c = model.config, n = c.num_labels;
  if (n < 2 || !c.id2label) return undefined;
  const names = Array.from({ length: n }, (_, i) => c.id2label![String(i)]);
  return names.every((x, i) => x !== undefined && x !== `LABEL_${i}`) ? names : undefined;
}

/**
 * Evaluates a classifier on a GLUE task's dev split(s) or a custom dev file.
 * @param model a sequence classifier whose `num_labels` matches the task (1 for regression).
 * @param tok the model's tokenizer (`loadTokenizer(modelDir)`).
 * @throws Error naming the file (missing, malformed, unknown label), the task (unknown name), or the mismatch
 *   between the model's labels (`num_labels`, `id2label` order) and the task's.
 */
export async function evaluateTask(model: SequenceClassificationModel, tok: BertTokenizer, o: TaskEvalOptions): Promise<TaskEvalResult> {
  const NL = model.config.num_labels, mine = modelLabels(model);
  let name: string, metrics: MetricName[], splits: GlueSplit[];
  if (o.custom) {
    const c = o.custom, regression = NL === 1;
    const d = readLabelledFile(c.dev, { textColumn: c.textColumn, textPairColumn: c.textPairColumn, labelColumn: c.labelColumn,
      regression, format: c.format, labels: mine });
    if (!regression && d.labels.length > NL) {
      throw new Error(`${c.dev}: ${d.labels.length} classes (${d.labels.join(', ')}), the model has ${NL} labels`);
    }
    name = c.name ?? 'custom';
    metrics = regression ? ['pearson', 'spearman'] : NL === 2 ? ['accuracy', 'f1'] : ['accuracy'];
    splits = [{ name: 'dev', path: c.dev, examples: d.examples }];
  } else {
    if (!o.task) throw new Error('evaluateTask: a GLUE task name or a custom dev file is required');
    const spec = glueTask(o.task);
    if (spec.num_labels !== NL) {
      throw new Error(`${spec.name} has ${spec.num_labels === 1 ? 'a regression target (1 label)' : `${spec.num_labels} labels`}, ` +
        `the model ${NL}: it was not fine-tuned on ${spec.name}`);
    }
    if (mine && mine.join('\u0000') !== spec.labels.join('\u0000') && [...mine].sort().join('\u0000') === [...spec.labels].sort().join('\u0000')) {
      throw new Error(`the model's id2label orders the labels ${mine.join(', ')}; ${spec.name}'s order is ${spec.labels.join(', ')}`);
    }
    const files = taskFiles(spec.name, o.dataDir ?? '../shared/data/glue').eval;
    const missing = Object.values(files).filter((p) => !existsSync(p));
    if (missing.length) throw new Error(`${spec.name}: missing ${missing.join(', ')}`);
    const ro = { skipMalformed: spec.name === 'qqp', warn: o.warn };
    name = spec.name;
    metrics = spec.metrics;
    splits = Object.entries(files).map(([s, p]) => ({ name: s, path: p, examples: readGlueSplit(spec.name, p, ro) }));
  }
  const out: TaskEvalResult = { task: name, metrics: {}, score: NaN, examples: {}, files: {} };
  for (const s of splits) {
    const ex = o.maxExamples === undefined ? s.examples : s.examples.slice(0, o.maxExamples);
    if (!ex.length) throw new Error(`${s.path}: no examples`);
    const enc = await encodeExamples(tok, ex, o.maxSeqLen ?? GLUE_MAX_SEQ_LEN);
    out.metrics[s.name] = evaluate(model, enc, ex.map((e) => e.label), metrics, o.batchSize ?? 32,
      o.onProgress && ((done) => o.onProgress!(s.name, done, ex.length)));
    out.examples[s.name] = ex.length;
    out.files[s.name] = s.path;
  }
  out.score = mean(Object.values(out.metrics).flatMap((m) => Object.values(m)));
  return out;
}
