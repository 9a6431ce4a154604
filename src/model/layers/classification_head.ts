/**
 * The sequence-classification head shared by MosaicBERT and classic BERT (HF `BertPooler` + `BertForSequenceClassification`):
 * `pooled = tanh(h[CLS] Wp^T + bp)` on each sequence's first token, dropout (classifier_dropout, else
 * hidden_dropout_prob), `logits = pooled Wc^T + bc` (`classifier`, `[num_labels, H]`). Loss: cross-entropy (mean over
 * the batch) when num_labels > 1, MSE (mean) when num_labels == 1 (HF's default problem types).
 * Parameters `bert.pooler.dense.*` and `classifier.*`, in the model's ParamStore.
 */
import type { Kernels } from '../../kernels/types.js';
import type { ParamStore } from '../params.js';
import type { UnpaddedBatch } from '../batch.js';
import type { Workspace } from '../workspace.js';
import { linearBackward, linearForward } from './linear.js';

/** Dropout call site of the classifier (part of the Philox stream; the encoder uses sites 0-3). */
const CLASSIFIER_DROPOUT_SITE = 7;

export interface HeadOptions { training: boolean; seed: number; step: number }

export class ClassificationHead {
  private last: { B: number; cls: Int32Array; nnz: number; labels?: Int32Array | Float32Array; p: number;
    opt: HeadOptions } | null = null;

  constructor(private readonly hidden: number, private readonly numLabels: number, private readonly dropoutP: number,
    private readonly k: Kernels, private readonly ws: Workspace) {}

  /**
   * From the encoder output `h` `[nnz, H]`: `logits` `[B, num_labels]`, `pooled` `[B, H]` (before dropout), and the
   * mean loss when `labels` (`[B]`: class ids, or float targets when num_labels == 1) are given.
   * @throws Error when a sequence is empty or a class id is out of range.
   */
  forward(P: ParamStore, h: Float32Array, u: UnpaddedBatch, labels: Int32Array | Float32Array | undefined,
    opt: HeadOptions): { loss?: number; logits: Float32Array; pooled: Float32Array } {
    const { k, ws, hidden: H, numLabels: NL } = this;
    const B = u.batch;
    const cls = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      if (u.cuSeqlens[b + 1] === u.cuSeqlens[b]) throw new Error(`batch: sequence ${b} is empty (attention_mask all 0)`);
      cls[b] = u.cuSeqlens[b];
    }
    const hc = ws.f32('cls.hc', B * H), pooled = ws.f32('cls.pooled', B * H), pd = ws.f32('cls.pd', B * H);
    k.gatherRows(h, cls, B, H, hc);
    linearForward(k, hc, B, H, P.get('bert.pooler.dense.weight'), P.get('bert.pooler.dense.bias'), H, pooled);
    k.tanhForward(pooled, B * H, pooled);
    pd.set(pooled);
    const p = this.dropoutP;
    if (opt.training && p > 0) {
      k.dropoutForward(pd, B * H, p, opt.seed, (opt.step * 1024 + 1023) * 8 + CLASSIFIER_DROPOUT_SITE, pd,
        ws.u8('cls.mask', B * H));
    }
    const logits = ws.f32('cls.logits', B * NL);
    linearForward(k, pd, B, H, P.get('classifier.weight'), P.get('classifier.bias'), NL, logits);
    this.last = { B, cls, nnz: u.nnz, labels, p, opt };
    let loss: number | undefined;
    if (labels) {
      if (labels.length < B) throw new Error(`labels: ${labels.length} labels for a batch of ${B}`);
      if (NL > 1) {
        const y = labels instanceof Int32Array ? labels : Int32Array.from(labels);
        for (let b = 0; b < B; b++) {
          if (!(y[b] >= 0 && y[b] < NL)) throw new Error(`labels: class ${labels[b]} of sequence ${b} is not in [0, ${NL})`);
        }
        loss = k.crossEntropyForward(logits, y, B, NL, ws.f32('cls.lse', B)) / B;
      } else {
        let s = 0;
        for (let b = 0; b < B; b++) { const e = logits[b] - labels[b]; s += e * e; }
        loss = s / B;
      }
    }
    return { loss, logits, pooled };
  }

  /**
   * Backward of the last forward (which must have had labels): accumulates the head's parameter gradients into `G`
   * and returns the gradient of the encoder output `[nnz, H]` (zero except the [CLS] rows).
   */
  backward(P: ParamStore, G: ParamStore, lossScale: number, who: string): Float32Array {
    const last = this.last;
    if (!last?.labels) throw new Error(`${who}.backward needs a forward with labels first`);
    const { k, ws, hidden: H, numLabels: NL } = this;
    const { B } = last;
    const logits = ws.f32('cls.logits', B * NL), dlogits = ws.f32('cls.dlogits', B * NL);
    if (NL > 1) {
      const y = last.labels instanceof Int32Array ? last.labels : Int32Array.from(last.labels);
      k.crossEntropyBackward(logits, y, ws.f32('cls.lse', B), B, NL, lossScale / B, dlogits);
    } else {
      for (let b = 0; b < B; b++) dlogits[b] = (2 * lossScale / B) * (logits[b] - last.labels[b]);
    }
    const dpd = ws.f32('cls.dpd', B * H);
    linearBackward(k, dlogits, ws.f32('cls.pd', B * H), B, H, P.get('classifier.weight'), NL,
      G.get('classifier.weight'), G.get('classifier.bias'), dpd);
    if (last.opt.training && last.p > 0) k.dropoutBackward(dpd, ws.u8('cls.mask', B * H), B * H, last.p, dpd);
    k.tanhBackward(ws.f32('cls.pooled', B * H), dpd, B * H, dpd);
    const dhc = ws.f32('cls.dhc', B * H);
    linearBackward(k, dpd, ws.f32('cls.hc', B * H), B, H, P.get('bert.pooler.dense.weight'), H,
      G.get('bert.pooler.dense.weight'), G.get('bert.pooler.dense.bias'), dhc);
    const dh = ws.zeros('cls.dh', last.nnz * H);
    k.scatterRows(dhc, last.cls, B, H, dh);
    return dh;
  }
}
