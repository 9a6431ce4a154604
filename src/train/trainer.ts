/**
 * The MosaicBERT pretraining loop, as Composer runs the reference's `yamls/main/mosaic-bert-base-uncased.yaml`:
 *
 * - each optimizer step takes one global batch of `global_train_batch_size` samples from the train loader and
 *   splits it into microbatches of `device_train_microbatch_size` rows; each microbatch's loss (the mean CE over
 *   its masked tokens) is scaled by its sample fraction `rows_m / rows` before backward, so the gradients are
 *   accumulated for the sample-weighted mean of per-microbatch token means (Composer's weighting), and the reported
 *   loss is that same weighted sum;
 * - DecoupledAdamW with the `linear_decay_with_warmup` factor evaluated at the time elapsed before the step (batches,
 *   or tokens when max_duration is in tok); optional global-norm gradient clipping (off by default, as in the
 *   reference);
 * - evaluation every `eval_interval` on the validation split in order with fixed 15% masks (MLM loss = token-weighted
 *   mean CE, masked-token accuracy = argmax hits / targets);
 * - checkpoints every `save_interval` and at the end (see checkpoint.ts), the last N kept; resume is bit-identical:
 *   dropout masks are Philox streams keyed by (seed, step * microbatches + microbatch) and MLM masks by (seed,
 *   loader batch counter), so weights + moments + counters + loader position are the whole state;
 * - a NaN/Inf loss or gradient norm stops the run before the optimizer step, naming the step; earlier checkpoints
 *   are kept.
 *
 * A wall-clock `max_duration` (`10min`) is converted once into batches by timing a few forward/backward passes
 * (`0.9 * budget / seconds per step`); the result is saved in checkpoints so a resumed run keeps the same schedule.
 *
 * Gradual pruning and distillation (`recipe`, `teacher`; oBERT's upstream setting, src/pruning/gradual.ts): the recipe's
 * epochs are epochs of the train split in optimizer steps; pruning steps run before the step they fall on, with the
 * Fisher's gradients from a seeded loader of their own over the train split (the run's masking rate, evaluation mode);
 * masks are saved in checkpoints and restored on resume; the teacher (an MLM folder) scores the same masked tokens.
 *
 * Data parallel (`collectives`, e.g. under `mpirun`): every rank builds the same global batches and runs its shard
 * of the microbatches (see src/distributed/collectives.ts); the weights are broadcast from rank 0 at the start;
 * rank 0 alone logs, evaluates, writes checkpoints and exports the model, and every rank resumes from the same
 * checkpoint. The number of ranks is recorded in checkpoints (`gradient_shards`): the gradient is summed per rank
 * and then across ranks, so another number of ranks rounds differently and is refused on resume unless
 * `allowResumeMismatch`.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { EventLog } from './event_log.js';
import { join, resolve } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { DataLoader, type Batch } from '../data/loader.js';
import type { TokenDataset } from '../data/token_dataset.js';
import type { Kernels } from '../kernels/types.js';
import { MosaicBertForMaskedLM } from '../model/mlm.js';
import { readSafetensors } from '../io/safetensors.js';
import { savePretrained } from '../interop/pretrained.js';
import { TrainingDivergedError, TrainingStep } from './step.js';
import { checkResume, resumeFingerprint } from './resume.js';
import { DecoupledAdamW } from './decoupled_adamw.js';
import { findResumeCheckpoint, loadCheckpoint, pruneCheckpoints, removeIncompleteCheckpoints, saveCheckpoint, type TrainerState } from './checkpoint.js';
import { repairRunLog } from './run_log.js';
import { writeFileAtomic } from '../data/atomic.js';
import type { TrainConfig } from './config.js';
import { SpeedWindow, trainingFlops } from './metrics.js';
import { linearDecayWithWarmup } from './schedule.js';
import { toBatches, wallSeconds, type BatchContext } from './time.js';
import type { Collectives } from '../distributed/collectives.js';
import { createAdamW, type ZeroStage } from '../distributed/zero.js';
import { readCheckpointMasks } from './checkpoint.js';
import type { Recipe } from '../pruning/recipe.js';
import { GradualPruner } from '../pruning/gradual.js';
import { recipePeakLr } from '../pruning/lr_functions.js';
import { collectMasks, restoreMasks } from '../pruning/masks.js';
import type { DistillationSettings } from './distillation.js';
import { loadTeacher } from './teacher.js';
import { evaluateMlm } from './evaluate_mlm.js';

/** One line of the run's JSONL log, also passed to `onEvent`. */
export type TrainEvent =
  | { type: 'start'; time: string; run_name: string; params: number; total: TrainerState['total']; resumed_from: string | null;
      global_batch: number; microbatch: number; peak_flops: number; step: number; ranks?: number }
  | { type: 'step'; step: number; samples: number; tokens: number; loss: number; lr: number; grad_norm: number;
      step_s: number; tokens_per_s: number; mfu: number; elapsed_s: number; total: number; progress: number; eta_s: number;
      /** Seconds in collectives during the step (data-parallel runs only). */
      comm_s?: number;
      /** Distillation runs: the MLM loss and the KD term (loss mixes them by the hardness). */
      task_loss?: number; distill_loss?: number;
      /** Gradual pruning runs: the sparsity of the pruned weights. */
      sparsity?: number }
  | { type: 'eval'; step: number; loss: number; accuracy: number; num_targets: number; batches: number; seconds: number }
  | { type: 'checkpoint'; step: number; dir: string; seconds: number; removed: string[] }
  | { type: 'warning'; message: string }
  | { type: 'calibrate'; seconds_per_step: number; budget_s: number; total_batches: number }
  | { type: 'diverged'; step: number; loss: number; grad_norm: number; last_checkpoint: string | null }
  | { type: 'prune'; step: number; epoch: number; method: 'obert' | 'gmp'; target: number; achieved: number; seconds: number;
      gradient_passes: number;
      /** Bytes of the largest Fisher inverse held at once (null for GMP) and the process's peak resident set so far. */
      fisher_bytes: number | null; peak_rss_bytes: number }
  | { type: 'prune_progress'; step: number; done: number; total: number }
  | { type: 'end'; step: number; samples: number; tokens: number; elapsed_s: number; eval: EvalResult | null; model_dir: string };

/** Evaluation result: token-weighted MLM loss (nats) and masked-token accuracy. */
export interface EvalResult {
  loss: number;
  accuracy: number;
  num_targets: number;
  batches: number;
}

export { TrainingDivergedError };

/** Options of {@link Trainer}. */
export interface TrainerOptions {
  config: TrainConfig;
  /** The prepared train split. */
  train: TokenDataset;
  /** The prepared validation split (no evaluation when null). */
  val: TokenDataset | null;
  /** Run folder: log.jsonl, config, checkpoints/ (unless save_folder), model/ (final export). */
  runDir: string;
  /** true: resume from the newest complete checkpoint of the run (error if none); a string: that checkpoint folder. */
  resume?: boolean | string;
  /** Kernel implementation (default native). */
  kernels?: Kernels;
  /** Called for every logged event (progress display). */
  onEvent?: (e: TrainEvent) => void;
  /** Called after each optimizer step (tests: inject faults, stop early). Return 'stop' to end the run there. */
  onStep?: (step: number, trainer: Trainer) => void | 'stop';
  /** Write log.jsonl (default true). */
  log?: boolean;
  /**
   * Resume even when the seed, microbatch size or data order differ from the checkpoint's (the dropout and masking
   * streams then differ from an uninterrupted run). Default false: such a resume is refused.
   */
  allowResumeMismatch?: boolean;
  /** Data-parallel ranks (see the top); null/absent: one process. */
  collectives?: Collectives | null;
  /** One process summing the gradient in this many shards, as that many ranks would (default 1; see TrainingStep). */
  gradientShards?: number;
  /** 1: ZeRO-1, each rank keeps the AdamW moments of its shard only (src/distributed/zero.ts); default 0. */
  zeroStage?: ZeroStage;
  /**
   * A SparseML recipe (`loadRecipe`): gradual pruning, fixed masks, learning-rate functions (replacing the schedule where
   * they apply), distillation settings. Its epochs are epochs of the train split; max_duration stays the run's length.
   */
  recipe?: Recipe | null;
  /** Distillation teacher: an MLM folder `fromPretrained` reads, with the same vocab_size. */
  teacher?: string | null;
  /** KD settings (default: the recipe's DistillationModifier, else hardness 1 and temperature 5.5, the paper's upstream values). */
  distillation?: Partial<DistillationSettings>;
}

/** What {@link Trainer.fit} returns. */
export interface FitResult {
  state: TrainerState;
  /** Per-step losses of this call, index = step - 1 (steps before a resume are absent). */
  losses: Map<number, number>;
  eval: EvalResult | null;
  /** Folder of the final exported model (model.safetensors + config.json). */
  modelDir: string;
  stopped: boolean;
}

export class Trainer {
  readonly config: TrainConfig;
  readonly model: MosaicBertForMaskedLM;
  readonly optimizer: DecoupledAdamW;
  readonly runDir: string;
  readonly checkpointDir: string;
  state: TrainerState;
  private resumedFrom: string | null = null;
  private lastCheckpoint: string | null = null;
  private readonly log: EventLog;
  /** Warnings found before the run's start event (repaired log, skipped damaged checkpoints). */
  private readonly pending: string[] = [];
  private readonly microbatches: number;
  /** The one training step (microbatches, clipping, AdamW). */
  readonly stepper: TrainingStep;
  /** Rank 0 or a single process: the one that logs, evaluates and writes. */
  readonly isRoot: boolean;
  private readonly coll: Collectives | null;
  /** The distillation settings and teacher, when distilling. */
  readonly distillation: (DistillationSettings & { teacher: string }) | null = null;

  constructor(private readonly opts: TrainerOptions) {
    const c = this.config = opts.config;
    this.coll = opts.collectives ?? null;
    this.isRoot = !this.coll || this.coll.rank === 0;
    this.runDir = resolve(opts.runDir);
    mkdirSync(this.runDir, { recursive: true });
    this.log = new EventLog((opts.log ?? true) && this.isRoot ? join(this.runDir, 'log.jsonl') : null);
    if (this.isRoot) {
      const repaired = repairRunLog(join(this.runDir, 'log.jsonl'));
      if (repaired.message) this.pending.push(repaired.message);
    }
    this.checkpointDir = c.save_folder ? resolve(this.runDir, c.save_folder.replaceAll('{run_name}', c.run_name)) : join(this.runDir, 'checkpoints');
    this.model = new MosaicBertForMaskedLM(c.model, { initSeed: c.seed, kernels: opts.kernels });
    if (c.pretrained_checkpoint) {
      const rep = this.model.loadStateDict(readSafetensors(c.pretrained_checkpoint).tensors, c.pretrained_checkpoint);
      if (rep.missing.length) throw new Error(`model.pretrained_checkpoint: ${c.pretrained_checkpoint} lacks ${rep.missing.join(', ')}`);
    }
    // With recipe learning rates, the optimizer's reference lr (weight decay factor lr_t / lr) is their peak.
    this.pending.push(...(opts.recipe?.warnings ?? []));
    const peakLr = (opts.recipe && recipePeakLr(opts.recipe.learningRates)) ?? c.optimizer.lr;
    this.optimizer = createAdamW(this.model.params, { ...c.optimizer, lr: peakLr }, this.model.k,
      { zeroStage: opts.zeroStage, collectives: this.coll });
    const teacher = opts.teacher ? loadTeacher(opts.teacher, 'mlm', c.model.vocab_size, opts.kernels) : null;
    if (teacher) {
      const kd = opts.recipe?.distillation;
      this.distillation = { teacher: teacher.description, hardness: opts.distillation?.hardness ?? kd?.hardness ?? 1,
        temperature: opts.distillation?.temperature ?? kd?.temperature ?? 5.5 };
    } else if (opts.recipe?.distillation) {
      this.pending.push(`${opts.recipe.file}: the DistillationModifier needs a teacher (--teacher); training without distillation`);
    }
    this.stepper = new TrainingStep(this.model, this.optimizer, { microbatchSize: c.device_train_microbatch_size,
      gradClipNorm: c.grad_clip_norm, seed: c.seed, labels: 'token', collectives: this.coll, gradientShards: opts.gradientShards,
      distillation: teacher && this.distillation ? { teacher: teacher.model, hardness: this.distillation.hardness,
        temperature: this.distillation.temperature } : null });
    this.microbatches = this.stepper.microbatches(c.global_train_batch_size);
    const P = this.stepper.shards;
    if (c.global_train_batch_size % (c.device_train_microbatch_size * P) !== 0) {
      throw new Error(`global_train_batch_size (${c.global_train_batch_size}) must be a multiple of device_train_microbatch_size ` +
        `(${c.device_train_microbatch_size}) x ${P} ${this.coll ? 'ranks' : 'gradient shards'}, so that every rank runs the same ` +
        'number of whole microbatches');
    }
    if (opts.train.max_seq_len > c.max_seq_len) {
      throw new Error(`train data has samples of ${opts.train.max_seq_len} tokens, max_seq_len is ${c.max_seq_len}`);
    }
    this.state = { step: 0, samples: 0, tokens: 0, optimizer_t: 0,
      rng: { seed: c.seed, dropout_counter_base: 0, ...this.fingerprint() },
      loader: { epoch: 0, position: 0 }, total: { value: 0, unit: 'ba' }, elapsed_s: 0 };
    let from: string | null = null;
    if (typeof opts.resume === 'string') from = opts.resume;
    else if (c.load_path) from = c.load_path;
    else if (opts.resume || c.autoresume) {
      // The newest checkpoint that verifies; damaged newer ones are named in warnings.
      removeIncompleteCheckpoints(this.checkpointDir);
      const f = findResumeCheckpoint(this.checkpointDir);
      for (const sk of f.skipped) this.pending.push(`skipping checkpoint ${sk.dir}: ${sk.problem}`);
      if (f.dir) from = f.dir;
      else if (opts.resume) throw new Error(`--resume: no intact checkpoint in ${this.checkpointDir}`);
    }
    if (from) {
      const ck = loadCheckpoint(from, this.model.params, this.optimizer);
      const masks = readCheckpointMasks(from);
      if (masks) restoreMasks(this.model.linears(), masks, join(from, 'masks.safetensors'));
      for (const d of checkResume(from, ck.state.rng, { seed: c.seed, ...this.fingerprint() }, !!opts.allowResumeMismatch)) {
        this.pending.push(`resuming with a different ${d}`);
      }
      this.state = ck.state;
      this.state.rng = { ...this.state.rng, seed: c.seed, ...this.fingerprint() };
      this.resumedFrom = from;
      this.lastCheckpoint = from;
    }
    // Every rank starts from rank 0's weights (the same seed or files give the same bits; this makes it certain).
    this.coll?.broadcast(this.model.params.data, 0);
  }

  private emit(e: TrainEvent): void {
    if (!this.isRoot) return;
    this.log.write(e);
    this.opts.onEvent?.(e);
  }

  private batchContext(totalBatches?: number): BatchContext {
    const c = this.config;
    const n = this.opts.train.num_samples, B = c.global_train_batch_size;
    const perEpoch = c.train.drop_last ? Math.floor(n / B) : Math.ceil(n / B);
    if (perEpoch < 1) throw new Error(`the train split has ${n} samples, fewer than one global batch of ${B}`);
    return { globalBatchSize: B, batchesPerEpoch: perEpoch, totalBatches };
  }

  private trainLoader(): DataLoader {
    const c = this.config;
    return new DataLoader(this.opts.train, { batch_size: c.global_train_batch_size, shuffle: c.train.shuffle, seed: c.seed,
      drop_last: c.train.drop_last, pad_to: 'longest', mlm: { mlm_probability: c.train.mlm_probability, seed: c.seed } },
    this.state.loader);
  }

  /** What the dropout and masking streams depend on besides the step counters (checked on resume). */
  private fingerprint() {
    const c = this.config;
    return resumeFingerprint({ microbatch_size: c.device_train_microbatch_size,
      global_batch_size: c.global_train_batch_size, shuffle: c.train.shuffle, num_samples: this.opts.train.num_samples,
      mlm_probability: c.train.mlm_probability, gradient_shards: this.stepper.shards });
  }

  /**
   * Forward + backward of one global batch with microbatch accumulation into `model.grads` (zeroed first), by the
   * shared {@link TrainingStep}.
   * @param dropoutBase dropout counter of the first microbatch.
   * @returns the weighted loss (sum of rows_m / rows * mean CE_m) and the targets.
   */
  accumulate(batch: Batch, dropoutBase: number): { loss: number; targets: number } {
    return this.stepper.accumulate(labelled(batch), dropoutBase);
  }

  /** Learning rate of the next step (peak lr times the schedule factor at the time elapsed so far). */
  lrAt(state: TrainerState): number {
    const c = this.config;
    const T = state.total.value;
    let t: number, tw: number;
    const w = c.scheduler.t_warmup;
    if (state.total.unit === 'tok') {
      t = state.tokens;
      if (w.unit === 'dur') tw = w.value * T;
      else if (w.unit === 'tok') tw = w.value;
      else throw new Error(`scheduler.t_warmup: with max_duration in tok, t_warmup must be in tok or dur, got '${w.value}${w.unit}'`);
    } else {
      t = state.step;
      tw = w.unit === 'tok' ? (() => { throw new Error("scheduler.t_warmup: 'tok' needs max_duration in tok"); })()
        : toBatches(w, this.batchContext(T), 'scheduler.t_warmup');
    }
    return c.optimizer.lr * linearDecayWithWarmup(t, tw, T, c.scheduler.alpha_f);
  }

  /** Resolves max_duration to batches or tokens; wall-clock budgets are timed here (not on resume). */
  private resolveTotal(): void {
    const md = this.config.max_duration;
    const budget = wallSeconds(md);
    if (this.state.total.value > 0) {
      // Resumed: the saved total keeps the schedule identical; an explicit new ba/sp/ep/tok duration replaces it.
      if (budget !== null) return;
      const total = md.unit === 'tok' ? { value: md.value, unit: 'tok' as const }
        : { value: Math.max(1, toBatches(md, this.batchContext(), 'max_duration')), unit: 'ba' as const };
      if (total.value !== this.state.total.value || total.unit !== this.state.total.unit) {
        this.emit({ type: 'warning', message: `max_duration changed on resume: ${this.state.total.value}${this.state.total.unit} -> ` +
          `${total.value}${total.unit}; the learning-rate schedule changes from here on` });
        this.state.total = total;
      }
      return;
    }
    if (md.unit === 'tok') { this.state.total = { value: md.value, unit: 'tok' }; return; }
    if (budget === null) { this.state.total = { value: Math.max(1, toBatches(md, this.batchContext(), 'max_duration')), unit: 'ba' }; return; }
    // Time forward+backward passes on the first batches (no optimizer step: params and state are untouched).
    const loader = this.trainLoader();
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const b = loader.next();
      const t0 = performance.now();
      this.accumulate(b, 0);
      times.push((performance.now() - t0) / 1000);
    }
    this.model.zeroGrad();
    let perStep = (times[1] + times[2]) / 2 * 1.02;   // + the optimizer step
    // Ranks time differently: rank 0's measurement decides for all (the others add 0).
    if (this.coll) perStep = this.coll.sumF64(Float64Array.of(this.isRoot ? perStep : 0))[0];
    const total = Math.max(1, Math.floor(0.9 * budget / perStep));
    this.state.total = { value: total, unit: 'ba' };
    this.emit({ type: 'calibrate', seconds_per_step: perStep, budget_s: budget, total_batches: total });
  }

  /**
   * Evaluates on the validation split: batches in order, 15% masks (eval mlm_probability) fixed by the seed and the
   * batch index, first `eval_subset_num_batches` batches (all when -1).
   */
  evaluate(): EvalResult | null {
    const ds = this.opts.val;
    if (!ds) return null;
    const c = this.config;
    const r = evaluateMlm(this.model, ds, { batch_size: c.device_eval_batch_size, seed: c.seed, mlm_probability: c.eval.mlm_probability,
      max_batches: c.eval_subset_num_batches, drop_last: c.eval.drop_last });
    return { loss: r.loss, accuracy: r.accuracy, num_targets: r.num_targets, batches: r.batches };
  }

  private save(): void {
    this.optimizer.gatherForCheckpoint(); // ZeRO-1: every rank sends its moment shards to rank 0
    if (!this.isRoot) {
      this.lastCheckpoint = join(this.checkpointDir, `ba${this.state.step}`);
      return;
    }
    const t0 = performance.now();
    this.state.optimizer_t = this.optimizer.t;
    const dir = saveCheckpoint(this.checkpointDir, this.model.params, this.optimizer, this.state, this.config,
      { masks: collectMasks(this.model.linears()) });
    this.lastCheckpoint = dir;
    const removed = pruneCheckpoints(this.checkpointDir, this.config.save_num_checkpoints_to_keep);
    this.emit({ type: 'checkpoint', step: this.state.step, dir, seconds: (performance.now() - t0) / 1000, removed });
  }

  /**
   * Exports the model to `<runDir>/model` through {@link savePretrained}: a Hugging Face folder (weights, config.json
   * with `auto_map`, tokenizer files), each file written atomically.
   */
  exportModel(): string {
    const dir = join(this.runDir, 'model');
    savePretrained(this.model, dir);
    return dir;
  }

  /**
   * The recipe's gradual pruning for this run (null without pruning modifiers): epochs of the train split in steps;
   * the Fisher's batches come from a loader of their own (seeded by the pruning step, the run's masking rate).
   * @throws Error when max_duration is in tokens (the schedule needs a step count).
   */
  private gradualPruner(): GradualPruner | null {
    const r = this.opts.recipe;
    if (!r || !(r.pruning.length || r.constantPruning.length)) return null;
    const st = this.state, c = this.config;
    if (st.total.unit === 'tok') throw new Error("a pruning recipe needs max_duration in ba, sp, ep or time, not 'tok'");
    const pruner = new GradualPruner(this.model, {
      recipe: r, stepsPerEpoch: this.batchContext(st.total.value).batchesPerEpoch, totalSteps: st.total.value,
      gradBatches: (bs, count, at) => () => {
        const seed = c.seed + 7919 * (at.step + 1);
        const gl = new DataLoader(this.opts.train, { batch_size: bs, shuffle: true, seed, drop_last: true, pad_to: 'longest',
          mlm: { mlm_probability: c.train.mlm_probability, seed } });
        return (function* () { for (;;) yield labelled(gl.next()); })();
      },
      onProgress: (p, at) => { if (this.isRoot) this.opts.onEvent?.({ type: 'prune_progress', step: at.step, done: p.done, total: p.total }); },
    });
    for (const message of pruner.warnings) this.emit({ type: 'warning', message });
    return pruner;
  }

  /**
   * Trains until max_duration (or until `onStep` returns 'stop'), evaluating and checkpointing on schedule.
   * @throws TrainingDivergedError on a NaN/Inf loss or gradient norm (logged as a 'diverged' event first).
   */
  async fit(): Promise<FitResult> {
    const c = this.config;
    this.resolveTotal();
    const st = this.state;
    const tokMode = st.total.unit === 'tok';
    const ctx = this.batchContext(tokMode ? undefined : st.total.value);
    const every = (t: typeof c.eval_interval | null, key: string) => (t ? Math.max(1, toBatches(t, ctx, key)) : 0);
    const evalEvery = this.opts.val ? every(c.eval_interval, 'eval_interval') : 0;
    const saveEvery = every(c.save_interval, 'save_interval');
    const params = this.model.numParameters();
    this.emit({ type: 'start', time: new Date().toISOString(), run_name: c.run_name, params, total: st.total,
      resumed_from: this.resumedFrom, global_batch: c.global_train_batch_size, microbatch: c.device_train_microbatch_size,
      peak_flops: c.mfu_peak_flops, step: st.step, ...(this.coll ? { ranks: this.coll.size } : {}) });
    for (const message of this.pending.splice(0)) this.emit({ type: 'warning', message });
    if (this.isRoot) writeFileAtomic(join(this.runDir, 'config.json'), JSON.stringify(c, null, 1) + '\n');
    const pruner = this.gradualPruner();
    const loader = this.trainLoader();
    const speed = new SpeedWindow(c.speed_window);
    const losses = new Map<number, number>();
    let lastEval: EvalResult | null = null, lastEvalStep = -1, stopped = false;
    const done = () => (tokMode ? st.tokens >= st.total.value : st.step >= st.total.value);
    const tStart = performance.now(), elapsed0 = st.elapsed_s;
    while (!done()) {
      const t0 = performance.now();
      const comm0 = this.coll?.seconds ?? 0;
      for (const ev of pruner?.beforeStep(st.step) ?? []) {
        this.emit({ type: 'prune', step: st.step, epoch: ev.epoch, method: ev.method, target: ev.sparsity, achieved: ev.achieved,
          seconds: ev.report.seconds, gradient_passes: ev.report.gradientPasses, fisher_bytes: ev.report.peakFisherBytes,
          peak_rss_bytes: process.resourceUsage().maxRSS * 1024 });
      }
      const lr = pruner?.learningRate(st.step) ?? this.lrAt(st);
      const batch = loader.next();
      const step = st.step + 1;
      const { loss, gradNorm: gnorm, targets, taskLoss, distillLoss } = this.stepper.run(labelled(batch), lr, step, st.step * this.microbatches,
        this.lastCheckpoint, (l, g) => this.emit({ type: 'diverged', step, loss: l, grad_norm: g, last_checkpoint: this.lastCheckpoint }));
      const tokens = batch.cu_seqlens[batch.batch_size];
      st.step = step; st.samples += batch.batch_size; st.tokens += tokens; st.optimizer_t = this.optimizer.t;
      st.loader = loader.state(); st.rng.dropout_counter_base = step * this.microbatches;
      const stepS = (performance.now() - t0) / 1000;
      st.elapsed_s = elapsed0 + (performance.now() - tStart) / 1000;
      speed.push(stepS, tokens, trainingFlops(c.model, batch.cu_seqlens, targets));
      const r = speed.rates();
      losses.set(step, loss);
      const progress = tokMode ? st.tokens / st.total.value : st.step / st.total.value;
      const runS = (performance.now() - tStart) / 1000;
      const eta = tokMode ? (r.tokensPerS > 0 ? (st.total.value - st.tokens) / r.tokensPerS : 0)
        : (st.total.value - step) * (runS / losses.size);
      this.emit({ type: 'step', step, samples: st.samples, tokens: st.tokens, loss, lr, grad_norm: gnorm, step_s: stepS,
        tokens_per_s: r.tokensPerS, mfu: r.flopsPerS / c.mfu_peak_flops, elapsed_s: st.elapsed_s, total: st.total.value,
        progress, eta_s: eta, ...(this.coll ? { comm_s: this.coll.seconds - comm0 } : {}),
        ...(distillLoss !== undefined ? { task_loss: taskLoss, distill_loss: distillLoss } : {}),
        ...(pruner ? { sparsity: pruner.sparsity() } : {}) });
      const hook = this.opts.onStep?.(step, this);
      if (evalEvery && step % evalEvery === 0 && this.isRoot) {
        const e0 = performance.now();
        lastEval = this.evaluate();
        lastEvalStep = step;
        if (lastEval) this.emit({ type: 'eval', step, ...lastEval, seconds: (performance.now() - e0) / 1000 });
      }
      if (saveEvery && step % saveEvery === 0 && !done()) this.save();
      await yieldToLoop();
      if (hook === 'stop') { stopped = true; break; }
    }
    if (!stopped && this.isRoot) {
      if (this.opts.val && lastEvalStep !== st.step) {
        const e0 = performance.now();
        lastEval = this.evaluate();
        if (lastEval) this.emit({ type: 'eval', step: st.step, ...lastEval, seconds: (performance.now() - e0) / 1000 });
      }
    }
    if (!this.lastCheckpoint?.endsWith(`ba${st.step}`) || !existsSync(join(this.checkpointDir, `ba${st.step}`))) this.save();
    if (this.isRoot) removeIncompleteCheckpoints(this.checkpointDir);
    const modelDir = this.isRoot ? this.exportModel() : join(this.runDir, 'model');
    // No rank leaves before rank 0 has written the last checkpoint and the model (a resume may follow at once).
    this.coll?.barrier();
    this.emit({ type: 'end', step: st.step, samples: st.samples, tokens: st.tokens, elapsed_s: st.elapsed_s, eval: lastEval, model_dir: modelDir });
    return { state: st, losses, eval: lastEval, modelDir, stopped };
  }
}

/** The loader's batch as the training step takes it. */
function labelled(b: Batch) {
  return { batch: b.batch_size, seqlen: b.seq_len, input_ids: b.input_ids, attention_mask: b.attention_mask,
    token_type_ids: b.token_type_ids, labels: b.labels! };
}
