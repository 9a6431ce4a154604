/**
 * The BERT encoder on unpadded rows, assembled from an {@link Architecture} spec (MosaicBERT or classic BERT) as a
 * short sequence of forward/backward pairs:
 *
 *   h0 = Embeddings(ids, token types [, positions])                     layers/embeddings.ts
 *   per layer l:  h1 = AttentionBlock(h_l)  ;  h_{l+1} = FeedForward(h1)  layers/attention.ts, layers/feed_forward.ts
 *
 * Activations: in training each layer has its own typed activation structs (allocated once, grown to the largest
 * batch); in inference mode (`inference: true`) every layer reuses one set and the hidden state alternates between
 * two buffers, so memory is one layer's `[nnz, *]` buffers whatever the depth. On the last layer, `subset`
 * restricts everything after attention to the given rows (the reference's `subset_idx`).
 */
import type { Kernels } from '../kernels/types.js';
import type { Architecture } from './architecture.js';
import type { EncoderConfig } from './config.js';
import type { ParamStore } from './params.js';
import type { UnpaddedBatch } from './batch.js';
import { alibiSlopes } from './alibi.js';
import type { ActivationArena, GrowF32 } from './layers/buffers.js';
import type { ForwardContext } from './layers/dropout.js';
import { embeddingActivations, type EmbeddingActivations, Embeddings } from './layers/embeddings.js';
import { attentionActivations, type AttentionActivations, AttentionBlock } from './layers/attention.js';
import { FeedForward, feedForwardActivations, type FeedForwardActivations } from './layers/feed_forward.js';
import { backwardScratch, type BackwardScratch } from './layers/scratch.js';
import type { Linear } from './layers/linear.js';

/** Options of a model forward pass. */
export interface ForwardOptions {
  /** Dropout on (hidden_dropout_prob, attention_probs_dropout_prob); off at evaluation (default). */
  training?: boolean;
  /** Philox key and counter (distinct per step or microbatch) of the dropout masks (defaults 0). */
  seed?: number;
  step?: number;
  /** Keep a copy of every layer's output and of layer 0's intermediates on the encoder (parity checks). */
  keepHiddenStates?: boolean;
}

/** Options of one encoder forward pass. */
export interface EncoderForwardOptions extends ForwardOptions {
  training: boolean;
  /** Rows (indices into the nnz rows, increasing) that the last layer computes after attention. */
  subset?: Int32Array;
  /**
   * Inference mode: one layer's activation buffers, reused by every layer; `backward()` is unavailable after such
   * a forward. Results are identical to the default mode.
   */
  inference?: boolean;
}

/** One encoder layer: the attention block and the feed-forward block. */
export interface EncoderLayer {
  attention: AttentionBlock;
  ffn: FeedForward;
}

interface LayerActivations { attention: AttentionActivations; ffn: FeedForwardActivations }

export class Encoder {
  readonly embeddings: Embeddings;
  readonly layers: EncoderLayer[];
  /** `[heads]` ALiBi slopes (all zero for classic BERT: plain softmax attention). */
  readonly slopes: Float32Array;
  /** Per-layer outputs of the last forward when `keepHiddenStates` (layer l: `[rows_l, H]`). */
  hiddenStates: Float32Array[] = [];
  /**
   * With `keepHiddenStates`: copies of `embedding_output` `[nnz, H]` and of layer 0's intermediates
   * (`layer0.qkv`, `layer0.attn_context`, `layer0.attn_output`, `layer0.glu_product`), named as in the fixtures.
   */
  captured = new Map<string, Float32Array>();

  private readonly embActs: EmbeddingActivations;
  private readonly trainActs: LayerActivations[] = [];
  private inferActs: LayerActivations | null = null;
  /** Training: h_0 .. h_L; inference: two alternating buffers. */
  private readonly hidden: GrowF32[] = [];
  private readonly inferHidden: [GrowF32, GrowF32];
  private readonly scratch: BackwardScratch;
  private last: { u: UnpaddedBatch; opt: EncoderForwardOptions; ctx: ForwardContext } | null = null;
  private nOut = 0;

  constructor(readonly cfg: EncoderConfig, readonly arch: Architecture, P: ParamStore, k: Kernels,
    private readonly arena: ActivationArena) {
    const H = cfg.hidden_size, L = cfg.num_hidden_layers;
    this.slopes = arch.positions === 'alibi' ? alibiSlopes(cfg.num_attention_heads) : new Float32Array(cfg.num_attention_heads);
    this.embeddings = new Embeddings(k, P, cfg, arch.positions === 'learned');
    this.layers = [];
    for (let l = 0; l < L; l++) {
      // Classic BERT's query/key/value are stored back to back: one [3H, H] span, as MosaicBERT's Wqkv.
      const a = `bert.encoder.layer.${l}.attention.self.`, fused = arch.qkv === 'fused';
      const qkv = (k: 'weight' | 'bias') => (fused ? P.require(`${a}Wqkv.${k}`) : P.span(`${a}qkv.${k}`, `${a}query.${k}`, `${a}value.${k}`));
      this.layers.push({
        attention: new AttentionBlock(k, P, l, { hidden: H, heads: cfg.num_attention_heads,
          attentionDropout: cfg.attention_probs_dropout_prob, hiddenDropout: cfg.hidden_dropout_prob,
          layerNormEps: cfg.layer_norm_eps }, qkv('weight'), qkv('bias'), this.slopes),
        ffn: new FeedForward(k, P, l, arch.ffn, H, cfg.intermediate_size, cfg.hidden_dropout_prob, cfg.layer_norm_eps),
      });
    }
    this.embActs = embeddingActivations(arena);
    this.inferHidden = [arena.f32(), arena.f32()];
    this.scratch = backwardScratch(arena);
  }

  /** Every projection of the encoder, in layer order (qkv, attention output, FFN input, FFN output). */
  linears(): Linear[] {
    return this.layers.flatMap((l) => [l.attention.qkv, l.attention.output, l.ffn.input, l.ffn.output]);
  }

  private layerActs(l: number, inference: boolean): LayerActivations {
    const make = () => ({ attention: attentionActivations(this.arena), ffn: feedForwardActivations(this.arena) });
    if (inference) return (this.inferActs ??= make());
    while (this.trainActs.length <= l) this.trainActs.push(make());
    return this.trainActs[l];
  }

  private hiddenBuf(l: number, inference: boolean): GrowF32 {
    if (inference) return this.inferHidden[l % 2];
    while (this.hidden.length <= l) this.hidden.push(this.arena.f32());
    return this.hidden[l];
  }

  /**
   * Runs embeddings and all layers. Returns the last layer's output `[rows, hidden]` where rows = nnz, or
   * `subset.length` when a subset is given (rows in subset order). The view stays valid until the next forward.
   */
  forward(u: UnpaddedBatch, opt: EncoderForwardOptions): Float32Array {
    const H = this.cfg.hidden_size, L = this.layers.length, nnz = u.nnz, inf = !!opt.inference;
    this.hiddenStates = [];
    this.captured = new Map();
    const captured = this.captured;
    const ctx: ForwardContext = { training: opt.training, seed: opt.seed ?? 0, step: opt.step ?? 0,
      capture: opt.keepHiddenStates ? (name, t) => { captured.set(name, t.slice()); } : undefined };
    this.last = { u, opt, ctx };
    let h = this.hiddenBuf(0, inf).get(nnz * H);
    this.embeddings.forward(u, ctx, this.embActs, h);
    this.nOut = nnz;
    for (let l = 0; l < L; l++) {
      const sub = l === L - 1 ? opt.subset : undefined;
      const n = sub ? sub.length : nnz;
      const a = this.layerActs(l, inf), layer = this.layers[l];
      const h1 = layer.attention.forward(h, u, sub, ctx, a.attention);
      const out = this.hiddenBuf(l + 1, inf).get(n * H);
      layer.ffn.forward(h1, n, ctx, a.ffn, out);
      if (opt.keepHiddenStates) this.hiddenStates.push(out.slice());
      h = out;
      this.nOut = n;
    }
    return h;
  }

  /**
   * Backward of the last {@link forward}: `dOut` is the gradient of its output (`[rows, hidden]`; it is clobbered).
   * Accumulates every encoder parameter's gradient into `grads` (same layout as the parameters).
   * @throws Error before any forward, or after an inference-mode forward.
   */
  backward(dOut: Float32Array, grads: ParamStore): void {
    const last = this.last;
    if (!last) throw new Error('Encoder.backward called before forward');
    if (last.opt.inference) throw new Error('Encoder.backward: the last forward ran in inference mode');
    const { u, opt, ctx } = last;
    const H = this.cfg.hidden_size, L = this.layers.length, nnz = u.nnz, S = this.scratch;
    let dh = dOut;
    for (let l = L - 1; l >= 0; l--) {
      const sub = l === L - 1 ? opt.subset : undefined;
      const n = sub ? sub.length : nnz;
      const a = this.trainActs[l], layer = this.layers[l];
      const dh1 = layer.ffn.backward(grads, dh, a.attention.out.last, n, ctx, a.ffn, S);
      const dh0 = (l % 2 ? S.dhA : S.dhB).get(nnz * H);
      layer.attention.backward(grads, dh1, this.hidden[l].get(nnz * H), u, sub, ctx, a.attention, S, dh0);
      dh = dh0;
    }
    this.embeddings.backward(grads, dh, u, ctx, this.embActs, S);
  }

  /** Rows of the last forward's output. */
  get outputRows(): number {
    return this.nOut;
  }
}
