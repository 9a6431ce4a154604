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

export class DecoupledAdamW {
  readonly lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  /** Steps taken. */
  t = 0;
  readonly expAvg: ParamStore;
  readonly expAvgSq: ParamStore;

  constructor(readonly params: ParamStore, opts: DecoupledAdamWOptions, readonly k: Kernels) {
    this.lr = opts.lr;
    this.betas = opts.betas ?? [0.9, 0.98];
    this.eps = opts.eps ?? 1e-6;
    this.weightDecay = opts.weight_decay ?? 1e-5;
    if (!(this.lr >= 0)) throw new Error(`optimizer.lr must be >= 0, got ${this.lr}`);
    for (const b of this.betas) if (!(b >= 0 && b < 1)) throw new Error(`optimizer.betas must be in [0, 1), got ${this.betas}`);
    this.expAvg = params.zerosLike();
    this.expAvgSq = params.zerosLike();
  }

  /** One step with learning rate `lrT` (the schedule's value for this step) from `grads` (same layout). */
  step(grads: ParamStore, lrT: number = this.lr): void {
    this.t += 1;
    const [b1, b2] = this.betas;
    const decayFactor = this.lr ? lrT / this.lr : 1;
    const stepSize = lrT / (1 - b1 ** this.t);
    const bc2 = Math.sqrt(1 - b2 ** this.t);
    const p = this.params.data;
    this.k.adamwStep(p, grads.data, this.expAvg.data, this.expAvgSq.data, p.length, b1, b2, this.eps,
      this.weightDecay, decayFactor, stepSize, bc2);
  }
}
