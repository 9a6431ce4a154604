/**
 * The classic-BERT encoder (HF `BertModel` without pooler) on unpadded rows, as forward/backward over planned
 * workspace buffers:
 *
 *   emb = Dropout(LN(word[ids] + position[pos] + type[tt]))          pos = token index within its sequence
 *   per layer:  qkv = h [Wq; Wk; Wv]^T + [bq | bk | bv]              (one GEMM, fused layout, see params.ts)
 *               ctx = softmax(q k^T / sqrt(d)) v  within each sequence (unpadded attention kernel, slopes = 0)
 *               h1  = LN(Dropout(ctx Wo^T + bo) + h)
 *               h2  = LN(Dropout(gelu(h1 Wi^T + bi) Wout^T + bout) + h1)
 *
 * Equivalence with HF's padded computation (right padding): HF adds `(1 - mask) * finfo.min` (or -10000) to the
 * scores of padding keys, and exp of that underflows to exactly 0 in float32, so a valid query attends to its own
 * sequence's valid keys only — exactly what the unpadded kernel computes with every ALiBi slope 0 (the bias
 * `-0 * |i - j|` vanishes). HF's position ids are `0..S-1` on every row, so under right padding a valid token at
 * column s has position s, its index within its sequence. Every other op is row-wise, so the valid rows agree; HF's
 * outputs at padding rows are never used by the losses (labels there are -100; the pooler reads row 0).
 *
 * `subset` (MLM with labels) restricts the last layer after attention to the given rows (keys/values still use every
 * row), as the MosaicBERT encoder does: the same math for the rows kept.
 */
import type { Kernels } from '../../kernels/types.js';
import type { ParamStore } from '../params.js';
import type { UnpaddedBatch } from '../batch.js';
import type { Workspace } from '../workspace.js';
import type { EncoderForwardOptions } from '../encoder.js';
import { linearBackward, linearForward } from '../layers/linear.js';
import type { BertConfig } from './config.js';
import { fusedQkv } from './params.js';

const SITE = { embeddings: 0, attentionProbs: 1, attentionOutput: 2, ffnOutput: 3 } as const;

export class BertEncoder {
  /** All-zero "ALiBi" slopes: the attention kernel then computes plain softmax attention. */
  readonly slopes: Float32Array;
  private u: UnpaddedBatch | null = null;
  private opt: EncoderForwardOptions = { training: false };
  private nOut = 0;
  /** Per-layer outputs of the last forward when `keepHiddenStates` (layer l: `[rows_l, H]`). */
  hiddenStates: Float32Array[] = [];

  constructor(readonly cfg: BertConfig, readonly params: ParamStore, readonly k: Kernels, readonly ws: Workspace) {
    this.slopes = new Float32Array(cfg.num_attention_heads);
  }

  private stream(layer: number, site: number): number {
    return ((this.opt.step ?? 0) * 1024 + layer) * 8 + site;
  }

  private dropout(x: Float32Array, n: number, p: number, layer: number, site: number, maskName: string): void {
    if (!this.opt.training || p === 0) return;
    this.k.dropoutForward(x, n, p, this.opt.seed ?? 0, this.stream(layer, site), x, this.ws.u8(maskName, n));
  }

  private dropoutBack(d: Float32Array, n: number, p: number, maskName: string): void {
    if (!this.opt.training || p === 0) return;
    this.k.dropoutBackward(d, this.ws.u8(maskName, n), n, p, d);
  }

  /**
   * `[nnz]` position ids: each valid token's column `s` (= index within its right-padded sequence).
   * @throws Error when a sequence is longer than `max_position_embeddings`.
   */
  positionIds(u: UnpaddedBatch): Int32Array {
    const pos = this.ws.i32('bert.pos', u.nnz);
    for (let j = 0; j < u.nnz; j++) pos[j] = u.indices[j] % u.seqlen;
    for (let b = 0; b < u.batch; b++) {
      const len = u.cuSeqlens[b + 1] - u.cuSeqlens[b];
      if (len > this.cfg.max_position_embeddings) {
        throw new Error(`batch: sequence ${b} has ${len} tokens, more than max_position_embeddings ` +
          `(${this.cfg.max_position_embeddings})`);
      }
    }
    return pos;
  }

  /**
   * Embeddings and every layer. Returns the last layer's output `[rows, hidden]` (rows = nnz, or `subset.length`
   * in subset order); the view stays valid until the next forward.
   */
  forward(u: UnpaddedBatch, opt: EncoderForwardOptions): Float32Array {
    const { cfg, k, ws, params: P } = this;
    const H = cfg.hidden_size, nh = cfg.num_attention_heads, d = H / nh, I = cfg.intermediate_size;
    const L = cfg.num_hidden_layers, nnz = u.nnz, pH = cfg.hidden_dropout_prob, eps = cfg.layer_norm_eps;
    this.u = u; this.opt = opt; this.hiddenStates = [];

    const pos = this.positionIds(u);
    const embSum = ws.f32('emb.sum', nnz * H), embPos = ws.f32('emb.pos', nnz * H);
    k.embeddingForward(u.ids, u.typeIds, nnz, H, P.get('bert.embeddings.word_embeddings.weight'), cfg.vocab_size,
      P.get('bert.embeddings.token_type_embeddings.weight'), cfg.type_vocab_size, embSum);
    k.gatherRows(P.get('bert.embeddings.position_embeddings.weight'), pos, nnz, H, embPos);
    k.axpby(nnz * H, 1, embPos, 1, embSum);
    let h = ws.f32('h.0', nnz * H);
    k.layerNormForward(embSum, null, P.get('bert.embeddings.LayerNorm.weight'), P.get('bert.embeddings.LayerNorm.bias'),
      nnz, H, eps, null, h, ws.f32('emb.mean', nnz), ws.f32('emb.rstd', nnz));
    this.dropout(h, nnz * H, pH, L, SITE.embeddings, 'emb.mask');

    for (let l = 0; l < L; l++) {
      const p = `bert.encoder.layer.${l}.`;
      const sub = l === L - 1 ? opt.subset : undefined;
      const n = sub ? sub.length : nnz;
      const qkvP = fusedQkv(P, l, H);
      const qkv = ws.f32(`qkv.${l}`, nnz * 3 * H);
      linearForward(k, h, nnz, H, qkvP.weight, qkvP.bias, 3 * H, qkv);
      let ctx = ws.f32(`ctx.${l}`, nnz * H);
      k.attentionForward(qkv, u.cuSeqlens, u.batch, nh, d, this.slopes,
        opt.training ? cfg.attention_probs_dropout_prob : 0, opt.seed ?? 0, this.stream(l, SITE.attentionProbs),
        ctx, ws.f32(`lse.${l}`, nh * nnz));
      let hin = h;
      if (sub) {
        const cs = ws.f32(`ctxs.${l}`, n * H), hs = ws.f32(`hs.${l}`, n * H);
        k.gatherRows(ctx, sub, n, H, cs);
        k.gatherRows(h, sub, n, H, hs);
        ctx = cs; hin = hs;
      }
      const a = ws.f32(`s1.${l}`, n * H);
      linearForward(k, ctx, n, H, P.get(p + 'attention.output.dense.weight'), P.get(p + 'attention.output.dense.bias'), H, a);
      this.dropout(a, n * H, pH, l, SITE.attentionOutput, `m1.${l}`);
      const h1 = ws.f32(`h1.${l}`, n * H);
      k.layerNormForward(a, hin, P.get(p + 'attention.output.LayerNorm.weight'), P.get(p + 'attention.output.LayerNorm.bias'),
        n, H, eps, a, h1, ws.f32(`mean1.${l}`, n), ws.f32(`rstd1.${l}`, n));
      // FFN: gelu(h1 Wi^T + bi) Wout^T + bout, dropout, + h1, LN.
      const x = ws.f32(`x.${l}`, n * I), y = ws.f32(`y.${l}`, n * I);
      linearForward(k, h1, n, H, P.get(p + 'intermediate.dense.weight'), P.get(p + 'intermediate.dense.bias'), I, x);
      k.geluForward(x, n * I, y);
      const z = ws.f32(`s2.${l}`, n * H);
      linearForward(k, y, n, I, P.get(p + 'output.dense.weight'), P.get(p + 'output.dense.bias'), H, z);
      this.dropout(z, n * H, pH, l, SITE.ffnOutput, `m2.${l}`);
      const h2 = ws.f32(`h.${l + 1}`, n * H);
      k.layerNormForward(z, h1, P.get(p + 'output.LayerNorm.weight'), P.get(p + 'output.LayerNorm.bias'), n, H, eps,
        z, h2, ws.f32(`mean2.${l}`, n), ws.f32(`rstd2.${l}`, n));
      if (opt.keepHiddenStates) this.hiddenStates.push(h2.slice());
      h = h2;
      this.nOut = n;
    }
    if (L === 0) this.nOut = nnz;
    return h;
  }

  /**
   * Backward of the last {@link forward}: `dOut` `[rows, hidden]` is the gradient of its output (clobbered).
   * Accumulates every encoder parameter's gradient into `grads` (same layout as the parameters; the fused q/k/v
   * gradient lands in the `query/key/value` entries).
   */
  backward(dOut: Float32Array, grads: ParamStore): void {
    const u = this.u;
    if (!u) throw new Error('BertEncoder.backward called before forward');
    const { cfg, k, ws, params: P } = this;
    const G = grads;
    const H = cfg.hidden_size, nh = cfg.num_attention_heads, d = H / nh, I = cfg.intermediate_size;
    const L = cfg.num_hidden_layers, nnz = u.nnz, pH = cfg.hidden_dropout_prob, opt = this.opt;
    let dh = dOut;
    for (let l = L - 1; l >= 0; l--) {
      const p = `bert.encoder.layer.${l}.`;
      const sub = l === L - 1 ? opt.subset : undefined;
      const n = sub ? sub.length : nnz;
      const h = ws.f32(`h.${l}`, nnz * H);
      // output.LayerNorm: ds2 is the gradient of the dropped FFN output and of the residual h1.
      const ds2 = ws.f32('b.ds2', n * H);
      k.layerNormBackward(dh, ws.f32(`s2.${l}`, n * H), P.get(p + 'output.LayerNorm.weight'), ws.f32(`mean2.${l}`, n),
        ws.f32(`rstd2.${l}`, n), n, H, ds2, G.get(p + 'output.LayerNorm.weight'), G.get(p + 'output.LayerNorm.bias'));
      const dh1 = ws.f32('b.dh1', n * H);
      dh1.set(ds2);
      this.dropoutBack(ds2, n * H, pH, `m2.${l}`);
      const dy = ws.f32('b.dy', n * I);
      linearBackward(k, ds2, ws.f32(`y.${l}`, n * I), n, I, P.get(p + 'output.dense.weight'), H,
        G.get(p + 'output.dense.weight'), G.get(p + 'output.dense.bias'), dy);
      k.geluBackward(ws.f32(`x.${l}`, n * I), dy, n * I, dy);
      linearBackward(k, dy, ws.f32(`h1.${l}`, n * H), n, H, P.get(p + 'intermediate.dense.weight'), I,
        G.get(p + 'intermediate.dense.weight'), G.get(p + 'intermediate.dense.bias'), dh1, true);
      // attention.output.LayerNorm
      const ds1 = ws.f32('b.ds1', n * H);
      k.layerNormBackward(dh1, ws.f32(`s1.${l}`, n * H), P.get(p + 'attention.output.LayerNorm.weight'),
        ws.f32(`mean1.${l}`, n), ws.f32(`rstd1.${l}`, n), n, H, ds1, G.get(p + 'attention.output.LayerNorm.weight'),
        G.get(p + 'attention.output.LayerNorm.bias'));
      const dh0 = ws.f32(l % 2 ? 'b.dhA' : 'b.dhB', nnz * H);
      if (sub) { dh0.fill(0); k.scatterRows(ds1, sub, n, H, dh0); } else dh0.set(ds1);
      this.dropoutBack(ds1, n * H, pH, `m1.${l}`);
      const dctx = ws.f32('b.dctx', nnz * H);
      if (sub) {
        const dcs = ws.f32('b.dctxs', n * H);
        linearBackward(k, ds1, ws.f32(`ctxs.${l}`, n * H), n, H, P.get(p + 'attention.output.dense.weight'), H,
          G.get(p + 'attention.output.dense.weight'), G.get(p + 'attention.output.dense.bias'), dcs);
        dctx.fill(0);
        k.scatterRows(dcs, sub, n, H, dctx);
      } else {
        linearBackward(k, ds1, ws.f32(`ctx.${l}`, nnz * H), n, H, P.get(p + 'attention.output.dense.weight'), H,
          G.get(p + 'attention.output.dense.weight'), G.get(p + 'attention.output.dense.bias'), dctx);
      }
      const qkv = ws.f32(`qkv.${l}`, nnz * 3 * H), dqkv = ws.f32('b.dqkv', nnz * 3 * H);
      k.attentionBackward(qkv, u.cuSeqlens, u.batch, nh, d, this.slopes,
        opt.training ? cfg.attention_probs_dropout_prob : 0, opt.seed ?? 0, this.stream(l, SITE.attentionProbs),
        ws.f32(`ctx.${l}`, nnz * H), ws.f32(`lse.${l}`, nh * nnz), dctx, dqkv);
      const qkvP = fusedQkv(P, l, H), qkvG = fusedQkv(G, l, H);
      linearBackward(k, dqkv, h, nnz, H, qkvP.weight, 3 * H, qkvG.weight, qkvG.bias, dh0, true);
      dh = dh0;
    }
    // Embeddings: word (padding row excluded, as nn.Embedding(padding_idx)), position, token type.
    this.dropoutBack(dh, nnz * H, pH, 'emb.mask');
    const demb = ws.f32('b.demb', nnz * H);
    k.layerNormBackward(dh, ws.f32('emb.sum', nnz * H), P.get('bert.embeddings.LayerNorm.weight'),
      ws.f32('emb.mean', nnz), ws.f32('emb.rstd', nnz), nnz, H, demb, G.get('bert.embeddings.LayerNorm.weight'),
      G.get('bert.embeddings.LayerNorm.bias'));
    k.embeddingBackward(u.ids, nnz, H, demb, G.get('bert.embeddings.word_embeddings.weight'), cfg.vocab_size,
      cfg.pad_token_id);
    k.embeddingBackward(ws.i32('bert.pos', nnz), nnz, H, demb, G.get('bert.embeddings.position_embeddings.weight'),
      cfg.max_position_embeddings, -1);
    k.embeddingBackward(u.typeIds, nnz, H, demb, G.get('bert.embeddings.token_type_embeddings.weight'),
      cfg.type_vocab_size, -1);
  }

  /** Rows of the last forward's output. */
  get outputRows(): number {
    return this.nOut;
  }
}
