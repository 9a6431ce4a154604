/**
 * BERT embeddings on unpadded rows: `h0 = Dropout(LN(word[ids] + type[token_type_ids] (+ position[pos])))`.
 * MosaicBERT has no position table (ALiBi carries position inside attention; reference `BertEmbeddings`, Portes
 * et al. 2023 §3.1); classic BERT adds learned absolute positions, `pos` = the token's index within its
 * right-padded sequence (HF `BertEmbeddings` with `position_ids = arange(S)`). The word-embedding gradient skips
 * `pad_token_id` (PyTorch `nn.Embedding(padding_idx)`).
 *
 * Shapes: ids / type ids / positions `[nnz]` int32, output `[nnz, H]` float32.
 */
import type { Kernels } from '../../kernels/types.js';
import type { EncoderConfig } from '../config.js';
import type { ParamSpec, ParamStore } from '../params.js';
import type { UnpaddedBatch } from '../batch.js';
import type { ActivationArena, GrowI32 } from './buffers.js';
import { DROPOUT_SITE, Dropout, type ForwardContext } from './dropout.js';
import { LayerNorm, layerNormActivations } from './layer_norm.js';
import type { BackwardScratch } from './scratch.js';

/**
 * What the embeddings keep for their backward: `sum` `[nnz, H]` the summed embeddings (LayerNorm input),
 * `positionRows` `[nnz, H]` and `positionIds` `[nnz]` (classic BERT).
 */
export const embeddingActivations = (a: ActivationArena) =>
  ({ ...a.f32s('sum', 'positionRows'), positionIds: a.i32(), ln: layerNormActivations(a), mask: a.u8() });
export type EmbeddingActivations = ReturnType<typeof embeddingActivations>;

export class Embeddings {
  private readonly word: ParamSpec;
  private readonly type: ParamSpec;
  private readonly position: ParamSpec | null;
  readonly ln: LayerNorm;
  private readonly dropout: Dropout;

  /** @param learnedPositions classic BERT's `position_embeddings` table (MosaicBERT: false). */
  constructor(private readonly k: Kernels, private readonly P: ParamStore, private readonly cfg: EncoderConfig,
    learnedPositions: boolean) {
    this.word = P.require('bert.embeddings.word_embeddings.weight');
    this.type = P.require('bert.embeddings.token_type_embeddings.weight');
    this.position = learnedPositions ? P.require('bert.embeddings.position_embeddings.weight') : null;
    this.ln = new LayerNorm(k, P, 'bert.embeddings.LayerNorm', cfg.layer_norm_eps);
    // The embedding dropout's stream uses "layer" L (after every encoder layer's).
    this.dropout = new Dropout(k, cfg.hidden_dropout_prob, cfg.num_hidden_layers, DROPOUT_SITE.embeddings);
  }

  /**
   * `[nnz]` position ids: each valid token's index within its sequence.
   * @throws Error when a sequence is longer than `max_position_embeddings`.
   */
  private positionIds(u: UnpaddedBatch, out: GrowI32): Int32Array {
    const pos = out.get(u.nnz);
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

  /** Writes `out[nnz, H]`. */
  forward(u: UnpaddedBatch, ctx: ForwardContext, a: EmbeddingActivations, out: Float32Array): void {
    const { k, P, cfg } = this;
    const H = cfg.hidden_size, nnz = u.nnz;
    const pos = this.position ? this.positionIds(u, a.positionIds) : null;
    const sum = a.sum.get(nnz * H);
    k.embeddingForward(u.ids, u.typeIds, nnz, H, P.view(this.word), cfg.vocab_size, P.view(this.type),
      cfg.type_vocab_size, sum);
    if (this.position && pos) {
      const rows = a.positionRows.get(nnz * H);
      k.gatherRows(P.view(this.position), pos, nnz, H, rows);
      k.axpby(nnz * H, 1, rows, 1, sum);
    }
    this.ln.forward(sum, null, nnz, null, out, a.ln);
    this.dropout.forward(out, nnz * H, ctx, a.mask);
    ctx.capture?.('embedding_output', out);
  }

  /** From `dh[nnz, H]` (clobbered): accumulates the word, position, type and LayerNorm gradients into `G`. */
  backward(G: ParamStore, dh: Float32Array, u: UnpaddedBatch, ctx: ForwardContext, a: EmbeddingActivations,
    S: BackwardScratch): void {
    const { k, cfg } = this;
    const H = cfg.hidden_size, nnz = u.nnz;
    this.dropout.backward(dh, nnz * H, ctx, a.mask);
    const demb = S.demb.get(nnz * H);
    this.ln.backward(G, dh, a.sum.last, nnz, demb, a.ln);
    k.embeddingBackward(u.ids, nnz, H, demb, G.view(this.word), cfg.vocab_size, cfg.pad_token_id);
    if (this.position) {
      k.embeddingBackward(a.positionIds.last, nnz, H, demb, G.view(this.position), cfg.max_position_embeddings, -1);
    }
    k.embeddingBackward(u.typeIds, nnz, H, demb, G.view(this.type), cfg.type_vocab_size, -1);
  }
}
