/**
 * Fine-tuning a MosaicBERT sequence classifier with the reference GLUE protocol (the reference's `glue.py` and `yamls/finetuning/glue/mosaic-bert-base-uncased.yaml`):
 * DecoupledAdamW (betas 0.9/0.98, eps 1e-6) with the task's lr and weight decay, `linear_decay_with_warmup`
 * (warmup 0.06 of the duration, then linearly to 0), the train set in file order (no shuffling unless asked),
 * max_seq_len 256 (each batch padded to its longest example; the model runs unpadded anyway), classifier dropout
 * 0.1 and attention dropout 0, evaluation on the dev split(s) every `eval_interval` batches and at the end.
 * RTE, MRPC and STS-B start from an MNLI fine-tuned checkpoint when one is given or found (classifier
 * re-initialised, pooler kept); the other tasks start from the pretrained model (classifier and, for an MLM
 * checkpoint, the pooler randomly initialised).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Kernels } from '../kernels/types.js';
import { SequenceClassificationModel } from '../model/classification.js';
import { readSafetensors, type Tensor } from '../io/safetensors.js';
import { modelFromStateDict, readPretrainedWeights, savePretrained, WEIGHT_FILES } from '../interop/pretrained.js';
import { writeFileAtomic } from '../data/atomic.js';
import { findResumeCheckpoint, loadCheckpoint, pruneCheckpoints, readCheckpointMasks, readCheckpointState, removeIncompleteCheckpoints, saveCheckpoint, type TrainerState } from '../train/checkpoint.js';
import { loadRecipe, type Recipe } from '../pruning/recipe.js';
import { GradualPruner, type GradualPruningEvent } from '../pruning/gradual.js';
import { recipePeakLr } from '../pruning/lr_functions.js';
import { collectMasks, restoreMasks } from '../pruning/masks.js';
import type { LabelledBatch } from '../train/step.js';
import type { DistillationSettings } from '../train/distillation.js';
import { loadTeacher } from '../train/teacher.js';
import { repairRunLog } from '../train/run_log.js';
import { loadConfig } from '../train/config.js';
import { EventLog } from '../train/event_log.js';
import { checkResume, resumeFingerprint } from '../train/resume.js';
import { linearDecayWithWarmup } from '../train/schedule.js';
import { TrainingStep } from '../train/step.js';
import type { Collectives } from '../distributed/collectives.js';
import { createAdamW, type ZeroStage } from '../distributed/zero.js';
import { SeededPermutation } from '../data/permutation.js';
import { BertTokenizer } from '../tokenizer/index.js';
import { loadTokenizer } from '../pipelines/common.js';
import type { PaddedBatch } from '../model/batch.js';
import { computeMetrics, mean, predictionsFromLogits } from './metrics.js';
import { glueTask, loadGlueTask, type GlueExample, type GlueSplit, type GlueTaskSpec, type MetricName,
  type TaskHyperparameters } from './tasks.js';
import { readLabelledFile, type TableFormat } from './generic.js';

/** Maximum tokens per example (the reference's `max_sequence_length`). */
export const GLUE_MAX_SEQ_LEN = 256;

/** A custom (non-GLUE) task from CSV/TSV/JSONL files. */
export interface CustomTaskOptions {
  name?: string;
  train: string;
  dev: string;
  textColumn: string;
  textPairColumn?: string;
  labelColumn: string;
  regression?: boolean;
  format?: TableFormat;
}

/** Options of {@link finetune}. */
export interface FinetuneOptions {
  /** GLUE task name (any spelling: 'SST-2', 'sst2'); ignored when `custom` is set. */
  task?: string;
  custom?: CustomTaskOptions;
  /**
   * Starting model: an HF folder (ours from savePretrained / pretraining `<run>/model`, or a downloaded one), a
   * pretraining run folder (its `model/`), a training checkpoint `ba<step>/` (or a folder of them: the newest), or
   * `preset:<name>` (random init with that preset's shape, e.g. preset:mosaic-bert-mini).
   */
  model: string;
  /** GLUE data folder (default ../shared/data/glue). */
  dataDir?: string;
  /** Default: the task's first reference seed. */
  seed?: number;
  shuffle?: boolean;
  /** Stop after this many steps (the schedule then spans these steps): smoke runs. */
  maxSteps?: number;
  /** Use only the first N train / eval examples (smoke runs). */
  maxTrainExamples?: number;
  maxEvalExamples?: number;
  /** Run folder: `model/` and `metrics.json` are written there. */
  outDir: string;
  /** Where MNLI runs live (`<root>/mnli/<run>/model`), searched for round-2 tasks. Default: outDir's grandparent. */
  outputRoot?: string;
  /** MNLI fine-tuned model to start RTE/MRPC/STS-B from; null: never (start from `model`). */
  mnliCheckpoint?: string | null;
  /** Ignore the weights of `model` (use only its config): the random-init baseline. */
  randomInit?: boolean;
  /** Override the task's hyperparameters. */
  hparams?: Partial<Omit<TaskHyperparameters, 'seeds'>>;
  maxSeqLen?: number;
  evalBatchSize?: number;
  /** Write the fine-tuned model (default true). */
  save?: boolean;
  /**
   * Continue from the newest complete checkpoint in `<outDir>/checkpoints` (true; an error if there is none) or
   * from the given checkpoint folder. The continuation is bit-identical to an uninterrupted run.
   */
  resume?: boolean | string;
  /** Resume even when the seed, batch size or data order differ from the checkpoint's (default false: refused). */
  allowResumeMismatch?: boolean;
  /** Save a checkpoint every N steps (default: the eval interval; 0: never). The last `keepCheckpoints` are kept. */
  saveInterval?: number;
  /** Checkpoints kept during the run (default 1). */
  keepCheckpoints?: number;
  /**
   * Keep the checkpoints after the run has finished and saved its model (default false: they are removed, since a
   * GLUE suite would otherwise keep weights + AdamW moments of every task and seed).
   */
  keepCheckpointsAtEnd?: boolean;
  /** Rows per microbatch (default: the whole batch). The gradient is the same sample-weighted mean. */
  microbatchSize?: number;
  /** Clip the global gradient norm (default: no clipping, as the reference). */
  gradClipNorm?: number | null;
  /** Write `<outDir>/log.jsonl` (default true). */
  log?: boolean;
  /** Initialise missing encoder/embedding weights randomly instead of refusing the checkpoint (default false). */
  allowMissingWeights?: boolean;
  kernels?: Kernels;
  onEvent?: (e: FinetuneEvent) => void;
  /**
   * Data-parallel ranks (src/distributed/): each rank runs its shard of every batch's microbatches; rank 0 alone
   * logs, evaluates, checkpoints and saves; weights are broadcast from rank 0 after loading.
   */
  collectives?: Collectives | null;
  /** One process summing the gradient in this many shards, as that many ranks would (TrainingStep; default 1). */
  gradientShards?: number;
  /** 1: ZeRO-1, each rank keeps the AdamW moments of its shard only (src/distributed/zero.ts); default 0. */
  zeroStage?: ZeroStage;
  /** Warnings (default console.warn). */
  warn?: (message: string) => void;
  /**
   * A SparseML recipe (a file path, or parsed by `loadRecipe`): gradual pruning (`!OBSPruningModifier`,
   * `!GMPruningModifier`), fixed masks (`!ConstantPruningModifier`), the learning rate (`!LearningRateFunctionModifier`,
   * replacing the task's schedule where it applies), the epochs (`!EpochRangeModifier`, replacing the task's) and the
   * distillation settings (`!DistillationModifier`, used with `teacher`). See src/pruning/gradual.ts.
   */
  recipe?: string | Recipe;
  /** Distillation teacher: a classifier folder `fromPretrained` reads, with the task's num_labels. */
  teacher?: string;
  /** KD settings (default: the recipe's DistillationModifier, else hardness 1 and temperature 2, the paper's downstream values). */
  distillation?: Partial<DistillationSettings>;
}

/** Progress events of {@link finetune}. */
export type FinetuneEvent =
  | { type: 'start'; task: string; total_steps: number; steps_per_epoch: number; train_examples: number; init: string; params: number }
  | { type: 'step'; step: number; total: number; loss: number; lr: number; grad_norm: number; examples_per_s: number }
  | { type: 'eval'; step: number; metrics: Record<string, Record<string, number>>; score: number; seconds: number }
  | { type: 'prune'; step: number; epoch: number; method: 'obert' | 'gmp'; target: number; achieved: number; seconds: number }
  | { type: 'prune_progress'; step: number; done: number; total: number };

/** One evaluation in the metrics JSON. */
export interface EvalRecord {
  step: number;
  epoch: number;
  /** Split name -> metric name -> value. */
  metrics: Record<string, Record<string, number>>;
  /** Mean over every metric value of every split. */
  score: number;
  seconds: number;
  /** Sparsity of the pruned weights at this evaluation (gradual pruning runs). */
  sparsity?: number;
}

/** The metrics JSON written to `<outDir>/metrics.json`. */
export interface FinetuneResult {
  task: string;
  seed: number;
  model: string;
  /** 'pretrained', 'mnli' (round 2) or 'random'. */
  init: 'pretrained' | 'mnli' | 'random';
  init_from: string;
  hyperparameters: TaskHyperparameters & { max_seq_len: number; shuffle: boolean; warmup_steps: number;
    betas: [number, number]; eps: number; classifier_dropout: number; attention_probs_dropout_prob: number };
  metric_names: MetricName[];
  train_examples: number;
  eval_examples: Record<string, number>;
  steps_per_epoch: number;
  total_steps: number;
  evals: EvalRecord[];
  /** The last evaluation (the reference scores the last one, not the best). */
  final: EvalRecord;
  wall_time_s: number;
  train_time_s: number;
  model_dir: string | null;
  /** Gradual pruning: the recipe, every pruning step run (this call's) and the final sparsity of the pruned weights. */
  pruning?: { recipe: string; events: Array<Omit<GradualPruningEvent, 'report'> & { seconds: number }>; final_sparsity: number };
  /** Knowledge distillation: the teacher and the KD settings. */
  distillation?: { teacher: string; hardness: number; temperature: number };
}

interface Encoded { ids: Int32Array; types: Int32Array }

/** Tokenizes examples (truncation longest_first to `maxLen`), a few hundred at a time. */
export async function encodeExamples(tok: BertTokenizer, examples: GlueExample[], maxLen: number): Promise<Encoded[]> {
  const out: Encoded[] = new Array(examples.length);
  const CH = 512;
  for (let i = 0; i < examples.length; i += CH) {
    const part = examples.slice(i, i + CH);
    const enc = part.some((e) => e.text_pair !== undefined)
      ? await Promise.all(part.map((e) => tok.encode(e.text, e.text_pair, { max_length: maxLen })))
      : await tok.encodeBatch(part.map((e) => e.text), { max_length: maxLen });
    enc.forEach((e, j) => { out[i + j] = { ids: Int32Array.from(e.input_ids), types: Int32Array.from(e.token_type_ids) }; });
  }
  return out;
}

/** A right-padded batch of examples `idx` (padded to the longest). */
export function collate(enc: Encoded[], idx: number[]): PaddedBatch {
  const B = idx.length;
  let S = 1;
  for (const i of idx) S = Math.max(S, enc[i].ids.length);
  const input_ids = new Int32Array(B * S), attention_mask = new Int32Array(B * S), token_type_ids = new Int32Array(B * S);
  idx.forEach((i, b) => {
    const e = enc[i];
    input_ids.set(e.ids, b * S);
    token_type_ids.set(e.types, b * S);
    attention_mask.fill(1, b * S, b * S + e.ids.length);
  });
  return { batch: B, seqlen: S, input_ids, attention_mask, token_type_ids };
}

/** Where a model source's weights and config are. */
interface ResolvedSource { dir: string; kind: 'hf' | 'checkpoint' | 'preset'; preset?: string }

function resolveSource(src: string): ResolvedSource {
  if (src.startsWith('preset:')) return { dir: src, kind: 'preset', preset: src.slice(7) };
  const d = resolve(src);
  // A pretraining run folder also has a config.json (the run's), but its weights are under model/.
  const hasWeights = (x: string) => WEIGHT_FILES.some((f) => existsSync(join(x, f)));
  if (existsSync(join(d, 'config.json')) && hasWeights(d)) return { dir: d, kind: 'hf' };
  if (existsSync(join(d, 'state.json')) && existsSync(join(d, 'model.safetensors'))) return { dir: d, kind: 'checkpoint' };
  if (existsSync(join(d, 'model', 'config.json'))) return { dir: join(d, 'model'), kind: 'hf' };
  if (existsSync(join(d, 'config.json'))) return { dir: d, kind: 'hf' };  // weights missing: readPretrainedWeights says so
  for (const sub of ['.', 'checkpoints']) {
    const ck = findResumeCheckpoint(join(d, sub)).dir;
    if (ck) return { dir: ck, kind: 'checkpoint' };
  }
  throw new Error(`${src}: not a model (expected config.json + weights, a pretraining run with model/, a checkpoint ` +
    'ba<step>/ with state.json, or preset:<name>)');
}

/** Options of {@link loadClassifier}. */
export interface LoadClassifierOptions {
  numLabels: number;
  /** Class names in id order (written to config.json's id2label). */
  labels?: string[];
  /** Seed of the classifier (and any other missing parameter) initialisation. */
  seed: number;
  /** Keep only the config; initialise every weight randomly. */
  randomInit?: boolean;
  /** Initialise missing encoder/embedding weights randomly instead of refusing the checkpoint. */
  allowMissingWeights?: boolean;
  kernels?: Kernels;
}

/**
 * Builds a classification model for fine-tuning from a model source (see {@link FinetuneOptions.model}): the same
 * construction as `fromPretrained` ({@link modelFromStateDict}: MosaicBERT or classic BERT, the reference
 * initialisation of whatever the source lacks) with the fine-tuning head settings: `classifier.*` is always dropped
 * and re-initialised (the reference's `load_ignore_keys`), attention dropout is 0 and classifier dropout 0.1.
 * @returns the model, the folder it came from, and the parameters that were initialised randomly.
 */
export function loadClassifier(source: string, o: LoadClassifierOptions):
  { model: SequenceClassificationModel; dir: string; initialised: string[]; ignored: string[] } {
  const r = resolveSource(source);
  let raw: Record<string, unknown>;
  let sd = new Map<string, Tensor>();
  if (r.kind === 'preset') {
    raw = { ...loadConfig({ preset: r.preset }).config.model };
  } else if (r.kind === 'checkpoint') {
    const meta = readCheckpointState(r.dir) as { config?: { model?: Record<string, unknown> } };
    if (!meta.config?.model) throw new Error(`${r.dir}/state.json: no config.model`);
    raw = { ...meta.config.model };
    if (!o.randomInit) sd = readSafetensors(join(r.dir, 'model.safetensors')).tensors;
  } else {
    raw = JSON.parse(readFileSync(join(r.dir, 'config.json'), 'utf8'));
    if (!o.randomInit) sd = readPretrainedWeights(r.dir).tensors;
  }
  const ignored = [...sd.keys()].filter((k) => /^(model\.)?classifier\./.test(k));
  for (const k of ignored) sd.delete(k);
  const labels = o.labels && o.labels.length === o.numLabels ? o.labels : undefined;
  const over: Record<string, unknown> = {
    ...raw, num_labels: o.numLabels, attention_probs_dropout_prob: 0, classifier_dropout: 0.1,
    id2label: labels ? Object.fromEntries(labels.map((l, i) => [String(i), l])) : undefined,
    label2id: labels ? Object.fromEntries(labels.map((l, i) => [l, i])) : undefined,
    problem_type: o.numLabels === 1 ? 'regression' : 'single_label_classification',
  };
  delete over.architectures;
  if (!labels) { delete over.id2label; delete over.label2id; }
  // A random-init baseline or a preset has no weights at all; otherwise a missing encoder weight is an error.
  const allowMissingWeights = !!o.randomInit || r.kind === 'preset' || !!o.allowMissingWeights;
  const { model, info } = modelFromStateDict(over, sd, { head: 'classification', initSeed: o.seed, kernels: o.kernels, allowMissingWeights,
    source: r.dir, configSource: r.kind === 'hf' ? join(r.dir, 'config.json') : r.dir, warn: () => {} });
  return { model: model as SequenceClassificationModel, dir: r.dir, initialised: info.missing,
    ignored: [...ignored, ...info.unexpected] };
}

/** The MNLI model under `root` (`<root>/mnli/<run>/model`), seed 19's first; undefined when none. */
export function findMnliCheckpoint(root: string): string | undefined {
  const base = join(root, 'mnli');
  if (!existsSync(base)) return undefined;
  const runs = readdirSync(base, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)
    .sort((a, b) => (b === 'seed19' ? 1 : 0) - (a === 'seed19' ? 1 : 0) || a.localeCompare(b));
  for (const r of runs) if (existsSync(join(base, r, 'model', 'config.json'))) return join(base, r, 'model');
  return undefined;
}

/**
 * Runs the model over a split and computes the task's metrics; `onBatch(done)` after each batch (examples done so far).
 */
export function evaluate(model: SequenceClassificationModel, enc: Encoded[], labels: number[],
  metrics: MetricName[], batchSize: number, onBatch?: (done: number) => void): Record<string, number> {
  const NL = model.config.num_labels;
  const preds = new Float64Array(enc.length);
  for (let i = 0; i < enc.length; i += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, enc.length - i) }, (_, j) => i + j);
    const out = model.forward(collate(enc, idx), { training: false });
    preds.set(predictionsFromLogits(out.logits, idx.length, NL), i);
    onBatch?.(i + idx.length);
  }
  return computeMetrics(metrics, preds, labels);
}

/**
 * Fine-tunes one task with one seed and writes `<outDir>/metrics.json` (and `<outDir>/model/` unless
 * `save: false`).
 * @returns the metrics JSON contents.
 */
export async function finetune(o: FinetuneOptions): Promise<FinetuneResult> {
  const t0 = performance.now();
  const warn = o.warn ?? ((m: string) => console.warn(`mosaicbert: ${m}`));
  const maxLen = o.maxSeqLen ?? GLUE_MAX_SEQ_LEN;

  // Task and data.
  let spec: GlueTaskSpec, train: GlueSplit, evals: GlueSplit[];
  if (o.custom) {
    const c = o.custom;
    const rd = (p: string, labels?: string[]) => readLabelledFile(p, { textColumn: c.textColumn, textPairColumn: c.textPairColumn,
      labelColumn: c.labelColumn, regression: c.regression, format: c.format, labels });
    const tr = rd(c.train);
    const dv = rd(c.dev, c.regression ? undefined : tr.labels);
    const base = glueTask('sst2');
    spec = { ...base, name: c.name ?? 'custom', dir: '', labels: tr.labels, num_labels: c.regression ? 1 : tr.labels.length,
      metrics: c.regression ? ['pearson', 'spearman'] : tr.labels.length === 2 ? ['accuracy', 'f1'] : ['accuracy'],
      seeds: [19], from_mnli: false, in_average: false };
    train = { name: 'train', path: c.train, examples: tr.examples };
    evals = [{ name: 'dev', path: c.dev, examples: dv.examples }];
  } else {
    if (!o.task) throw new Error('finetune: a task name or a custom dataset is required');
    const d = loadGlueTask(o.task, o.dataDir ?? '../shared/data/glue', { warn });
    spec = d.spec; train = d.train; evals = d.eval;
  }
  if (o.maxTrainExamples !== undefined) train = { ...train, examples: train.examples.slice(0, o.maxTrainExamples) };
  if (o.maxEvalExamples !== undefined) evals = evals.map((e) => ({ ...e, examples: e.examples.slice(0, o.maxEvalExamples) }));
  if (!train.examples.length) throw new Error(`${train.path}: no training examples`);
  const hp: TaskHyperparameters = { lr: spec.lr, weight_decay: spec.weight_decay, epochs: spec.epochs,
    batch_size: spec.batch_size, eval_interval: spec.eval_interval, seeds: spec.seeds, ...(o.hparams ?? {}) };
  const seed = o.seed ?? hp.seeds[0];
  const recipe = typeof o.recipe === 'string' ? loadRecipe(o.recipe) : o.recipe ?? null;
  for (const w of recipe?.warnings ?? []) warn(w);

  // Starting point. Round-2 tasks start from an MNLI run of the same kind (random-init runs from a random-init MNLI).
  const randomLike = !!o.randomInit || o.model.startsWith('preset:');
  let source = o.model, init: FinetuneResult['init'] = randomLike ? 'random' : 'pretrained', loadRandom = !!o.randomInit;
  if (spec.from_mnli && o.mnliCheckpoint !== null) {
    const root = o.outputRoot ?? resolve(o.outDir, '..', '..');
    let m = o.mnliCheckpoint ?? findMnliCheckpoint(root);
    if (m && o.mnliCheckpoint === undefined) {
      const mj = join(m, '..', 'metrics.json');
      const mInit = existsSync(mj) ? (JSON.parse(readFileSync(mj, 'utf8')) as { init?: string }).init : undefined;
      if (mInit !== undefined && (mInit === 'random') !== randomLike) {
        warn(`${m}: an MNLI run from ${mInit === 'random' ? 'random init' : 'a pretrained model'} does not match this run; not used`);
        m = undefined;
      }
    }
    if (m) { source = m; init = 'mnli'; loadRandom = false; } else {
      warn(`${spec.name}: no MNLI checkpoint (--mnli-checkpoint, or ${join(root, 'mnli', '<run>', 'model')}); ` +
        `starting from ${o.model} (the reference starts round-2 tasks from MNLI)`);
    }
  }
  const { model, dir: initDir, initialised } = loadClassifier(source, { numLabels: spec.num_labels,
    labels: spec.num_labels > 1 ? spec.labels : undefined, seed, randomInit: loadRandom, kernels: o.kernels,
    allowMissingWeights: o.allowMissingWeights });
  if (init !== 'random' && initialised.some((n) => !/^(classifier|bert\.pooler)\./.test(n))) {
    warn(`${initDir}: randomly initialised (not in the checkpoint): ${initialised.join(', ')}`);
  }

  // Tokenize.
  const tok = await loadTokenizer(existsSync(join(initDir, 'vocab.txt')) ? initDir : undefined);
  if (tok.vocab_size > model.config.vocab_size) {
    throw new Error(`model vocab_size ${model.config.vocab_size} < tokenizer vocabulary ${tok.vocab_size}`);
  }
  const trEnc = await encodeExamples(tok, train.examples, maxLen);
  const evEnc = await Promise.all(evals.map((e) => encodeExamples(tok, e.examples, maxLen)));
  const isReg = spec.num_labels === 1;
  const trLabels = train.examples.map((e) => e.label);

  // Schedule.
  const N = trEnc.length, BS = hp.batch_size;
  const stepsPerEpoch = Math.ceil(N / BS);
  // The recipe's EpochRangeModifier sets the length (its end in epochs, or in steps for a recipe in 'ba').
  if (recipe?.epochRange) hp.epochs = recipe.epochRange.endEpoch / (recipe.timeUnit === 'ba' ? stepsPerEpoch : 1);
  let total = Math.max(1, Math.round(stepsPerEpoch * hp.epochs));
  if (o.maxSteps !== undefined) total = Math.min(total, o.maxSteps);
  const warmup = Math.floor(0.06 * total);
  // With recipe learning rates, the optimizer's reference lr (weight decay factor lr_t / lr) is their peak.
  const peakLr = (recipe && recipePeakLr(recipe.learningRates)) ?? hp.lr;
  const opt = createAdamW(model.params, { lr: peakLr, betas: [0.9, 0.98], eps: 1e-6, weight_decay: hp.weight_decay }, model.k,
    { zeroStage: o.zeroStage, collectives: o.collectives });
  // Distillation: the teacher runs each microbatch in evaluation mode (train/step.ts).
  let distillation: FinetuneResult['distillation'];
  const teacher = o.teacher ? loadTeacher(o.teacher, 'classification', spec.num_labels, o.kernels) : null;
  if (teacher) {
    distillation = { teacher: teacher.description, hardness: o.distillation?.hardness ?? recipe?.distillation?.hardness ?? 1,
      temperature: o.distillation?.temperature ?? recipe?.distillation?.temperature ?? 2 };
  } else if (recipe?.distillation) {
    warn(`${recipe.file}: the DistillationModifier needs a teacher (--teacher); training without distillation`);
  }
  // Default microbatch: the whole batch, or its share per rank.
  const shards = o.collectives?.size ?? o.gradientShards ?? 1;
  const mbSize = o.microbatchSize ?? Math.ceil(BS / shards);
  const stepper = new TrainingStep(model, opt, { microbatchSize: mbSize, gradClipNorm: o.gradClipNorm ?? null,
    seed, labels: 'sequence', collectives: o.collectives, gradientShards: o.gradientShards,
    distillation: teacher && distillation ? { teacher: teacher.model, hardness: distillation.hardness, temperature: distillation.temperature } : null });
  // Gradual pruning: the Fisher's batches are a seeded shuffle of the train set per pruning step (every rank draws the
  // same ones and computes the same masks).
  const labelsOf = (idx: number[]) => (isReg ? Float32Array.from(idx.map((i) => trLabels[i])) : Int32Array.from(idx.map((i) => trLabels[i])));
  const pruner = recipe && (recipe.pruning.length || recipe.constantPruning.length) ? new GradualPruner(model, {
    recipe, stepsPerEpoch, totalSteps: total,
    gradBatches: (bs, count, at) => function* (): Generator<LabelledBatch> {
      if (bs > N) throw new Error(`grad_sampler_kwargs.batch_size ${bs} is larger than the ${N} training examples`);
      for (let round = 0, made = 0; made < count; round++) {
        const perm = new SeededPermutation(N, seed ^ 0x6f627274, at.step * 1000 + round);
        for (let i = 0; i + bs <= N && made < count; i += bs, made++) {
          const idx = Array.from({ length: bs }, (_, j) => perm.at(i + j));
          yield { ...collate(trEnc, idx), labels: labelsOf(idx) };
        }
      }
    },
    onProgress: (p, at) => emit({ type: 'prune_progress', step: at.step, done: p.done, total: p.total }),
  }) : null;
  for (const w of pruner?.warnings ?? []) warn(w);
  const pruneEvents: NonNullable<FinetuneResult['pruning']>['events'] = [];
  const microbatches = stepper.microbatches(BS);
  const coll = o.collectives ?? null, isRoot = !coll || coll.rank === 0;
  mkdirSync(o.outDir, { recursive: true });
  const log = new EventLog((o.log ?? true) && isRoot ? join(o.outDir, 'log.jsonl') : null);
  const ckDir = join(o.outDir, 'checkpoints');
  const saveEvery = o.saveInterval ?? hp.eval_interval;
  const fingerprint = resumeFingerprint({ microbatch_size: mbSize, global_batch_size: BS,
    shuffle: !!o.shuffle, num_samples: N, gradient_shards: stepper.shards });
  const emit = isRoot ? o.onEvent ?? (() => {}) : () => {};
  const evalBS = o.evalBatchSize ?? Math.max(BS, 32);
  let records: EvalRecord[] = [];
  let trainSeconds = 0, startStep = 0, lastCheckpoint: string | null = null, resumedFrom: string | null = null;

  // Resume: weights, AdamW moments and step from the checkpoint; the batch order and dropout masks are functions of
  // the step, so the continuation is exact.
  if (o.resume) {
    let from: string | null = typeof o.resume === 'string' ? o.resume : null;
    if (!from) {
      removeIncompleteCheckpoints(ckDir);
      const f = findResumeCheckpoint(ckDir);
      for (const sk of f.skipped) warn(`skipping checkpoint ${sk.dir}: ${sk.problem}`);
      if (!f.dir) throw new Error(`--resume: no intact checkpoint in ${ckDir}`);
      from = f.dir;
    }
    const repaired = repairRunLog(join(o.outDir, 'log.jsonl'));
    if (repaired.message) warn(repaired.message);
    const ck = loadCheckpoint(from, model.params, opt);
    const masks = readCheckpointMasks(from);
    if (masks) restoreMasks(model.linears(), masks, join(from, 'masks.safetensors'));
    for (const d of checkResume(from, ck.state.rng, { seed, ...fingerprint }, !!o.allowResumeMismatch)) warn(`resuming with a different ${d}`);
    const saved = ck.config as { evals?: EvalRecord[]; train_time_s?: number };
    records = saved.evals ?? [];
    trainSeconds = saved.train_time_s ?? 0;
    startStep = ck.state.step;
    lastCheckpoint = resumedFrom = from;
  }
  coll?.broadcast(model.params.data, 0);
  const start = { type: 'start' as const, task: spec.name, total_steps: total, steps_per_epoch: stepsPerEpoch, train_examples: N,
    init: `${init} (${initDir})`, params: model.numParameters() };
  emit(start);
  log.write({ ...start, kind: 'finetune', time: new Date().toISOString(), run_name: `${spec.name}-seed${seed}`,
    total: { value: total, unit: 'ba' }, resumed_from: resumedFrom, global_batch: BS, microbatch: mbSize, step: startStep });

  const runEval = (step: number) => {
    if (!isRoot) return;
    const e0 = performance.now();
    const metrics: Record<string, Record<string, number>> = {};
    evals.forEach((sp, i) => {
      metrics[sp.name] = evaluate(model, evEnc[i], sp.examples.map((x) => x.label), spec.metrics, evalBS);
    });
    const score = mean(Object.values(metrics).flatMap((m) => Object.values(m)));
    const rec: EvalRecord = { step, epoch: step / stepsPerEpoch, metrics, score, seconds: (performance.now() - e0) / 1000,
      ...(pruner ? { sparsity: pruner.sparsity() } : {}) };
    records.push(rec);
    emit({ type: 'eval', step, metrics, score, seconds: rec.seconds });
    log.write({ type: 'eval', step, score, metrics, seconds: rec.seconds, ...(pruner ? { sparsity: rec.sparsity } : {}) });
  };
  const state = (step: number): TrainerState => ({ step, samples: Math.min(step * BS, N * hp.epochs), tokens: 0,
    optimizer_t: opt.t, rng: { seed, dropout_counter_base: step * microbatches, ...fingerprint },
    loader: { epoch: Math.floor(step / stepsPerEpoch), position: (step % stepsPerEpoch) * BS },
    total: { value: total, unit: 'ba' }, elapsed_s: trainSeconds });
  const save = (step: number) => {
    opt.gatherForCheckpoint(); // ZeRO-1: every rank sends its moment shards to rank 0
    if (!isRoot) { lastCheckpoint = join(ckDir, `ba${step}`); return; }
    const c0 = performance.now();
    lastCheckpoint = saveCheckpoint(ckDir, model.params, opt, state(step), { task: spec.name, seed, model: o.model,
      evals: records, train_time_s: trainSeconds }, { masks: collectMasks(model.linears()) });
    const removed = pruneCheckpoints(ckDir, o.keepCheckpoints ?? 1);
    log.write({ type: 'checkpoint', step, dir: lastCheckpoint, seconds: (performance.now() - c0) / 1000, removed });
  };

  let order: number[] = [];
  for (let step = startStep; step < total; step++) {
    const epoch = Math.floor(step / stepsPerEpoch), inEpoch = step % stepsPerEpoch;
    if (inEpoch === 0 || step === startStep) {
      const perm = o.shuffle ? new SeededPermutation(N, seed, epoch) : undefined;
      order = Array.from({ length: N }, (_, i) => (perm ? perm.at(i) : i));
    }
    const idx = order.slice(inEpoch * BS, Math.min(N, (inEpoch + 1) * BS));
    for (const ev of pruner?.beforeStep(step) ?? []) {
      const rec = { step: ev.step, epoch: ev.epoch, modifier: ev.modifier, sparsity: ev.sparsity, method: ev.method,
        achieved: ev.achieved, seconds: ev.report.seconds };
      pruneEvents.push(rec);
      emit({ type: 'prune', step, epoch: ev.epoch, method: ev.method, target: ev.sparsity, achieved: ev.achieved, seconds: ev.report.seconds });
      log.write({ type: 'prune', ...rec, gradient_passes: ev.report.gradientPasses, layers: ev.report.layers.length,
        fisher_bytes: ev.report.peakFisherBytes, peak_rss_bytes: process.resourceUsage().maxRSS * 1024 });
    }
    const s0 = performance.now();
    const batch = collate(trEnc, idx);
    const labels = labelsOf(idx);
    const lr = pruner?.learningRate(step) ?? hp.lr * linearDecayWithWarmup(step, warmup, total, 0);
    const r = stepper.run({ ...batch, labels }, lr, step + 1, step * microbatches, lastCheckpoint,
      (loss, g) => log.write({ type: 'diverged', step: step + 1, loss, grad_norm: g, last_checkpoint: lastCheckpoint }));
    const dt = (performance.now() - s0) / 1000;
    trainSeconds += dt;
    const tokens = batch.attention_mask!.reduce((a, b) => a + b, 0);
    emit({ type: 'step', step: step + 1, total, loss: r.loss, lr, grad_norm: r.gradNorm, examples_per_s: idx.length / dt });
    log.write({ type: 'step', step: step + 1, samples: Math.min((step + 1) * BS, N * hp.epochs), loss: r.loss, lr,
      grad_norm: r.gradNorm, step_s: dt, tokens_per_s: tokens / dt, examples_per_s: idx.length / dt, elapsed_s: trainSeconds,
      total, progress: (step + 1) / total, ...(r.distillLoss !== undefined ? { task_loss: r.taskLoss, distill_loss: r.distillLoss } : {}),
      ...(pruner ? { sparsity: pruner.sparsity() } : {}) });
    if ((step + 1) % hp.eval_interval === 0 || step + 1 === total) runEval(step + 1);
    if (saveEvery > 0 && ((step + 1) % saveEvery === 0 || step + 1 === total)) save(step + 1);
  }

  // Save.
  let modelDir: string | null = null;
  if (o.save !== false) {
    modelDir = join(o.outDir, 'model');
    if (isRoot) savePretrained(model, modelDir);
  }
  const result: FinetuneResult = {
    task: spec.name, seed, model: o.model, init, init_from: initDir,
    hyperparameters: { ...hp, seeds: hp.seeds, max_seq_len: maxLen, shuffle: !!o.shuffle, warmup_steps: warmup,
      betas: [0.9, 0.98], eps: 1e-6, classifier_dropout: 0.1, attention_probs_dropout_prob: 0 },
    metric_names: spec.metrics, train_examples: N,
    eval_examples: Object.fromEntries(evals.map((e) => [e.name, e.examples.length])),
    steps_per_epoch: stepsPerEpoch, total_steps: total, evals: records, final: records[records.length - 1],
    wall_time_s: (performance.now() - t0) / 1000, train_time_s: trainSeconds, model_dir: modelDir,
    ...(pruner ? { pruning: { recipe: recipe!.file, events: pruneEvents, final_sparsity: pruner.sparsity() } } : {}),
    ...(distillation ? { distillation } : {}),
  };
  if (isRoot) writeFileAtomic(join(o.outDir, 'metrics.json'), JSON.stringify(result, null, 2) + '\n');
  if (!o.keepCheckpointsAtEnd && isRoot) rmSync(ckDir, { recursive: true, force: true });
  coll?.barrier();
  log.write({ type: 'end', step: total, elapsed_s: trainSeconds, score: result.final?.score, model_dir: modelDir });
  return result;
}
