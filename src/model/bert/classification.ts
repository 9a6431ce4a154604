/**
 * `BertForSequenceClassification` (HF): the classic-BERT encoder, the pooler `tanh(h[CLS] Wp^T + bp)` on each
 * sequence's first token, dropout (classifier_dropout, else hidden_dropout_prob), `classifier` Linear(H, num_labels).
 * Loss as HF's default problem types: cross-entropy (mean over the batch) when num_labels > 1 with integer labels,
 * MSE (mean) when num_labels == 1 (regression). `problem_type: multi_label_classification` is not supported.
 */
import type { ModelOptions } from '../base.js';
import { unpadBatch } from '../batch.js';
import { linearBackward, linearForward } from '../layers/linear.js';
import type { ClassificationBatch, ClassificationOutput } from '../classification.js';
import { BertBase } from './base.js';
import type { BertConfig } from './config.js';

const CLASSIFIER_DROPOUT_SITE = 7;

export class BertForSequenceClassification extends BertBase {
  private last: { B: number; cls: Int32Array; nnz: number; labels?: Int32Array | Float32Array; p: number } | null = null;
  private opt = { training: false, seed: 0, step: 0 };

  constructor(config: BertConfig, opts: ModelOptions = {}) {
    if (config.problem_type === 'multi_label_classification') {
      throw new Error("BertForSequenceClassification: problem_type 'multi_label_classification' is not supported");
    }
    super(config, 'classification', opts);
  }

  /**
   * Forward on a right-padded batch `[B, S]`: `logits` `[B, num_labels]`, `pooled` `[B, H]`, and with `labels`
   * (`[B]`: class ids, or float targets when num_labels == 1) the mean loss.
   * @throws Error when a sequence is empty or a class id is out of range.
   */
  forward(batch: ClassificationBatch, opts: { training?: boolean; seed?: number; step?: number;
    keepHiddenStates?: boolean } = {}): ClassificationOutput {
    const { config: cfg, k, ws, params: P } = this;
    const H = cfg.hidden_size, NL = cfg.num_labels;
    const u = unpadBatch(batch);
    const B = u.batch;
    this.opt = { training: opts.training ?? false, seed: opts.seed ?? 0, step: opts.step ?? 0 };
    const h = this.encoder.forward(u, { ...this.opt, keepHiddenStates: opts.keepHiddenStates });
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
    const p = cfg.classifier_dropout ?? cfg.hidden_dropout_prob;
    if (this.opt.training && p > 0) {
      k.dropoutForward(pd, B * H, p, this.opt.seed, (this.opt.step * 1024 + 1023) * 8 + CLASSIFIER_DROPOUT_SITE, pd,
        ws.u8('cls.mask', B * H));
    }
    const logits = ws.f32('cls.logits', B * NL);
    linearForward(k, pd, B, H, P.get('classifier.weight'), P.get('classifier.bias'), NL, logits);
    this.last = { B, cls, nnz: u.nnz, labels: batch.labels, p };
    let loss: number | undefined;
    if (batch.labels) {
      if (batch.labels.length < B) throw new Error(`labels: ${batch.labels.length} labels for a batch of ${B}`);
      if (NL > 1) {
        const y = batch.labels instanceof Int32Array ? batch.labels : Int32Array.from(batch.labels);
        for (let b = 0; b < B; b++) {
          if (!(y[b] >= 0 && y[b] < NL)) throw new Error(`labels: class ${batch.labels[b]} of sequence ${b} is not in [0, ${NL})`);
        }
        loss = k.crossEntropyForward(logits, y, B, NL, ws.f32('cls.lse', B)) / B;
      } else {
        let s = 0;
        for (let b = 0; b < B; b++) { const e = logits[b] - batch.labels[b]; s += e * e; }
        loss = s / B;
      }
    }
    return { loss, logits, pooled };
  }

  /** Accumulates `lossScale * d(loss)/d(param)` into `grads` (HF names) for the last forward, which had labels. */
  backward(lossScale = 1): void {
    const last = this.last;
    if (!last?.labels) throw new Error('BertForSequenceClassification.backward needs a forward with labels first');
    const { config: cfg, k, ws, params: P } = this;
    const G = this.requireGrads();
    const H = cfg.hidden_size, NL = cfg.num_labels, { B } = last;
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
    if (this.opt.training && last.p > 0) k.dropoutBackward(dpd, ws.u8('cls.mask', B * H), B * H, last.p, dpd);
    k.tanhBackward(ws.f32('cls.pooled', B * H), dpd, B * H, dpd);
    const dhc = ws.f32('cls.dhc', B * H);
    linearBackward(k, dpd, ws.f32('cls.hc', B * H), B, H, P.get('bert.pooler.dense.weight'), H,
      G.get('bert.pooler.dense.weight'), G.get('bert.pooler.dense.bias'), dhc);
    const dh = ws.zeros('cls.dh', last.nnz * H);
    k.scatterRows(dhc, last.cls, B, H, dh);
    this.encoder.backward(dh, G);
  }
}
