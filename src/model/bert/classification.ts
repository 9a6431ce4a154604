/**
 * `BertForSequenceClassification` (HF): the classic-BERT encoder, the pooler `tanh(h[CLS] Wp^T + bp)` on each
 * sequence's first token, dropout (classifier_dropout, else hidden_dropout_prob), `classifier` Linear(H, num_labels).
 * Loss as HF's default problem types: cross-entropy (mean over the batch) when num_labels > 1 with integer labels,
 * MSE (mean) when num_labels == 1 (regression). `problem_type: multi_label_classification` is not supported.
 */
import type { ModelOptions } from '../base.js';
import { unpadBatch } from '../batch.js';
import { ClassificationHead } from '../layers/classification_head.js';
import type { ClassificationBatch, ClassificationOutput } from '../classification.js';
import { BertBase } from './base.js';
import type { BertConfig } from './config.js';

export class BertForSequenceClassification extends BertBase {
  private readonly headLayer: ClassificationHead;

  constructor(config: BertConfig, opts: ModelOptions = {}) {
    if (config.problem_type === 'multi_label_classification') {
      throw new Error("BertForSequenceClassification: problem_type 'multi_label_classification' is not supported");
    }
    super(config, 'classification', opts);
    this.headLayer = new ClassificationHead(config.hidden_size, config.num_labels,
      config.classifier_dropout ?? config.hidden_dropout_prob, this.k, this.ws);
  }

  /**
   * Forward on a right-padded batch `[B, S]`: `logits` `[B, num_labels]`, `pooled` `[B, H]`, and with `labels`
   * (`[B]`: class ids, or float targets when num_labels == 1) the mean loss.
   * @throws Error when a sequence is empty or a class id is out of range.
   */
  forward(batch: ClassificationBatch, opts: { training?: boolean; seed?: number; step?: number;
    keepHiddenStates?: boolean } = {}): ClassificationOutput {
    const u = unpadBatch(batch);
    const opt = { training: opts.training ?? false, seed: opts.seed ?? 0, step: opts.step ?? 0 };
    const h = this.encoder.forward(u, { ...opt, keepHiddenStates: opts.keepHiddenStates });
    return this.headLayer.forward(this.params, h, u, batch.labels, opt);
  }

  /** Accumulates `lossScale * d(loss)/d(param)` into `grads` (HF names) for the last forward, which had labels. */
  backward(lossScale = 1): void {
    const G = this.requireGrads();
    const dh = this.headLayer.backward(this.params, G, lossScale, 'BertForSequenceClassification');
    this.encoder.backward(dh, G);
  }
}
