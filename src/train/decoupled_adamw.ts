/**
 * Composer's `DecoupledAdamW` (the reference's `yamls/main/mosaic-bert-base-uncased.yaml` as Composer runs it; Loshchilov & Hutter 2019 with Composer's scaling): per step
 * t (from 1), for every parameter — biases, LayerNorm and embeddings included —
 *   p *= 1 - (lr_t / lr_initial) * weight_decay      (decay scaled by the schedule factor, not by lr)
 *   m = b1 m + (1 - b1) g ;  v = b2 v + (1 - b2) g^2
 *   p -= lr_t / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * The bias corrections are float64 (as the reference's Python floats); the tensor math is the float32
 * `adamwStep` kernel over the whole flat parameter buffer at once.
 */
import type { Kernels } from '../kernels/types.js';
import type { ParamStore } from '../model/params.js';

export interface DecoupledAdamWOptions {
  /** Initial (peak) learning rate; the schedule's factor is lr_t / lr. */
  lr: number;
  betas?: [number, number];
  eps?: number;
  weight_decay?: number;
}

/** The hyperparameters with their defaults, checked (shared by DecoupledAdamW and ZeRO-1's ShardedAdamW). */
export interface AdamWHyperparameters {
  readonly lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
}

/**
 * Applies the defaults (betas 0.9/0.98, eps 1e-6, weight_decay 1e-5) and checks the options.
 * @throws Error naming `optimizer.lr` or `optimizer.betas` when out of range.
 */
export function adamwHyperparameters(opts: DecoupledAdamWOptions): AdamWHyperparameters {
  const h = { lr: opts.lr, betas: opts.betas ?? [0.9, 0.98] as [number, number], eps: opts.eps ?? 1e-6, weightDecay: opts.weight_decay ?? 1e-5 };
  if (!(h.lr >= 0)) throw new Error(`optimizer.lr must be >= 0, got ${h.lr}`);
  for (const b of h.betas) if (!(b >= 0 && b < 1)) throw new Error(`optimizer.betas must be in [0, 1), got ${h.betas}`);
  return h;
}

/**
 * The float64 scalars of step `t` (from 1) at learning rate `lrT`, as the `adamwStep` kernel takes them: the decay
 * factor lr_t / lr, the step size lr_t / (1 - b1^t) and sqrt(1 - b2^t) (see the top).
 */
export function adamwStepScalars(h: AdamWHyperparameters, t: number, lrT: number): { decayFactor: number; stepSize: number; bc2: number } {
  const [b1, b2] = h.betas;
  return { decayFactor: h.lr ? lrT / h.lr : 1, stepSize: lrT / (1 - b1 ** t), bc2: Math.sqrt(1 - b2 ** t) };
}

export class DecoupledAdamW implements AdamWHyperparameters {
  readonly lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  /** Steps taken. */
  t = 0;
  readonly expAvg: ParamStore;
  readonly expAvgSq: ParamStore;

  constructor(readonly params: ParamStore, opts: DecoupledAdamWOptions, readonly k: Kernels) {
    ({ lr: this.lr, betas: this.betas, eps: this.eps, weightDecay: this.weightDecay } = adamwHyperparameters(opts));
    this.expAvg = params.zerosLike();
    this.expAvgSq = params.zerosLike();
  }

  /** One step with learning rate `lrT` (the schedule's value for this step) from `grads` (same layout). */
  step(grads: ParamStore, lrT: number = this.lr): void {
    this.t += 1;
    const [b1, b2] = this.betas;
    const { decayFactor, stepSize, bc2 } = adamwStepScalars(this, this.t, lrT);
    const p = this.params.data;
    this.k.adamwStep(p, grads.data, this.expAvg.data, this.expAvgSq.data, p.length, b1, b2, this.eps,
      this.weightDecay, decayFactor, stepSize, bc2);
  }

  /**
   * Called by every rank before a checkpoint is saved: afterwards `expAvg` / `expAvgSq` hold the full moments on
   * rank 0. Nothing to do here (every rank holds them all); a collective in ZeRO-1's ShardedAdamW
   * (src/distributed/zero.ts).
   */
  gatherForCheckpoint(): void {}
}
