/**
 * The MosaicBERT encoder on unpadded rows (docs/mosaicbert.md §1.2-1.7), as forward/backward pairs over planned
 * buffers:
 *
 *   emb = Dropout(LN(word[ids] + type[tt]))                                   (no position embeddings)
 *   per layer:  qkv = h Wqkv^T + b ;  ctx = ALiBiAttention(qkv, cu_seqlens)   (unpadded, fused kernel)
 *               h1 = LN(Dropout(ctx Wo^T + bo) + h)                           (post-LN)
 *               h2 = LN(Wwo(Dropout(gelu(h1 Wg^T)[:, :I] * (h1 Wg^T)[:, I:])) + bwo + h1)   (GeGLU)
 *
 * On the last layer, `subset` (the MLM masked rows plus each [CLS]) restricts everything after attention to those
 * rows, as the reference's `subset_idx` does: attention still uses every row as keys and values.
 */
import type { Kernels } from '../kernels/types.js';
import type { MosaicBertConfig } from './config.js';
import type { ParamStore } from './params.js';
import type { UnpaddedBatch } from './batch.js';
import type { Workspace } from './workspace.js';
import { alibiSlopes } from './alibi.js';
import { linearBackward, linearForward } from './layers/linear.js';

/** Options of one forward pass. */
export interface EncoderForwardOptions {
  /** Dropout on (hidden_dropout_prob, attention_probs_dropout_prob); off at evaluation. */
  training: boolean;
  /** Philox key of the dropout masks. */
  seed?: number;
  /** Distinct per step (or microbatch) so masks differ; part of the Philox stream. */
  step?: number;
  /** Rows (indices into the nnz rows, increasing) that the last layer computes after attention. */
  subset?: Int32Array;
  /** Keep a copy of every layer's output (for parity checks). */
  keepHiddenStates?: boolean;
  /**
   * Inference mode: every layer writes into the same named buffers (the hidden state ping-pongs between two), so
   * activation memory is one layer's `[nnz, *]` buffers instead of L of them. `backward()` is unavailable after
   * such a forward. Results are identical to the default mode.
   */
  inference?: boolean;
}

/** Dropout call sites, part of each mask's Philox stream. */
const SITE = { embeddings: 0, attentionProbs: 1, attentionOutput: 2, mlp: 3 } as const;

export class MosaicBertEncoder {
  readonly slopes: Float32Array;
  private u: UnpaddedBatch | null = null;
  private opt: EncoderForwardOptions = { training: false };
  private nOut = 0;
  /** Per-layer outputs of the last forward when `keepHiddenStates` (layer l: `[rows_l, H]`). */
  hiddenStates: Float32Array[] = [];
  /**
   * With `keepHiddenStates`: copies of `embedding_output` `[nnz, H]` and of layer 0's intermediates
   * (`layer0.qkv`, `layer0.attn_context`, `layer0.attn_output`, `layer0.glu_product`), named as in the fixtures.
   */
  captured = new Map<string, Float32Array>();

  constructor(readonly cfg: MosaicBertConfig, readonly params: ParamStore, readonly k: Kernels,
    readonly ws: Workspace) {
    this.slopes = alibiSlopes(cfg.num_attention_heads);
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
   * Runs embeddings and all layers. Returns the last layer's output `[rows, hidden]` where rows = nnz, or
   * `subset.length` when a subset is given (rows in subset order). The view stays valid until the next forward.
   */
  forward(u: UnpaddedBatch, opt: EncoderForwardOptions): Float32Array {
    const { cfg, k, ws, params: P } = this;
    const H = cfg.hidden_size, nh = cfg.num_attention_heads, d = H / nh, I = cfg.intermediate_size;
    const L = cfg.num_hidden_layers, nnz = u.nnz, pH = cfg.hidden_dropout_prob;
    this.u = u; this.opt = opt; this.hiddenStates = []; this.captured = new Map();
    const keep = (name: string, t: Float32Array) => { if (opt.keepHiddenStates) this.captured.set(name, t.slice()); };
    // Buffer names: per layer for the backward, or one shared set in inference mode (`h` alternates between two).
    const inf = !!opt.inference;
    const nm = (base: string, l: number) => (inf ? `inf.${base}` : `${base}.${l}`);
    const hName = (l: number) => (inf ? `inf.h.${l % 2}` : `h.${l}`);

    // Embeddings: LN(word + type), dropout.
    const embSum = ws.f32('emb.sum', nnz * H);
    k.embeddingForward(u.ids, u.typeIds, nnz, H, P.get('bert.embeddings.word_embeddings.weight'), cfg.vocab_size,
      P.get('bert.embeddings.token_type_embeddings.weight'), cfg.type_vocab_size, embSum);
    let h = ws.f32(hName(0), nnz * H);
    k.layerNormForward(embSum, null, P.get('bert.embeddings.LayerNorm.weight'), P.get('bert.embeddings.LayerNorm.bias'),
      nnz, H, cfg.layer_norm_eps, null, h, ws.f32('emb.mean', nnz), ws.f32('emb.rstd', nnz));
    this.dropout(h, nnz * H, pH, L, SITE.embeddings, 'emb.mask');
    keep('embedding_output', h);

    for (let l = 0; l < L; l++) {
      const p = `bert.encoder.layer.${l}.`;
      const sub = l === L - 1 ? opt.subset : undefined;
      const n = sub ? sub.length : nnz;
      // Attention over all rows.
      const qkv = ws.f32(nm('qkv', l), nnz * 3 * H);
      linearForward(k, h, nnz, H, P.get(p + 'attention.self.Wqkv.weight'), P.get(p + 'attention.self.Wqkv.bias'), 3 * H, qkv);
      if (l === 0) keep('layer0.qkv', qkv);
      let ctx = ws.f32(nm('ctx', l), nnz * H);
      k.attentionForward(qkv, u.cuSeqlens, u.batch, nh, d, this.slopes,
        opt.training ? cfg.attention_probs_dropout_prob : 0, opt.seed ?? 0, this.stream(l, SITE.attentionProbs),
        ctx, ws.f32(nm('lse', l), nh * nnz));
      if (l === 0) keep('layer0.attn_context', ctx);
      let hin = h;
      if (sub) {
        const cs = ws.f32(nm('ctxs', l), n * H), hs = ws.f32(nm('hs', l), n * H);
        k.gatherRows(ctx, sub, n, H, cs);
        k.gatherRows(h, sub, n, H, hs);
        ctx = cs; hin = hs;
      }
      // h1 = LN(dropout(ctx Wo^T + bo) + h)
      const a = ws.f32(nm('s1', l), n * H);
      linearForward(k, ctx, n, H, P.get(p + 'attention.output.dense.weight'), P.get(p + 'attention.output.dense.bias'), H, a);
      this.dropout(a, n * H, pH, l, SITE.attentionOutput, nm('m1', l));
      const h1 = ws.f32(nm('h1', l), n * H);
      k.layerNormForward(a, hin, P.get(p + 'attention.output.LayerNorm.weight'), P.get(p + 'attention.output.LayerNorm.bias'),
        n, H, cfg.layer_norm_eps, a, h1, ws.f32(nm('mean1', l), n), ws.f32(nm('rstd1', l), n));
      if (l === 0) keep('layer0.attn_output', h1);
      // GeGLU: y = gelu(x[:, :I]) * x[:, I:], dropout, wo, + residual, LN.
      const x = ws.f32(nm('x', l), n * 2 * I);
      linearForward(k, h1, n, H, P.get(p + 'mlp.gated_layers.weight'), null, 2 * I, x);
      const y = ws.f32(nm('y', l), n * I);
      k.gegluForward(x, n, I, y);
      if (l === 0) keep('layer0.glu_product', y);
      this.dropout(y, n * I, pH, l, SITE.mlp, nm('m2', l));
      const z = ws.f32(nm('s2', l), n * H);
      linearForward(k, y, n, I, P.get(p + 'mlp.wo.weight'), P.get(p + 'mlp.wo.bias'), H, z);
      const h2 = ws.f32(hName(l + 1), n * H);
      k.layerNormForward(z, h1, P.get(p + 'mlp.layernorm.weight'), P.get(p + 'mlp.layernorm.bias'), n, H,
        cfg.layer_norm_eps, z, h2, ws.f32(nm('mean2', l), n), ws.f32(nm('rstd2', l), n));
      if (opt.keepHiddenStates) this.hiddenStates.push(h2.slice());
      h = h2;
      this.nOut = n;
    }
    if (L === 0) this.nOut = nnz;
    return h;
  }

  /**
   * Backward of the last {@link forward}: `dOut` is the gradient of its output (`[rows, hidden]`; it is clobbered).
   * Accumulates every encoder parameter's gradient into `grads` (same layout as the parameters).
   */
  backward(dOut: Float32Array, grads: ParamStore): void {
    const u = this.u;
    if (!u) throw new Error('MosaicBertEncoder.backward called before forward');
    if (this.opt.inference) throw new Error('MosaicBertEncoder.backward: the last forward ran in inference mode');
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
      // mlp.layernorm
      const dz = ws.f32('b.dz', n * H);
      k.layerNormBackward(dh, ws.f32(`s2.${l}`, n * H), P.get(p + 'mlp.layernorm.weight'), ws.f32(`mean2.${l}`, n),
        ws.f32(`rstd2.${l}`, n), n, H, dz, G.get(p + 'mlp.layernorm.weight'), G.get(p + 'mlp.layernorm.bias'));
      const dh1 = ws.f32('b.dh1', n * H);
      dh1.set(dz);
      // wo
      const dy = ws.f32('b.dy', n * I);
      linearBackward(k, dz, ws.f32(`y.${l}`, n * I), n, I, P.get(p + 'mlp.wo.weight'), H, G.get(p + 'mlp.wo.weight'),
        G.get(p + 'mlp.wo.bias'), dy);
      this.dropoutBack(dy, n * I, pH, `m2.${l}`);
      const dx = ws.f32('b.dx', n * 2 * I);
      k.gegluBackward(ws.f32(`x.${l}`, n * 2 * I), dy, n, I, dx);
      linearBackward(k, dx, ws.f32(`h1.${l}`, n * H), n, H, P.get(p + 'mlp.gated_layers.weight'), 2 * I,
        G.get(p + 'mlp.gated_layers.weight'), null, dh1, true);
      // attention.output.LayerNorm: ds1 is the gradient of both the dense branch and the residual h.
      const ds1 = ws.f32('b.ds1', n * H);
      k.layerNormBackward(dh1, ws.f32(`s1.${l}`, n * H), P.get(p + 'attention.output.LayerNorm.weight'),
        ws.f32(`mean1.${l}`, n), ws.f32(`rstd1.${l}`, n), n, H, ds1, G.get(p + 'attention.output.LayerNorm.weight'),
        G.get(p + 'attention.output.LayerNorm.bias'));
      const dh0 = ws.f32(l % 2 ? 'b.dhA' : 'b.dhB', nnz * H);
      if (sub) { dh0.fill(0); k.scatterRows(ds1, sub, n, H, dh0); } else dh0.set(ds1);
      this.dropoutBack(ds1, n * H, pH, `m1.${l}`);
      const ctxIn = sub ? ws.f32(`ctxs.${l}`, n * H) : ws.f32(`ctx.${l}`, nnz * H);
      let dctx = ws.f32('b.dctx', nnz * H);
      if (sub) {
        const dcs = ws.f32('b.dctxs', n * H);
        linearBackward(k, ds1, ctxIn, n, H, P.get(p + 'attention.output.dense.weight'), H,
          G.get(p + 'attention.output.dense.weight'), G.get(p + 'attention.output.dense.bias'), dcs);
        dctx.fill(0);
        k.scatterRows(dcs, sub, n, H, dctx);
      } else {
        linearBackward(k, ds1, ctxIn, n, H, P.get(p + 'attention.output.dense.weight'), H,
          G.get(p + 'attention.output.dense.weight'), G.get(p + 'attention.output.dense.bias'), dctx);
      }
      // attention
      const qkv = ws.f32(`qkv.${l}`, nnz * 3 * H);
      const dqkv = ws.f32('b.dqkv', nnz * 3 * H);
      k.attentionBackward(qkv, u.cuSeqlens, u.batch, nh, d, this.slopes,
        opt.training ? cfg.attention_probs_dropout_prob : 0, opt.seed ?? 0, this.stream(l, SITE.attentionProbs),
        ws.f32(`ctx.${l}`, nnz * H), ws.f32(`lse.${l}`, nh * nnz), dctx, dqkv);
      linearBackward(k, dqkv, h, nnz, H, P.get(p + 'attention.self.Wqkv.weight'), 3 * H,
        G.get(p + 'attention.self.Wqkv.weight'), G.get(p + 'attention.self.Wqkv.bias'), dh0, true);
      dh = dh0;
    }
    // Embeddings.
    this.dropoutBack(dh, nnz * H, pH, 'emb.mask');
    const demb = ws.f32('b.demb', nnz * H);
    k.layerNormBackward(dh, ws.f32('emb.sum', nnz * H), P.get('bert.embeddings.LayerNorm.weight'),
      ws.f32('emb.mean', nnz), ws.f32('emb.rstd', nnz), nnz, H, demb, G.get('bert.embeddings.LayerNorm.weight'),
      G.get('bert.embeddings.LayerNorm.bias'));
    k.embeddingBackward(u.ids, nnz, H, demb, G.get('bert.embeddings.word_embeddings.weight'), cfg.vocab_size,
      cfg.pad_token_id);
    k.embeddingBackward(u.typeIds, nnz, H, demb, G.get('bert.embeddings.token_type_embeddings.weight'),
      cfg.type_vocab_size, -1);
  }

  /** Rows of the last forward's output. */
  get outputRows(): number {
    return this.nOut;
  }
}
