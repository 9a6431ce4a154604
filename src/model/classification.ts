/**
 * Sequence-classification models (the reference's `BertForSequenceClassification`, HF's): the encoder, then the
 * pooler + classifier head (layers/classification_head.ts): `tanh(h[CLS] Wp^T + bp)`, dropout (classifier_dropout,
 * else hidden_dropout_prob), `classifier` Linear(H, num_labels); cross-entropy when num_labels > 1, MSE when 1.
 * `problem_type: multi_label_classification` runs for inference (the pipeline applies a sigmoid); its loss is not
 * implemented.
 */
import type { MosaicBertConfig } from './config.js';
import type { BertConfig } from './bert_config.js';
import { CLASSIC_BERT, MOSAICBERT, architectureOf } from './architecture.js';
import type { EncoderConfig } from './config.js';
import { EncoderModel, type ForwardOptions, type ModelOptions } from './base.js';
import { unpadBatch, type PaddedBatch, type UnpaddedBatch } from './batch.js';
import { ClassificationHead, classificationHeadActivations, type ClassificationHeadActivations } from './layers/classification_head.js';
import type { Linear } from './layers/linear.js';
import type { DistillTarget } from '../train/distillation.js';

export interface ClassificationBatch extends PaddedBatch {
  /** `[B]`: class ids (Int32Array) when num_labels > 1; targets (Float32Array) when num_labels == 1. */
  labels?: Int32Array | Float32Array;
}

export interface ClassificationOutput {
  /** Mean loss with labels; with `distill`, `(1 - hardness) * taskLoss + hardness * distillLoss`. */
  loss?: number;
  /** With `distill`: the task loss and the KD term (T^2-scaled mean KL over the sequences). */
  taskLoss?: number;
  distillLoss?: number;
  /** `[B, num_labels]`. */
  logits: Float32Array;
  /** `[B, hidden_size]` pooler output (before dropout). */
  pooled: Float32Array;
}

export interface ClassificationForwardOptions extends ForwardOptions {
  /**
   * Knowledge distillation (train/distillation.ts): the teacher's logits `[B, num_labels]` of the same batch; the loss
   * becomes `(1 - hardness) * task + hardness * KD` and `backward()` follows it. Needs labels and num_labels > 1.
   */
  distill?: DistillTarget;
}

export class SequenceClassificationModel<C extends EncoderConfig = EncoderConfig> extends EncoderModel<C> {
  readonly classificationHead: ClassificationHead;
  private readonly headActs: ClassificationHeadActivations;
  private readonly predictActs: ClassificationHeadActivations;

  /** @throws Error when instantiated directly: use a named subclass, which fixes the architecture. */
  constructor(config: C, opts: ModelOptions = {}) {
    super(config, architectureOf(new.target), 'classification', opts);
    this.classificationHead = new ClassificationHead(this.k, this.params, config.hidden_size, config.num_labels,
      config.classifier_dropout ?? config.hidden_dropout_prob);
    this.headActs = classificationHeadActivations(this.arena);
    this.predictActs = classificationHeadActivations(this.arena);
  }

  linears(): Linear[] {
    return [...this.encoder.linears(), this.classificationHead.pooler, this.classificationHead.classifier];
  }

  /**
   * Forward on a right-padded batch `[B, S]`: `logits` `[B, num_labels]`, `pooled` `[B, H]`, and with `labels`
   * (`[B]`: class ids, or float targets when num_labels == 1) the mean loss.
   * @throws Error when a sequence is empty or a class id is out of range.
   */
  forward(batch: ClassificationBatch, opts: ClassificationForwardOptions = {}): ClassificationOutput {
    if (batch.labels && (this.config as { problem_type?: string }).problem_type === 'multi_label_classification') {
      throw new Error("labels: problem_type 'multi_label_classification' is not supported for training (inference only)");
    }
    const u = unpadBatch(batch);
    const ctx = { training: opts.training ?? false, seed: opts.seed ?? 0, step: opts.step ?? 0 };
    const h = this.encoder.forward(u, { ...ctx, keepHiddenStates: opts.keepHiddenStates });
    return this.classificationHead.forward(h, u, batch.labels, ctx, this.headActs, opts.distill);
  }

  /**
   * The head on encoder outputs `h[nnz, H]` of `u` (e.g. from {@link encode}), evaluation mode: logits
   * `[B, num_labels]` and the pooled `[B, H]`, valid until the next call.
   */
  classifyHidden(h: Float32Array, u: UnpaddedBatch): ClassificationOutput {
    return this.classificationHead.forward(h, u, undefined, { training: false, seed: 0, step: 0 }, this.predictActs);
  }

  /** Accumulates `lossScale * d(loss)/d(param)` into `grads` for the last forward (which must have had labels). */
  backward(lossScale = 1): void {
    const G = this.requireGrads();
    const dh = this.classificationHead.backward(G, lossScale, this.headActs, this.constructor.name);
    this.encoder.backward(dh, G);
  }
}

/** MosaicBERT with the classification head (reference `bert_layers.BertForSequenceClassification`). */
export class MosaicBertForSequenceClassification extends SequenceClassificationModel<MosaicBertConfig> {
  static readonly architecture = MOSAICBERT;
}

/** Classic BERT with the classification head (HF `BertForSequenceClassification`). */
export class BertForSequenceClassification extends SequenceClassificationModel<BertConfig> {
  static readonly architecture = CLASSIC_BERT;
}
