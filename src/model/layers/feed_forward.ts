/**
 * The feed-forward block of a BERT layer, post-LN, in two kinds:
 *
 * - `geglu` (MosaicBERT `BertGatedLinearUnitMLP`, Portes et al. 2023 §3.1, Shazeer 2020):
 *   `x = h1 Wg^T` `[n, 2I]` (no bias), `y = gelu(x[:, :I]) * x[:, I:]`, `h2 = LN(Wo Dropout(y) + bo + h1)`;
 *   parameters `mlp.gated_layers`, `mlp.wo`, `mlp.layernorm`.
 * - `gelu` (HF `BertIntermediate` + `BertOutput`): `y = gelu(h1 Wi^T + bi)` `[n, I]`,
 *   `h2 = LN(Dropout(y Wout^T + bout) + h1)`; parameters `intermediate.dense`, `output.dense`, `output.LayerNorm`.
 *
 * GELU is the exact erf form in both. The two differ in where the dropout sits, as their references do.
 */
import type { Kernels } from '../../kernels/types.js';
import type { ParamStore } from '../params.js';
import type { ActivationArena } from './buffers.js';
import { DROPOUT_SITE, Dropout, type ForwardContext } from './dropout.js';
import { LayerNorm, layerNormActivations } from './layer_norm.js';
import { Linear } from './linear.js';
import type { BackwardScratch } from './scratch.js';

/**
 * What one feed-forward block keeps for its backward: `x` the first projection's output (`[n, 2I]` geglu, `[n, I]`
 * gelu), `y` `[n, I]` the activation output (geglu: after dropout), `sum` `[n, H]` the LayerNorm input.
 */
export const feedForwardActivations = (a: ActivationArena) =>
  ({ ...a.f32s('x', 'y', 'sum'), ln: layerNormActivations(a), mask: a.u8() });
export type FeedForwardActivations = ReturnType<typeof feedForwardActivations>;

export class FeedForward {
  /** `gated_layers` `[2I, H]` or `intermediate.dense` `[I, H]`. */
  readonly input: Linear;
  /** `wo` / `output.dense` `[H, I]`. */
  readonly output: Linear;
  readonly ln: LayerNorm;
  private readonly dropout: Dropout;

  constructor(private readonly k: Kernels, P: ParamStore, readonly layer: number, readonly kind: 'geglu' | 'gelu',
    private readonly hidden: number, private readonly inner: number, hiddenDropout: number, eps: number) {
    const p = `bert.encoder.layer.${layer}.`;
    const lin = (name: string, bias: boolean) => new Linear(k, P, p + name, P.require(`${p}${name}.weight`),
      bias ? P.require(`${p}${name}.bias`) : null);
    if (kind === 'geglu') {
      this.input = lin('mlp.gated_layers', false);
      this.output = lin('mlp.wo', true);
      this.ln = new LayerNorm(k, P, p + 'mlp.layernorm', eps);
    } else {
      this.input = lin('intermediate.dense', true);
      this.output = lin('output.dense', true);
      this.ln = new LayerNorm(k, P, p + 'output.LayerNorm', eps);
    }
    this.dropout = new Dropout(k, hiddenDropout, layer, DROPOUT_SITE.ffn);
  }

  /** From `h1[n, H]`: writes the layer output `out[n, H]`. */
  forward(h1: Float32Array, n: number, ctx: ForwardContext, a: FeedForwardActivations, out: Float32Array): void {
    const { k, hidden: H, inner: I } = this;
    const z = a.sum.get(n * H);
    if (this.kind === 'geglu') {
      const x = a.x.get(n * 2 * I), y = a.y.get(n * I);
      this.input.forward(h1, n, x);
      k.gegluForward(x, n, I, y);
      if (this.layer === 0) ctx.capture?.('layer0.glu_product', y);
      this.dropout.forward(y, n * I, ctx, a.mask);
      this.output.forward(y, n, z);
    } else {
      const x = a.x.get(n * I), y = a.y.get(n * I);
      this.input.forward(h1, n, x);
      k.geluForward(x, n * I, y);
      this.output.forward(y, n, z);
      this.dropout.forward(z, n * H, ctx, a.mask);
    }
    this.ln.forward(z, h1, n, z, out, a.ln);
  }

  /**
   * Backward of {@link forward} given its input `h1` and `dOut[n, H]`: accumulates the block's parameter gradients
   * into `G` and returns the gradient of h1 `[n, H]` (a view of `S.dh1`).
   */
  backward(G: ParamStore, dOut: Float32Array, h1: Float32Array, n: number, ctx: ForwardContext,
    a: FeedForwardActivations, S: BackwardScratch): Float32Array {
    const { k, hidden: H, inner: I } = this;
    const dz = S.dz.get(n * H);
    this.ln.backward(G, dOut, a.sum.last, n, dz, a.ln);
    const dh1 = S.dh1.get(n * H);
    dh1.set(dz);   // the residual branch
    const dy = S.dy.get(n * I);
    if (this.kind === 'geglu') {
      this.output.backward(G, dz, a.y.last, n, dy);
      this.dropout.backward(dy, n * I, ctx, a.mask);
      const dx = S.dx.get(n * 2 * I);
      k.gegluBackward(a.x.last, dy, n, I, dx);
      this.input.backward(G, dx, h1, n, dh1, true);
    } else {
      this.dropout.backward(dz, n * H, ctx, a.mask);
      this.output.backward(G, dz, a.y.last, n, dy);
      k.geluBackward(a.x.last, dy, n * I, dy);
      this.input.backward(G, dy, h1, n, dh1, true);
    }
    return dh1;
  }
}
