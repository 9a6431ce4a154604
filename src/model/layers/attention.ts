/**
 * The attention block of a BERT layer on unpadded rows (reference `BertUnpadAttention` = `BertUnpadSelfAttention`
 * + `BertSelfOutput`; HF `BertAttention`):
 *
 *   qkv = h Wqkv^T + bqkv                       `[nnz, 3H]`, columns [Q | K | V] (fused, or HF q/k/v stored back to back)
 *   ctx = softmax(q k^T / sqrt(d) - slope_h |i - j|) v   within each sequence (fused unpadded kernel; slopes 0 = BERT)
 *   h1  = LN(Dropout(ctx Wo^T + bo) + h)        post-LN
 *
 * With `subset` (the last layer of an MLM forward with labels: the masked rows plus each [CLS]), everything after
 * the attention kernel runs on those rows only, as the reference's `subset_idx`; keys and values still use every
 * row, so the kept rows' values are unchanged.
 */
import type { Kernels } from '../../kernels/types.js';
import type { ParamSpec, ParamStore } from '../params.js';
import type { UnpaddedBatch } from '../batch.js';
import type { ActivationArena } from './buffers.js';
import { DROPOUT_SITE, Dropout, dropoutStream, type ForwardContext } from './dropout.js';
import { LayerNorm, layerNormActivations } from './layer_norm.js';
import { Linear } from './linear.js';
import type { BackwardScratch } from './scratch.js';

/**
 * What one attention block keeps for its backward: `qkv` `[nnz, 3H]` projection output, `ctx` `[nnz, H]` attention
 * output, `lse` `[heads, nnz]` row log-sum-exp of the scores, `ctxSub` / `hSub` `[n, H]` subset rows of ctx and of
 * the block input (subset forwards only), `sum` `[n, H]` the LayerNorm input, `out` `[n, H]` the block output h1.
 */
export const attentionActivations = (a: ActivationArena) =>
  ({ ...a.f32s('qkv', 'ctx', 'lse', 'ctxSub', 'hSub', 'sum', 'out'), ln: layerNormActivations(a), mask: a.u8() });
export type AttentionActivations = ReturnType<typeof attentionActivations>;

/** Hyper-parameters of an attention block. */
export interface AttentionShape {
  hidden: number;
  heads: number;
  /** `attention_probs_dropout_prob` and `hidden_dropout_prob`. */
  attentionDropout: number;
  hiddenDropout: number;
  layerNormEps: number;
}

export class AttentionBlock {
  readonly qkv: Linear;
  readonly output: Linear;
  readonly ln: LayerNorm;
  private readonly dropout: Dropout;
  private readonly headDim: number;

  /**
   * @param qkvWeight / qkvBias the `[3H, H]` / `[3H]` projection (a fused tensor, or a span of three contiguous ones).
   * @param slopes `[heads]` ALiBi slopes (all zero for classic BERT).
   */
  constructor(private readonly k: Kernels, P: ParamStore, readonly layer: number, private readonly s: AttentionShape,
    qkvWeight: ParamSpec, qkvBias: ParamSpec, private readonly slopes: Float32Array) {
    const p = `bert.encoder.layer.${layer}.attention.`;
    this.qkv = new Linear(k, P, qkvWeight.name.replace(/\.weight$/, ''), qkvWeight, qkvBias);
    this.output = new Linear(k, P, p + 'output.dense', P.require(p + 'output.dense.weight'), P.require(p + 'output.dense.bias'));
    this.ln = new LayerNorm(k, P, p + 'output.LayerNorm', s.layerNormEps);
    this.dropout = new Dropout(k, s.hiddenDropout, layer, DROPOUT_SITE.attentionOutput);
    this.headDim = s.hidden / s.heads;
  }

  /** From the block input `h[nnz, H]`: returns h1 `[n, H]` (n = subset length or nnz), a view of `a.out`. */
  forward(h: Float32Array, u: UnpaddedBatch, subset: Int32Array | undefined, ctx: ForwardContext,
    a: AttentionActivations): Float32Array {
    const { k, s } = this;
    const H = s.hidden, nnz = u.nnz, n = subset ? subset.length : nnz, first = this.layer === 0;
    const qkv = a.qkv.get(nnz * 3 * H);
    this.qkv.forward(h, nnz, qkv);
    if (first) ctx.capture?.('layer0.qkv', qkv);
    const c = a.ctx.get(nnz * H);
    k.attentionForward(qkv, u.cuSeqlens, u.batch, s.heads, this.headDim, this.slopes,
      ctx.training ? s.attentionDropout : 0, ctx.seed, dropoutStream(ctx, this.layer, DROPOUT_SITE.attentionProbs),
      c, a.lse.get(s.heads * nnz));
    if (first) ctx.capture?.('layer0.attn_context', c);
    let ctxIn = c, hin = h;
    if (subset) {
      ctxIn = a.ctxSub.get(n * H); hin = a.hSub.get(n * H);
      k.gatherRows(c, subset, n, H, ctxIn);
      k.gatherRows(h, subset, n, H, hin);
    }
    const sum = a.sum.get(n * H);
    this.output.forward(ctxIn, n, sum);
    this.dropout.forward(sum, n * H, ctx, a.mask);
    const h1 = a.out.get(n * H);
    this.ln.forward(sum, hin, n, sum, h1, a.ln);
    if (first) ctx.capture?.('layer0.attn_output', h1);
    return h1;
  }

  /**
   * Backward of {@link forward}: from `dh1[n, H]`, accumulates the block's parameter gradients into `G` and writes
   * the gradient of the block input `h` into `dh[nnz, H]` (overwritten).
   */
  backward(G: ParamStore, dh1: Float32Array, h: Float32Array, u: UnpaddedBatch, subset: Int32Array | undefined,
    ctx: ForwardContext, a: AttentionActivations, S: BackwardScratch, dh: Float32Array): void {
    const { k, s } = this;
    const H = s.hidden, nnz = u.nnz, n = subset ? subset.length : nnz;
    const ds1 = S.ds1.get(n * H);
    this.ln.backward(G, dh1, a.sum.last, n, ds1, a.ln);
    // The residual branch: ds1 flows to h unchanged (scattered back to the subset rows).
    if (subset) { dh.fill(0); k.scatterRows(ds1, subset, n, H, dh); } else dh.set(ds1);
    this.dropout.backward(ds1, n * H, ctx, a.mask);
    const dctx = S.dctx.get(nnz * H);
    if (subset) {
      const dcs = S.dctxSub.get(n * H);
      this.output.backward(G, ds1, a.ctxSub.last, n, dcs);
      dctx.fill(0);
      k.scatterRows(dcs, subset, n, H, dctx);
    } else {
      this.output.backward(G, ds1, a.ctx.last, n, dctx);
    }
    const dqkv = S.dqkv.get(nnz * 3 * H);
    k.attentionBackward(a.qkv.last, u.cuSeqlens, u.batch, s.heads, this.headDim, this.slopes,
      ctx.training ? s.attentionDropout : 0, ctx.seed, dropoutStream(ctx, this.layer, DROPOUT_SITE.attentionProbs),
      a.ctx.last, a.lse.last, dctx, dqkv);
    this.qkv.backward(G, dqkv, h, nnz, dh, true);
  }
}
