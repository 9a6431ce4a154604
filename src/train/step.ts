/**
 * The one training step, used by pretraining (`Trainer`), fine-tuning (`finetune`) and `glue`, as Composer runs a
 * batch (the reference's `main.py` / `sequence_classification.py` through Composer's Trainer):
 *
 * 1. the global batch is split into microbatches of `microbatchSize` rows; each microbatch's loss (a mean over its
 *    targets: masked tokens for MLM, sequences for classification) is scaled by its sample fraction `rows_m / rows`
 *    before backward, so the accumulated gradient is that of the sample-weighted mean of the microbatch losses
 *    (Composer's weighting), and the reported loss is the same weighted sum;
 * 2. the global gradient norm; a NaN/Inf loss or norm stops the run before the optimizer step
 *    ({@link TrainingDivergedError}, naming the step);
 * 3. optional global-norm clipping (`g *= clip / (norm + 1e-6)` when norm > clip);
 * 4. the DecoupledAdamW step at the scheduled learning rate (the caller evaluates the schedule);
 * 5. pruning masks (`Linear.mask`, set by a pruner) are applied to the gradients before the optimizer step and to
 *    the weights after it, so AdamW's moments and weight decay never revive a pruned weight.
 *
 * Knowledge distillation (`distillation`, oBERT's recipe; train/distillation.ts): before each microbatch's forward the
 * teacher runs the same rows in evaluation mode (same labels, so MLM teachers score the same masked tokens) and the
 * student's loss becomes `(1 - hardness) * task + hardness * KD`; the step reports both terms.
 *
 * Dropout masks are keyed by `(seed, dropoutBase + microbatch)`, so a step is a pure function of the weights, the
 * optimizer state, the batch and that counter.
 *
 * Data parallelism (src/distributed/collectives.ts): with `collectives`, rank k runs only its shard of the
 * microbatches (by global index, so masks and dropout streams do not depend on the number of ranks) and the
 * gradient buffer is summed across ranks in rank order between the last microbatch and the norm; the loss and target
 * counts are summed for the log. With `gradientShards: P` a single process does the same arithmetic: each shard is
 * accumulated into its own buffer and the buffers are added in shard order, so it reproduces a P-rank run bit for
 * bit. The default (one shard, no collectives) is the plain accumulation.
 */
import type { Kernels } from '../kernels/types.js';
import type { ParamStore } from '../model/params.js';
import type { PaddedBatch } from '../model/batch.js';
import type { DecoupledAdamW } from './decoupled_adamw.js';
import type { Linear } from '../model/layers/linear.js';
import { shardRange, type Collectives } from '../distributed/collectives.js';
import { checkDistillation, type DistillationSettings, type DistillTarget } from './distillation.js';

/** What the step needs of a model (both MaskedLMModel and SequenceClassificationModel are). */
export interface TrainableModel {
  readonly params: ParamStore;
  grads: ParamStore | null;
  readonly k: Kernels;
  zeroGrad(): ParamStore;
  forward(batch: PaddedBatch & { labels?: Int32Array | Float32Array },
    opts: { training: boolean; seed: number; step: number; distill?: DistillTarget }):
    { loss?: number; numTargets?: number; taskLoss?: number; distillLoss?: number };
  backward(lossScale: number): void;
  /** The model's projections (for pruning masks); optional. */
  linears?(): Linear[];
}

/**
 * A distillation teacher: any model of the student's head and output size (MLM: the same vocab_size; classification:
 * the same num_labels), run in evaluation mode; `logits` must stay valid until its next forward.
 */
export interface TeacherModel {
  forward(batch: PaddedBatch & { labels?: Int32Array | Float32Array }, opts: { training: false }): { logits: Float32Array };
}

/** Distillation of a training run: the teacher and the KD settings. */
export interface DistillationOptions extends DistillationSettings {
  teacher: TeacherModel;
}

/** A global batch with its labels: per token (`[B * S]`, MLM) or per sequence (`[B]`, classification). */
export interface LabelledBatch extends PaddedBatch {
  labels: Int32Array | Float32Array;
}

/** Options of {@link TrainingStep}. */
export interface TrainingStepOptions {
  /** Rows per microbatch (`device_train_microbatch_size`). */
  microbatchSize: number;
  /** Clip the global gradient norm to this value; null: no clipping (the reference's default). */
  gradClipNorm: number | null;
  /** Philox key of the dropout masks. */
  seed: number;
  /** Where the labels live: 'token' (`[B * S]`) or 'sequence' (`[B]`). */
  labels: 'token' | 'sequence';
  /**
   * Single process: accumulate the microbatches in this many shards, each into its own gradient buffer, then add the
   * buffers in shard order (the arithmetic of that many ranks; P - 1 extra gradient buffers). Default 1: plain
   * accumulation. Must equal `collectives.size` when both are given.
   */
  gradientShards?: number;
  /** Data-parallel ranks: run this rank's shard, then sum gradients, loss and targets over the ranks. */
  collectives?: Collectives | null;
  /** Knowledge distillation from a teacher (see the top); null/absent: the task loss alone. */
  distillation?: DistillationOptions | null;
}

/** What one step did. */
export interface StepResult {
  /** The sample-weighted mean of the microbatch losses. */
  loss: number;
  /** Global L2 norm of the gradient before clipping. */
  gradNorm: number;
  /** Targets seen (MLM: masked tokens; classification: sequences). */
  targets: number;
  /** With distillation: the task loss and the KD term, weighted like `loss`. */
  taskLoss?: number;
  distillLoss?: number;
}

/** The losses a (partial) accumulation returns. */
interface Accumulated { loss: number; targets: number; taskLoss: number; distillLoss: number }

/** The number of gradient shards a step uses: the ranks, else `gradientShards`, else 1. */
export function shardCount(o: Pick<TrainingStepOptions, 'gradientShards' | 'collectives'>): number {
  const P = o.gradientShards ?? o.collectives?.size ?? 1;
  if (!(Number.isInteger(P) && P >= 1)) throw new Error(`gradientShards must be an integer >= 1, got ${P}`);
  if (o.collectives && o.collectives.size !== P) {
    throw new Error(`gradientShards (${P}) must equal the number of ranks (${o.collectives.size}) in a distributed run`);
  }
  return P;
}

/** Thrown when the loss or gradient norm is NaN or infinite. */
export class TrainingDivergedError extends Error {
  constructor(readonly step: number, readonly loss: number, readonly lastCheckpoint: string | null, readonly gradNorm = NaN) {
    super(`non-finite ${Number.isFinite(loss) ? `gradient norm (${gradNorm})` : `loss (${loss})`} at step ${step}; ` +
      'training stopped before the optimizer step' +
      (lastCheckpoint ? `; the last good checkpoint is ${lastCheckpoint}` : '; no checkpoint was saved yet'));
    this.name = 'TrainingDivergedError';
  }
}

export class TrainingStep {
  /** Gradient shards (ranks, or emulated ranks in one process). */
  readonly shards: number;
  /** Extra gradient buffers of shards 1..P-1 (single-process emulation only). */
  private shardGrads: ParamStore[] = [];

  constructor(readonly model: TrainableModel, readonly optimizer: DecoupledAdamW, readonly o: TrainingStepOptions) {
    if (!(Number.isInteger(o.microbatchSize) && o.microbatchSize >= 1)) {
      throw new Error(`microbatch size must be an integer >= 1, got ${o.microbatchSize}`);
    }
    this.shards = shardCount(o);
    if (o.distillation) checkDistillation(o.distillation);
  }

  /** Number of microbatches of a global batch of `rows` rows. */
  microbatches(rows: number): number {
    return Math.ceil(rows / this.o.microbatchSize);
  }

  /**
   * Forward + backward of one global batch with microbatch accumulation into `model.grads` (zeroed first). With
   * shards (see the top), each shard's microbatches go to its own buffer, or to this rank, and the shards are summed
   * in order into `model.grads`; the returned loss and targets are then the global ones.
   * @param dropoutBase dropout counter of the first microbatch (the trainers pass `step * microbatches`).
   * @returns the weighted loss and the targets.
   */
  accumulate(batch: LabelledBatch, dropoutBase: number): Accumulated {
    const { model, o, shards: P } = this;
    const M = this.microbatches(batch.batch);
    const c = o.collectives;
    if (c) {
      const g = model.zeroGrad();
      const part = this.accumulateRange(batch, dropoutBase, ...shardRange(M, c.rank, P));
      c.allreduceSum(g.data);
      const [loss, targets, taskLoss, distillLoss] = c.sumF64(Float64Array.of(part.loss, part.targets, part.taskLoss, part.distillLoss));
      return { loss, targets, taskLoss, distillLoss };
    }
    if (P === 1) {
      model.zeroGrad();
      return this.accumulateRange(batch, dropoutBase, 0, M);
    }
    const g0 = model.zeroGrad();
    while (this.shardGrads.length < P - 1) this.shardGrads.push(model.params.zerosLike());
    const sum: Accumulated = { loss: 0, targets: 0, taskLoss: 0, distillLoss: 0 };
    try {
      for (let k = 0; k < P; k++) {
        model.grads = k === 0 ? g0 : this.shardGrads[k - 1];
        if (k > 0) model.grads.data.fill(0);
        const part = this.accumulateRange(batch, dropoutBase, ...shardRange(M, k, P));
        sum.loss += part.loss; sum.targets += part.targets; sum.taskLoss += part.taskLoss; sum.distillLoss += part.distillLoss;
      }
    } finally {
      model.grads = g0;
    }
    // g0 = ((g0 + g1) + g2) + ...: axpby forms 1*x + 1*y in float64 and rounds once to float32, which equals the
    // float32 sum the MPI all-reduce computes (double rounding is harmless for + since 53 >= 2 * 24 + 2).
    for (const gk of this.shardGrads.slice(0, P - 1)) model.k.axpby(g0.data.length, 1, gk.data, 1, g0.data);
    return sum;
  }

  /** Accumulates microbatches [m0, m1) of the global batch into `model.grads` (not zeroed); m is the global index. */
  private accumulateRange(batch: LabelledBatch, dropoutBase: number, m0: number, m1: number): Accumulated {
    const { model, o } = this;
    const B = batch.batch, S = batch.seqlen, mb = o.microbatchSize;
    const kd = o.distillation;
    let loss = 0, targets = 0, taskLoss = 0, distillLoss = 0;
    for (let m = m0; m < m1; m++) {
      const r0 = m * mb;
      const rows = Math.min(mb, B - r0);
      const sl = (a: Int32Array) => a.subarray(r0 * S, (r0 + rows) * S);
      const labels = o.labels === 'token' ? (batch.labels as Int32Array).subarray(r0 * S, (r0 + rows) * S)
        : batch.labels.subarray(r0, r0 + rows);
      const mbatch = { batch: rows, seqlen: S, input_ids: sl(batch.input_ids),
        attention_mask: batch.attention_mask && sl(batch.attention_mask),
        token_type_ids: batch.token_type_ids && sl(batch.token_type_ids), labels };
      const distill = kd ? { teacherLogits: kd.teacher.forward(mbatch, { training: false }).logits, hardness: kd.hardness,
        temperature: kd.temperature } : undefined;
      const out = model.forward(mbatch, { training: true, seed: o.seed, step: dropoutBase + m, distill });
      const scale = rows / B;
      const n = out.numTargets ?? rows;
      if (n > 0) {
        model.backward(scale);
        loss += scale * out.loss!;
        taskLoss += scale * (out.taskLoss ?? out.loss!);
        distillLoss += scale * (out.distillLoss ?? 0);
      }
      targets += n;
    }
    return { loss, targets, taskLoss, distillLoss };
  }

  /**
   * One optimizer step on a global batch: {@link accumulate}, gradient norm, divergence check, clipping, AdamW.
   * @param step the 1-based number of this step (for messages).
   * @param lastCheckpoint named in the divergence error.
   * @param onDiverged called before the error is thrown (the trainers log it).
   * @throws TrainingDivergedError on a NaN/Inf loss or gradient norm; the weights are then untouched.
   */
  run(batch: LabelledBatch, lr: number, step: number, dropoutBase: number, lastCheckpoint: string | null = null,
    onDiverged?: (loss: number, gradNorm: number) => void): StepResult {
    const { model } = this;
    const { loss, targets, taskLoss, distillLoss } = this.accumulate(batch, dropoutBase);
    const g = model.grads!.data;
    const gradNorm = Math.sqrt(model.k.sumSquares(g, g.length));
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      onDiverged?.(loss, gradNorm);
      throw new TrainingDivergedError(step, loss, lastCheckpoint, gradNorm);
    }
    const clip = this.o.gradClipNorm;
    if (clip !== null && gradNorm > clip) model.k.axpby(g.length, clip / (gradNorm + 1e-6), g, 0, g);
    const masked = model.linears?.().filter((l) => l.mask) ?? [];
    for (const l of masked) l.applyMask(model.grads!);
    this.optimizer.step(model.grads!, lr);
    for (const l of masked) l.applyMask();
    return { loss, gradNorm, targets, ...(this.o.distillation ? { taskLoss, distillLoss } : {}) };
  }
}
