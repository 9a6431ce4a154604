/**
 * `MosaicBertForMaskedLM` (docs/mosaicbert.md §1.8): the encoder, then on the masked rows only
 * `logits = LN_1e-12(gelu(h Wt^T + bt)) E^T + b_dec` with the decoder tied to the word embeddings E and its own
 * bias, and the mean cross-entropy over the targets (`labels > 0`, the reference's test). With labels, the last
 * encoder layer runs after attention on the masked rows plus each [CLS] only (the reference's subset trick;
 * `useSubset: false` computes every row and selects afterwards — the same math).
 */
import type { MosaicBertConfig } from './config.js';
import { MosaicBertBase, type ModelOptions } from './base.js';
import { unpadBatch, type PaddedBatch, type UnpaddedBatch } from './batch.js';
import { MlmHead } from './layers/mlm_head.js';

/** The MLM head LayerNorm's eps: hard-coded 1e-12 in the reference whatever `layer_norm_eps` says. */
export const MLM_HEAD_LAYER_NORM_EPS = 1e-12;

export interface MaskedLMBatch extends PaddedBatch {
  /** `[B * S]`: the original token id at masked positions (> 0), -100 (or 0) elsewhere. */
  labels?: Int32Array;
}

export interface MaskedLMForwardOptions {
  training?: boolean;
  seed?: number;
  step?: number;
  /** Last-layer subset trick (default true). */
  useSubset?: boolean;
  keepHiddenStates?: boolean;
}

export interface MaskedLMOutput {
  /** Mean cross-entropy over the targets (undefined without labels). */
  loss?: number;
  /** Number of target tokens. */
  numTargets: number;
  /**
   * `[rows, vocab_size]`: with labels, the masked rows in row-major (b, s) order; without, every valid token
   * (nnz rows in `indices` order). Valid until the next forward; `backward()` overwrites it with its gradient.
   */
  logits: Float32Array;
  /** Flat `b * S + s` positions of the logits' rows. */
  positions: Int32Array;
  /** The unpadded batch (indices, cu_seqlens). */
  unpadded: UnpaddedBatch;
}

export class MosaicBertForMaskedLM extends MosaicBertBase {
  private last: { nm: number; targets: Int32Array; maskedInSubset: Int32Array; nsub: number } | null = null;

  private readonly mlmHead: MlmHead;

  constructor(config: MosaicBertConfig, opts: ModelOptions = {}) {
    super(config, 'mlm', opts);
    this.mlmHead = new MlmHead(config.hidden_size, config.vocab_size, MLM_HEAD_LAYER_NORM_EPS,
      'cls.predictions.decoder.bias', this.k, this.ws);
  }

  /**
   * Forward pass. Throws an Error when a label sits on a padding position or is not a valid token id.
   */
  forward(batch: MaskedLMBatch, opts: MaskedLMForwardOptions = {}): MaskedLMOutput {
    const { config: cfg, k, ws } = this;
    const H = cfg.hidden_size, V = cfg.vocab_size;
    const u = unpadBatch(batch);
    const fwd = { training: opts.training ?? false, seed: opts.seed, step: opts.step, keepHiddenStates: opts.keepHiddenStates };
    if (!batch.labels) {
      const h = this.encoder.forward(u, fwd);
      const logits = this.headForward(h, u.nnz, 'all');
      this.last = null;
      return { numTargets: 0, logits, positions: u.indices, unpadded: u };
    }
    const labels = batch.labels;
    // Targets in nnz order; subset = targets plus each sequence's first row.
    const isTarget = new Uint8Array(u.nnz);
    let nm = 0;
    for (let j = 0; j < u.nnz; j++) if (labels[u.indices[j]] > 0) { isTarget[j] = 1; nm++; }
    for (let p = 0, j = 0; p < batch.batch * batch.seqlen; p++) {
      if (j < u.nnz && u.indices[j] === p) { j++; continue; }
      if (labels[p] > 0) throw new Error(`labels: position (${Math.floor(p / batch.seqlen)}, ${p % batch.seqlen}) ` +
        'is padding but has a target label');
    }
    const targets = new Int32Array(nm), positions = new Int32Array(nm), targetRows = new Int32Array(nm);
    for (let j = 0, t = 0; j < u.nnz; j++) {
      if (!isTarget[j]) continue;
      const y = labels[u.indices[j]];
      if (y >= V) throw new Error(`labels: target id ${y} at position ${u.indices[j]} is >= vocab_size ${V}`);
      targets[t] = y; positions[t] = u.indices[j]; targetRows[t] = j; t++;
    }
    const useSubset = opts.useSubset ?? true;
    let h: Float32Array, maskedInSubset: Int32Array, nsub: number;
    if (useSubset) {
      const first = new Uint8Array(u.nnz);
      for (let b = 0; b < u.batch; b++) if (u.cuSeqlens[b + 1] > u.cuSeqlens[b]) first[u.cuSeqlens[b]] = 1;
      const subsetList: number[] = [], inSub: number[] = [];
      for (let j = 0; j < u.nnz; j++) {
        if (isTarget[j] || first[j]) {
          if (isTarget[j]) inSub.push(subsetList.length);
          subsetList.push(j);
        }
      }
      const subset = Int32Array.from(subsetList);
      maskedInSubset = Int32Array.from(inSub);
      nsub = subset.length;
      h = this.encoder.forward(u, { ...fwd, subset });
    } else {
      maskedInSubset = targetRows;
      nsub = u.nnz;
      h = this.encoder.forward(u, fwd);
    }
    const hm = ws.f32('mlm.hm', nm * H);
    k.gatherRows(h, maskedInSubset, nm, H, hm);
    const logits = this.headForward(hm, nm, 'mlm');
    const lse = ws.f32('mlm.lse', nm);
    const sum = nm ? k.crossEntropyForward(logits, targets, nm, V, lse) : 0;
    this.last = { nm, targets, maskedInSubset, nsub };
    return { loss: nm ? sum / nm : 0, numTargets: nm, logits, positions, unpadded: u };
  }

  /** MLM head on `[rows, H]` -> `[rows, V]` logits (a workspace buffer named after `tag`). */
  headForward(x: Float32Array, rows: number, tag: string): Float32Array {
    return this.mlmHead.forward(this.params, x, rows, tag);
  }

  /**
   * Backward of the last forward with labels: accumulates `lossScale * d(loss)/d(param)` into `grads` (lossScale
   * weights microbatches, e.g. the microbatch's share of the global batch). Overwrites the forward's logits.
   */
  backward(lossScale = 1): void {
    const last = this.last;
    if (!last) throw new Error('MosaicBertForMaskedLM.backward needs a forward with labels first');
    const { config: cfg, k, ws } = this;
    const G = this.requireGrads();
    const H = cfg.hidden_size, V = cfg.vocab_size, { nm, nsub } = last;
    const dh = ws.zeros('mlm.dh', nsub * H);
    if (nm > 0) {
      const logits = ws.f32('mlm.logits', nm * V);
      k.crossEntropyBackward(logits, last.targets, ws.f32('mlm.lse', nm), nm, V, lossScale / nm, logits);
      const dhm = this.mlmHead.backward(this.params, G, ws.f32('mlm.hm', nm * H), logits, nm);
      k.scatterRows(dhm, last.maskedInSubset, nm, H, dh);
    }
    this.encoder.backward(dh, G);
  }
}
