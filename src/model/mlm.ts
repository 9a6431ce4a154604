/**
 * Masked-LM models (the reference's `BertForMaskedLM`, HF `BertForMaskedLM`): the encoder, then on the target rows
 * only `logits = LN(gelu(h Wt^T + bt)) E^T + b_dec` (layers/mlm_head.ts) and the mean cross-entropy over the
 * targets. One label convention for both architectures: -100 is ignored (HF's `ignore_index`), any other label is
 * a target and must be a token id in `[0, vocab_size)` on a non-padding position. With labels, the last encoder
 * layer runs after attention on the target rows plus each [CLS] only (the reference's subset trick; `useSubset:
 * false` computes every row and selects afterwards — the same math for the rows kept).
 */
import type { MosaicBertConfig } from './config.js';
import type { BertConfig } from './bert_config.js';
import { CLASSIC_BERT, MOSAICBERT, MLM_HEAD_LAYER_NORM_EPS, architectureOf } from './architecture.js';
import type { EncoderConfig } from './config.js';
import { EncoderModel, type ForwardOptions, type ModelOptions } from './base.js';
import { unpadBatch, type PaddedBatch, type UnpaddedBatch } from './batch.js';
import { MlmHead, mlmHeadActivations, type MlmHeadActivations } from './layers/mlm_head.js';
import { backwardScratch, type BackwardScratch } from './layers/scratch.js';
import type { Linear } from './layers/linear.js';
import type { GrowF32 } from './layers/buffers.js';
import { IGNORE_INDEX } from '../tokenizer/special_tokens.js';
import { distillationLoss, mixedLoss, type DistillTarget } from '../train/distillation.js';

export { MLM_HEAD_LAYER_NORM_EPS };

export { IGNORE_INDEX };

export interface MaskedLMBatch extends PaddedBatch {
  /** `[B * S]`: the original token id at target positions, -100 elsewhere. */
  labels?: Int32Array;
}

export interface MaskedLMForwardOptions extends ForwardOptions {
  /** Last-layer subset trick (default true). */
  useSubset?: boolean;
  /**
   * Knowledge distillation (train/distillation.ts): the teacher's logits of the same batch's targets
   * (`[numTargets, vocab_size]`, the teacher's own forward with the same labels). The loss becomes
   * `(1 - hardness) * CE + hardness * KD` and `backward()` follows it. Needs labels.
   */
  distill?: DistillTarget;
}

export interface MaskedLMOutput {
  /**
   * Mean cross-entropy over the targets (undefined without labels; 0 when there is no target); with `distill`, the
   * mixed loss `(1 - hardness) * taskLoss + hardness * distillLoss`.
   */
  loss?: number;
  /** With `distill`: the mean cross-entropy and the KD term (T^2-scaled mean KL over the targets). */
  taskLoss?: number;
  distillLoss?: number;
  /** Number of target tokens. */
  numTargets: number;
  /**
   * `[rows, vocab_size]`: with labels, the target rows in row-major (b, s) order; without, every valid token
   * (nnz rows in `indices` order). Valid until the next forward; `backward()` overwrites it with its gradient.
   */
  logits: Float32Array;
  /** Flat `b * S + s` positions of the logits' rows. */
  positions: Int32Array;
  /** The unpadded batch (indices, cu_seqlens). */
  unpadded: UnpaddedBatch;
}

/**
 * The targets of a batch in unpadded-row order.
 * @throws Error naming the (row, column) of a label that is neither -100 nor a token id, or that sits on padding.
 */
export function maskedTargets(batch: MaskedLMBatch & { labels: Int32Array }, u: UnpaddedBatch, vocabSize: number):
  { rows: Int32Array; targets: Int32Array; positions: Int32Array } {
  const labels = batch.labels, S = batch.seqlen, n = batch.batch * S;
  if (labels.length < n) throw new Error(`labels: ${labels.length} elements, expected ${batch.batch}x${S} = ${n}`);
  const rows: number[] = [];
  for (let p = 0, j = 0; p < n; p++) {
    const valid = j < u.nnz && u.indices[j] === p;
    const y = labels[p];
    if (y !== IGNORE_INDEX) {
      const where = `(${Math.floor(p / S)}, ${p % S})`;
      if (!valid) throw new Error(`labels: position ${where} is padding but has a target label ${y}`);
      if (!(y >= 0 && y < vocabSize)) {
        throw new Error(`labels: ${y} at position ${where} is not a token id in [0, ${vocabSize}) nor ${IGNORE_INDEX}`);
      }
      rows.push(j);
    }
    if (valid) j++;
  }
  const r = Int32Array.from(rows), targets = new Int32Array(r.length), positions = new Int32Array(r.length);
  for (let i = 0; i < r.length; i++) { positions[i] = u.indices[r[i]]; targets[i] = labels[positions[i]]; }
  return { rows: r, targets, positions };
}

export class MaskedLMModel<C extends EncoderConfig = EncoderConfig> extends EncoderModel<C> {
  readonly mlmHead: MlmHead;
  private readonly headActs: MlmHeadActivations;
  private readonly predictActs: MlmHeadActivations;
  private readonly scratch: BackwardScratch;
  private readonly targetHidden: GrowF32;
  private readonly dHidden: GrowF32;
  private readonly lse: GrowF32;
  /** dKD/dlogits `[numTargets, V]` of the last distilled forward. */
  private readonly kdGrad: GrowF32;
  private last: { nm: number; targets: Int32Array; inSubset: Int32Array; nsub: number; hardness: number | null } | null = null;

  /** @throws Error when instantiated directly: use a named subclass, which fixes the architecture. */
  constructor(config: C, opts: ModelOptions = {}) {
    super(config, architectureOf(new.target), 'mlm', opts);
    this.mlmHead = new MlmHead(this.k, this.params, config.hidden_size, this.arch.mlmHeadEps ?? config.layer_norm_eps,
      this.arch.mlmDecoderBiasKey);
    this.headActs = mlmHeadActivations(this.arena);
    this.predictActs = mlmHeadActivations(this.arena);
    this.scratch = backwardScratch(this.arena);
    this.targetHidden = this.arena.f32();
    this.dHidden = this.arena.f32();
    this.lse = this.arena.f32();
    this.kdGrad = this.arena.f32();
  }

  linears(): Linear[] {
    return [...this.encoder.linears(), this.mlmHead.transform, this.mlmHead.decoder];
  }

  /**
   * Forward pass on a right-padded batch `[B, S]`. Without labels, `logits` is `[nnz, V]` for every valid token;
   * with labels (`[B * S]`, -100 = not a target), `[numTargets, V]` for the targets and their mean cross-entropy.
   * @throws Error naming the position of an invalid label (see {@link maskedTargets}) or a malformed batch.
   */
  forward(batch: MaskedLMBatch, opts: MaskedLMForwardOptions = {}): MaskedLMOutput {
    const { config: cfg, k } = this;
    const H = cfg.hidden_size, V = cfg.vocab_size;
    const u = unpadBatch(batch);
    const fwd = { training: opts.training ?? false, seed: opts.seed, step: opts.step, keepHiddenStates: opts.keepHiddenStates };
    if (!batch.labels) {
      const h = this.encoder.forward(u, fwd);
      this.last = null;
      return { numTargets: 0, logits: this.predictLogits(h, u.nnz), positions: u.indices, unpadded: u };
    }
    const { rows: targetRows, targets, positions } = maskedTargets(batch as MaskedLMBatch & { labels: Int32Array }, u, V);
    const nm = targets.length;
    let h: Float32Array, inSubset: Int32Array, nsub: number;
    if ((opts.useSubset ?? true) && cfg.num_hidden_layers > 0) {
      // subset = targets plus each sequence's first row, in row order.
      const keep = new Uint8Array(u.nnz);
      for (const j of targetRows) keep[j] = 2;
      for (let b = 0; b < u.batch; b++) if (u.cuSeqlens[b + 1] > u.cuSeqlens[b] && !keep[u.cuSeqlens[b]]) keep[u.cuSeqlens[b]] = 1;
      const subsetList: number[] = [], inSub: number[] = [];
      for (let j = 0; j < u.nnz; j++) {
        if (!keep[j]) continue;
        if (keep[j] === 2) inSub.push(subsetList.length);
        subsetList.push(j);
      }
      inSubset = Int32Array.from(inSub);
      nsub = subsetList.length;
      h = this.encoder.forward(u, { ...fwd, subset: Int32Array.from(subsetList) });
    } else {
      inSubset = targetRows;
      nsub = u.nnz;
      h = this.encoder.forward(u, fwd);
    }
    const hm = this.targetHidden.get(nm * H);
    k.gatherRows(h, inSubset, nm, H, hm);
    const logits = this.mlmHead.forward(hm, nm, this.headActs);
    const sum = nm ? k.crossEntropyForward(logits, targets, nm, V, this.lse.get(nm)) : 0;
    const ce = nm ? sum / nm : 0;
    const d = opts.distill;
    this.last = { nm, targets, inSubset, nsub, hardness: d ? d.hardness : null };
    if (!d) return { loss: ce, numTargets: nm, logits, positions, unpadded: u };
    if (d.teacherLogits.length !== nm * V) {
      throw new Error(`distill: teacher logits have ${d.teacherLogits.length} values, expected ${nm} targets x ${V} (same labels and vocab_size)`);
    }
    const kd = distillationLoss(k, logits, d.teacherLogits, nm, V, d.temperature, this.kdGrad.get(nm * V));
    return { loss: mixedLoss(ce, kd, d.hardness), taskLoss: ce, distillLoss: kd, numTargets: nm, logits, positions, unpadded: u };
  }

  /**
   * The MLM head on hidden states `x[rows, H]` → logits `[rows, V]` (inference buffers: a training forward's saved
   * activations are untouched). Valid until the next call.
   */
  predictLogits(x: Float32Array, rows: number): Float32Array {
    return this.mlmHead.forward(x, rows, this.predictActs);
  }

  /**
   * Backward of the last forward with labels: accumulates `lossScale * d(loss)/d(param)` into `grads` (lossScale
   * weights microbatches, e.g. the microbatch's share of the global batch). Overwrites the forward's logits.
   * @throws Error when the last forward had no labels.
   */
  backward(lossScale = 1): void {
    const last = this.last;
    if (!last) throw new Error(`${this.constructor.name}.backward needs a forward with labels first`);
    const { config: cfg, k } = this;
    const G = this.requireGrads();
    const H = cfg.hidden_size, V = cfg.vocab_size, { nm, nsub } = last;
    const dh = this.dHidden.zeros(nsub * H);
    if (nm > 0) {
      const logits = this.headActs.logits.get(nm * V);
      const h = last.hardness ?? 0;
      k.crossEntropyBackward(logits, last.targets, this.lse.get(nm), nm, V, lossScale * (1 - h) / nm, logits);
      if (h > 0) k.axpby(nm * V, lossScale * h, this.kdGrad.get(nm * V), 1, logits);
      const dhm = this.mlmHead.backward(G, this.targetHidden.get(nm * H), logits, nm, this.headActs, this.scratch);
      k.scatterRows(dhm, last.inSubset, nm, H, dh);
    }
    this.encoder.backward(dh, G);
  }
}

/** MosaicBERT with the MLM head (reference `bert_layers.BertForMaskedLM`). */
export class MosaicBertForMaskedLM extends MaskedLMModel<MosaicBertConfig> { static readonly architecture = MOSAICBERT; }

/** Classic BERT with the MLM head (HF `BertForMaskedLM`). */
export class BertForMaskedLM extends MaskedLMModel<BertConfig> { static readonly architecture = CLASSIC_BERT; }
