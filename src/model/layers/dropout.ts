/**
 * Dropout at one call site of the network (`nn.Dropout` in the reference), on the Philox kernel: the keep mask of
 * a site is the Philox stream `(step * 1024 + layer) * 8 + site` under the run's seed, so masks are a pure
 * function of (seed, step, layer, site) — a resumed run redraws exactly the masks it would have drawn.
 */
import type { Kernels } from '../../kernels/types.js';
import type { GrowU8 } from './buffers.js';

/** What every layer's forward needs to know about the pass. */
export interface ForwardContext {
  /** Dropout on; off at evaluation and in inference mode. */
  training: boolean;
  /** Philox key of the dropout masks. */
  seed: number;
  /** Distinct per microbatch (the trainer passes `step * microbatches + m`). */
  step: number;
  /** Receives copies of named intermediates (parity checks); absent normally. */
  capture?: (name: string, t: Float32Array) => void;
}

/** Dropout sites inside a layer (the last part of the Philox stream). */
export const DROPOUT_SITE = { embeddings: 0, attentionProbs: 1, attentionOutput: 2, ffn: 3, classifier: 7 } as const;
/** The "layer" of the embedding dropout stream in an L-layer encoder is L; the classifier's is this. */
export const CLASSIFIER_STREAM_LAYER = 1023;

/** The Philox stream of dropout site `site` of layer `layer` at `ctx.step`. */
export function dropoutStream(ctx: ForwardContext, layer: number, site: number): number {
  return (ctx.step * 1024 + layer) * 8 + site;
}

/**
 * One dropout call site (its probability and place in the Philox stream). The keep mask lives in the caller's
 * activation struct, so one site object serves training (a mask per layer) and inference (no mask).
 */
export class Dropout {
  constructor(private readonly k: Kernels, readonly p: number, private readonly layer: number,
    private readonly site: number) {}

  /** In place on `x[0..n)`: `x_i = keep_i ? x_i / (1 - p) : 0` when training and p > 0, else nothing. */
  forward(x: Float32Array, n: number, ctx: ForwardContext, mask: GrowU8): void {
    if (!ctx.training || this.p === 0) return;
    this.k.dropoutForward(x, n, this.p, ctx.seed, dropoutStream(ctx, this.layer, this.site), x, mask.get(n));
  }

  /** In place on `d[0..n)`: the backward of a forward with the same `ctx` (nothing when dropout was off). */
  backward(d: Float32Array, n: number, ctx: ForwardContext, mask: GrowU8): void {
    if (!ctx.training || this.p === 0) return;
    this.k.dropoutBackward(d, mask.get(n), n, this.p, d);
  }
}
