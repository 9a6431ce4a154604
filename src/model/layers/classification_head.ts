/**
 * The sequence-classification head (HF `BertPooler` + `BertForSequenceClassification`; the reference's
 * `BertForSequenceClassification`): `pooled = tanh(h[CLS] Wp^T + bp)` on each sequence's first token, dropout
 * (classifier_dropout, else hidden_dropout_prob), `logits = pooled Wc^T + bc` (`classifier`, `[num_labels, H]`).
 * Loss: cross-entropy (mean over the batch) when num_labels > 1, MSE (mean) when num_labels == 1 (HF's default
 * problem types).
 */
import type { Kernels } from '../../kernels/types.js';
import type { ParamStore } from '../params.js';
import type { UnpaddedBatch } from '../batch.js';
import type { ActivationArena } from './buffers.js';
import { CLASSIFIER_STREAM_LAYER, DROPOUT_SITE, Dropout, type ForwardContext } from './dropout.js';
import { Linear } from './linear.js';
import { distillationLoss, mixedLoss, type DistillTarget } from '../../train/distillation.js';

/**
 * What the head keeps: `cls`, `pooled`, `dropped` `[B, H]` ([CLS] rows, tanh pooler output, after dropout),
 * `logits` / `dlogits` `[B, num_labels]`, `lse` `[B]`; backward buffers `dpooled`, `dcls` `[B, H]`, `dh` `[nnz, H]`.
 */
export const classificationHeadActivations = (a: ActivationArena) =>
  ({ ...a.f32s('cls', 'pooled', 'dropped', 'logits', 'dlogits', 'lse', 'dpooled', 'dcls', 'dh', 'kdGrad'), mask: a.u8() });
export type ClassificationHeadActivations = ReturnType<typeof classificationHeadActivations>;

interface Saved { B: number; rows: Int32Array; nnz: number; labels?: Int32Array | Float32Array; ctx: ForwardContext; hardness: number | null }

export class ClassificationHead {
  readonly pooler: Linear;
  readonly classifier: Linear;
  private readonly dropout: Dropout;
  private last: Saved | null = null;

  constructor(private readonly k: Kernels, P: ParamStore, private readonly hidden: number,
    private readonly numLabels: number, dropoutP: number) {
    this.pooler = new Linear(k, P, 'bert.pooler.dense', P.require('bert.pooler.dense.weight'), P.require('bert.pooler.dense.bias'));
    this.classifier = new Linear(k, P, 'classifier', P.require('classifier.weight'), P.require('classifier.bias'));
    this.dropout = new Dropout(k, dropoutP, CLASSIFIER_STREAM_LAYER, DROPOUT_SITE.classifier);
  }

  /**
   * From the encoder output `h` `[nnz, H]`: `logits` `[B, num_labels]`, `pooled` `[B, H]` (before dropout), and the
   * mean loss when `labels` (`[B]`: class ids, or float targets when num_labels == 1) are given; with `distill` (the
   * teacher's `[B, num_labels]` logits) the loss mixes in the KD term (train/distillation.ts).
   * @throws Error when a sequence is empty, a label is out of range / missing, or `distill` comes without labels, with
   *   a regression head, or with teacher logits of another shape.
   */
  forward(h: Float32Array, u: UnpaddedBatch, labels: Int32Array | Float32Array | undefined, ctx: ForwardContext,
    a: ClassificationHeadActivations, distill?: DistillTarget):
    { loss?: number; taskLoss?: number; distillLoss?: number; logits: Float32Array; pooled: Float32Array } {
    const { k, hidden: H, numLabels: NL } = this;
    const B = u.batch;
    const rows = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      if (u.cuSeqlens[b + 1] === u.cuSeqlens[b]) throw new Error(`batch: sequence ${b} is empty (attention_mask all 0)`);
      rows[b] = u.cuSeqlens[b];
    }
    const hc = a.cls.get(B * H), pooled = a.pooled.get(B * H), pd = a.dropped.get(B * H);
    k.gatherRows(h, rows, B, H, hc);
    this.pooler.forward(hc, B, pooled);
    k.tanhForward(pooled, B * H, pooled);
    pd.set(pooled);
    this.dropout.forward(pd, B * H, ctx, a.mask);
    const logits = a.logits.get(B * NL);
    this.classifier.forward(pd, B, logits);
    this.last = { B, rows, nnz: u.nnz, labels, ctx, hardness: distill ? distill.hardness : null };
    let loss: number | undefined;
    if (labels) {
      if (labels.length < B) throw new Error(`labels: ${labels.length} labels for a batch of ${B}`);
      if (NL > 1) {
        const y = labels instanceof Int32Array ? labels : Int32Array.from(labels);
        for (let b = 0; b < B; b++) {
          if (!(y[b] >= 0 && y[b] < NL)) throw new Error(`labels: class ${labels[b]} of sequence ${b} is not in [0, ${NL})`);
        }
        loss = k.crossEntropyForward(logits, y, B, NL, a.lse.get(B)) / B;
      } else {
        let s = 0;
        for (let b = 0; b < B; b++) { const e = logits[b] - labels[b]; s += e * e; }
        loss = s / B;
      }
    }
    if (!distill) return { loss, logits, pooled };
    if (!labels) throw new Error('distill: needs labels (the task loss is mixed with the KD term)');
    if (NL === 1) throw new Error('distill: a regression head (num_labels 1) has no class distribution to distill');
    if (distill.teacherLogits.length !== B * NL) {
      throw new Error(`distill: teacher logits have ${distill.teacherLogits.length} values, expected ${B} x ${NL} (same num_labels)`);
    }
    const kd = distillationLoss(k, logits, distill.teacherLogits, B, NL, distill.temperature, a.kdGrad.get(B * NL));
    return { loss: mixedLoss(loss!, kd, distill.hardness), taskLoss: loss, distillLoss: kd, logits, pooled };
  }

  /**
   * Backward of the last forward (which must have had labels): accumulates the head's parameter gradients into `G`
   * and returns the gradient of the encoder output `[nnz, H]` (zero except the [CLS] rows).
   * @throws Error naming `who` when the last forward had no labels.
   */
  backward(G: ParamStore, lossScale: number, a: ClassificationHeadActivations, who: string): Float32Array {
    const last = this.last;
    if (!last?.labels) throw new Error(`${who}.backward needs a forward with labels first`);
    const { k, hidden: H, numLabels: NL } = this;
    const { B } = last;
    const logits = a.logits.get(B * NL), dlogits = a.dlogits.get(B * NL);
    if (NL > 1) {
      const y = last.labels instanceof Int32Array ? last.labels : Int32Array.from(last.labels);
      const h = last.hardness ?? 0;
      k.crossEntropyBackward(logits, y, a.lse.get(B), B, NL, lossScale * (1 - h) / B, dlogits);
      if (h > 0) k.axpby(B * NL, lossScale * h, a.kdGrad.get(B * NL), 1, dlogits);
    } else {
      for (let b = 0; b < B; b++) dlogits[b] = (2 * lossScale / B) * (logits[b] - last.labels[b]);
    }
    const dpd = a.dpooled.get(B * H);
    this.classifier.backward(G, dlogits, a.dropped.get(B * H), B, dpd);
    this.dropout.backward(dpd, B * H, last.ctx, a.mask);
    k.tanhBackward(a.pooled.get(B * H), dpd, B * H, dpd);
    const dhc = a.dcls.get(B * H);
    this.pooler.backward(G, dpd, a.cls.get(B * H), B, dhc);
    const dh = a.dh.zeros(last.nnz * H);
    k.scatterRows(dhc, last.rows, B, H, dh);
    return dh;
  }
}
