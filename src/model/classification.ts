/**
 * `MosaicBertForSequenceClassification` (reference `BertForSequenceClassification`): the encoder, then the shared
 * pooler + classifier head (layers/classification_head.ts): `tanh(h[CLS] Wp^T + bp)`, dropout (classifier_dropout,
 * else hidden_dropout_prob), `classifier` Linear(H, num_labels); cross-entropy when num_labels > 1, MSE when 1.
 */
import type { MosaicBertConfig } from './config.js';
import { MosaicBertBase, type ModelOptions } from './base.js';
import { unpadBatch, type PaddedBatch } from './batch.js';
import { ClassificationHead } from './layers/classification_head.js';

export interface ClassificationBatch extends PaddedBatch {
  /** `[B]`: class ids (Int32Array) when num_labels > 1; targets (Float32Array) when num_labels == 1. */
  labels?: Int32Array | Float32Array;
}

export interface ClassificationOutput {
  loss?: number;
  /** `[B, num_labels]`. */
  logits: Float32Array;
  /** `[B, hidden_size]` pooler output (before dropout). */
  pooled: Float32Array;
}

export class MosaicBertForSequenceClassification extends MosaicBertBase {
  private readonly headLayer: ClassificationHead;

  constructor(config: MosaicBertConfig, opts: ModelOptions = {}) {
    super(config, 'classification', opts);
    this.headLayer = new ClassificationHead(config.hidden_size, config.num_labels,
      config.classifier_dropout ?? config.hidden_dropout_prob, this.k, this.ws);
  }

  /** Forward on a right-padded batch `[B, S]`; with `labels`, the mean loss. Throws on empty sequences or bad ids. */
  forward(batch: ClassificationBatch, opts: { training?: boolean; seed?: number; step?: number;
    keepHiddenStates?: boolean } = {}): ClassificationOutput {
    const u = unpadBatch(batch);
    const opt = { training: opts.training ?? false, seed: opts.seed ?? 0, step: opts.step ?? 0 };
    const h = this.encoder.forward(u, { ...opt, keepHiddenStates: opts.keepHiddenStates });
    return this.headLayer.forward(this.params, h, u, batch.labels, opt);
  }

  /** Accumulates `lossScale * d(loss)/d(param)` into `grads` for the last forward (which must have had labels). */
  backward(lossScale = 1): void {
    const G = this.requireGrads();
    const dh = this.headLayer.backward(this.params, G, lossScale, 'MosaicBertForSequenceClassification');
    this.encoder.backward(dh, G);
  }
}
