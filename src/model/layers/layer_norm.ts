/**
 * LayerNorm fused with the residual add (post-LN, as BERT and the reference's `BertSelfOutput` / `BertOutput`):
 * `s = x + residual`, `out = (s - mean) * rstd * gamma + beta` over the last dimension, biased variance.
 * Parameters `<prefix>.weight` (gamma) and `<prefix>.bias` (beta), `[H]`.
 */
import type { Kernels } from '../../kernels/types.js';
import type { ParamSpec, ParamStore } from '../params.js';
import type { ActivationArena } from './buffers.js';

/** The statistics a LayerNorm saves for its backward: `[rows]` mean and 1/sqrt(var + eps). */
export const layerNormActivations = (a: ActivationArena) => a.f32s('mean', 'rstd');
export type LayerNormActivations = ReturnType<typeof layerNormActivations>;

export class LayerNorm {
  readonly gamma: Float32Array;
  readonly beta: Float32Array;
  private readonly g: ParamSpec;
  private readonly b: ParamSpec;
  readonly size: number;

  /** @param prefix e.g. `bert.embeddings.LayerNorm`; @param eps added to the variance. */
  constructor(private readonly k: Kernels, P: ParamStore, prefix: string, readonly eps: number) {
    this.g = P.require(`${prefix}.weight`);
    this.b = P.require(`${prefix}.bias`);
    this.gamma = P.view(this.g);
    this.beta = P.view(this.b);
    this.size = this.g.size;
  }

  /**
   * `out[rows, H] = LN(x + residual)`; `sum` (may alias `x`) receives `x + residual` for the backward, or null when
   * the input itself is kept (no residual).
   */
  forward(x: Float32Array, residual: Float32Array | null, rows: number, sum: Float32Array | null, out: Float32Array,
    a: LayerNormActivations): void {
    this.k.layerNormForward(x, residual, this.gamma, this.beta, rows, this.size, this.eps, sum, out, a.mean.get(rows),
      a.rstd.get(rows));
  }

  /**
   * From `dOut` and the saved LayerNorm input `s`: writes `dX` (the gradient of s, hence of x and of the residual;
   * may alias dOut) and accumulates the gamma/beta gradients into `G`.
   */
  backward(G: ParamStore, dOut: Float32Array, s: Float32Array, rows: number, dX: Float32Array,
    a: LayerNormActivations): void {
    this.k.layerNormBackward(dOut, s, this.gamma, a.mean.get(rows), a.rstd.get(rows), rows, this.size, dX,
      G.view(this.g), G.view(this.b));
  }
}
