/**
 * `BertForMaskedLM` (HF): the classic-BERT encoder, then
 * `logits = LN(gelu(h Wt^T + bt)) E^T + b` with the decoder tied to the word embeddings E and its bias
 * `cls.predictions.bias`; loss = mean cross-entropy over the positions whose label is not -100 (HF's
 * `ignore_index`). HF applies the head to every position; with labels this computes it on the target rows only
 * (and, with `useSubset`, the last layer after attention too): the same numbers for the rows that enter the loss.
 */
import type { ModelOptions } from '../base.js';
import { unpadBatch } from '../batch.js';
import { MlmHead } from '../layers/mlm_head.js';
import type { MaskedLMBatch, MaskedLMOutput } from '../mlm.js';
import { BertBase } from './base.js';
import type { BertConfig } from './config.js';
import { BERT_DECODER_BIAS_KEY } from './params.js';

export interface BertMaskedLMForwardOptions {
  training?: boolean;
  seed?: number;
  step?: number;
  /** With labels, run the last layer after attention on the target rows only (default true). */
  useSubset?: boolean;
  keepHiddenStates?: boolean;
}

export class BertForMaskedLM extends BertBase {
  private last: { nm: number; targets: Int32Array; targetRows: Int32Array; nsub: number } | null = null;

  private readonly mlmHead: MlmHead;

  constructor(config: BertConfig, opts: ModelOptions = {}) {
    super(config, 'mlm', opts);
    this.mlmHead = new MlmHead(config.hidden_size, config.vocab_size, config.layer_norm_eps, BERT_DECODER_BIAS_KEY,
      this.k, this.ws);
  }

  /**
   * Forward pass on a right-padded batch `[B, S]` (labels `[B * S]`, -100 = not a target, HF convention).
   * Without labels, `logits` is `[nnz, V]` for every valid token (rows in `positions` = `b * S + s` order); with
   * labels, `[numTargets, V]` for the targets in row-major order, and `loss` is their mean cross-entropy (0 when
   * there is no target; HF would return NaN).
   * @throws Error when a target sits on a padding position or is outside `[0, vocab_size)`.
   */
  forward(batch: MaskedLMBatch, opts: BertMaskedLMForwardOptions = {}): MaskedLMOutput {
    const { config: cfg, k, ws } = this;
    const H = cfg.hidden_size, V = cfg.vocab_size;
    const u = unpadBatch(batch);
    const fwd = { training: opts.training ?? false, seed: opts.seed, step: opts.step, keepHiddenStates: opts.keepHiddenStates };
    if (!batch.labels) {
      const h = this.encoder.forward(u, fwd);
      this.last = null;
      return { numTargets: 0, logits: this.headForward(h, u.nnz, 'all'), positions: u.indices, unpadded: u };
    }
    const labels = batch.labels;
    const rows: number[] = [];
    for (let p = 0, j = 0; p < batch.batch * batch.seqlen; p++) {
      const valid = j < u.nnz && u.indices[j] === p;
      const y = labels[p];
      if (y !== -100) {
        const where = `(${Math.floor(p / batch.seqlen)}, ${p % batch.seqlen})`;
        if (!valid) throw new Error(`labels: position ${where} is padding but has a target label ${y}`);
        if (!Number.isInteger(y) || y < 0 || y >= V) throw new Error(`labels: ${y} at ${where} is not a token id in [0, ${V}) nor -100`);
        rows.push(j);
      }
      if (valid) j++;
    }
    const nm = rows.length;
    const targetRows = Int32Array.from(rows), targets = new Int32Array(nm), positions = new Int32Array(nm);
    for (let i = 0; i < nm; i++) { positions[i] = u.indices[targetRows[i]]; targets[i] = labels[positions[i]]; }
    const useSubset = opts.useSubset ?? true;
    let h: Float32Array, gatherIdx: Int32Array, nsub: number;
    if (useSubset && nm > 0 && cfg.num_hidden_layers > 0) {
      h = this.encoder.forward(u, { ...fwd, subset: targetRows });
      gatherIdx = Int32Array.from({ length: nm }, (_, i) => i);
      nsub = nm;
    } else {
      h = this.encoder.forward(u, fwd);
      gatherIdx = targetRows;
      nsub = u.nnz;
    }
    const hm = ws.f32('mlm.hm', nm * H);
    k.gatherRows(h, gatherIdx, nm, H, hm);
    const logits = this.headForward(hm, nm, 'mlm');
    const sum = nm ? k.crossEntropyForward(logits, targets, nm, V, ws.f32('mlm.lse', nm)) : 0;
    this.last = { nm, targets, targetRows: gatherIdx, nsub };
    return { loss: nm ? sum / nm : 0, numTargets: nm, logits, positions, unpadded: u };
  }

  /** MLM head on `[rows, H]` -> `[rows, V]` logits (LayerNorm eps = layer_norm_eps, HF's rule). */
  headForward(x: Float32Array, rows: number, tag: string): Float32Array {
    return this.mlmHead.forward(this.params, x, rows, tag);
  }

  /**
   * Backward of the last forward with labels: accumulates `lossScale * d(loss)/d(param)` into `grads` (HF names;
   * the tied decoder's gradient is added to `bert.embeddings.word_embeddings.weight`). Overwrites the logits.
   */
  backward(lossScale = 1): void {
    const last = this.last;
    if (!last) throw new Error('BertForMaskedLM.backward needs a forward with labels first');
    const { config: cfg, k, ws } = this;
    const G = this.requireGrads();
    const H = cfg.hidden_size, V = cfg.vocab_size, { nm, nsub } = last;
    const dh = ws.zeros('mlm.dh', nsub * H);
    if (nm > 0) {
      const logits = ws.f32('mlm.logits', nm * V);
      k.crossEntropyBackward(logits, last.targets, ws.f32('mlm.lse', nm), nm, V, lossScale / nm, logits);
      const dhm = this.mlmHead.backward(this.params, G, ws.f32('mlm.hm', nm * H), logits, nm);
      k.scatterRows(dhm, last.targetRows, nm, H, dh);
    }
    this.encoder.backward(dh, G);
  }
}
