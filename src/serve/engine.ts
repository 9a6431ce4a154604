/**
 * The model side of the server: loads a Hugging Face folder once (weights prepared for inference), and runs one
 * batch of queued inputs (the {@link BatchRunner} of the batcher) through the existing pipelines:
 * - `embed|<pooling>|<normalize>` keys: texts -> the feature-extraction pipeline (one unpadded forward per batch,
 *   its `max_batch_tokens` equal to the server's) -> one `Float32Array[H]` per text (views of one buffer);
 * - `fill|<top_k>` keys: texts -> the fill-mask pipeline -> its per-text result;
 * - `predict`: pre-tokenized texts or pairs -> the classification model's public `forward` on their right-padded
 *   batch (which unpads it) -> one `Float32Array[num_labels]` of logits per input (views of one buffer); scores are
 *   derived by the route.
 * Every pipeline call truncates to `maxInputLength` (inputs longer than that were rejected or, with
 * `truncate: true`, admitted at that length), so the token counts the batcher budgets are the tokens computed.
 * The embed and fill keys carry texts, not the token ids the HTTP side already computed: the pipelines take texts
 * only, so those inputs are tokenized a second time here (`node bench/tokenize_cost.mjs`: 1.4 ms per 32 inputs of 16
 * tokens, 6.1 ms per 32 of 128, under 0.5% of those batches' forward on MosaicBERT-base).
 *
 * An Engine runs wherever it is loaded: in the model worker (src/serve/worker.ts, the default) or, with
 * `worker: false`, on the server's own thread (src/serve/model_host.ts).
 */
import { loadPretrained, type AnyPretrainedModel, type PretrainedInfo, type PretrainedModel } from '../interop/pretrained.js';
import type { PaddedBatch } from '../model/batch.js';
import { defaultMaxLength, loadTokenizer, type EncodedInput } from '../pipelines/common.js';
import { createFeatureExtractionPipeline, type FeatureExtractionPipelineFn } from '../pipelines/feature_extraction.js';
import { createFillMaskPipeline, type FillMaskOutput, type FillMaskPipelineFn } from '../pipelines/fill_mask.js';
import { scoreFunction } from '../pipelines/text_classification.js';
import type { BertTokenizer } from '../tokenizer/bert_tokenizer.js';
import type { MosaicBertForMaskedLM } from '../model/mlm.js';
import { tokenizeInput } from './inputs.js';
import type { ModelSummary } from './model_host.js';

/** Options of {@link Engine.load}. */
export interface EngineOptions {
  /** Token budget of one batch (passed to the pipelines so each batch is one forward). */
  maxBatchTokens: number;
  /** Longest input in tokens, [CLS]/[SEP] included (default: config `alibi_starting_size`, at most maxBatchTokens). */
  maxInputLength?: number;
  /** Receives loader warnings (default: console.warn). */
  warn?: (message: string) => void;
  /** Inference precision (see `EncoderModel.prepareInference`); default: the folder's own (fp32, or its int8). */
  dtype?: 'fp32' | 'q8';
}

/** Text-classification scoring of the loaded model. */
export interface ClassifierInfo {
  labels: string[];
  id2label: Record<string, string>;
  label2id: Record<string, number>;
  score: 'softmax' | 'sigmoid' | 'none';
}

export class Engine {
  private constructor(
    readonly dir: string,
    readonly model: AnyPretrainedModel,
    readonly info: PretrainedInfo,
    readonly tokenizer: BertTokenizer,
    readonly maxInputLength: number,
    readonly maxBatchTokens: number,
    private readonly fe: FeatureExtractionPipelineFn,
    private readonly fm: FillMaskPipelineFn | null,
    readonly classifier: ClassifierInfo | null,
  ) {}

  /**
   * Loads the model folder (weights, config.json, vocab.txt) and builds the pipelines its head allows.
   * @throws Error naming the folder or file when it cannot be loaded, or when `maxInputLength` exceeds
   *   `maxBatchTokens` (an input must fit in one batch).
   */
  static async load(dir: string, opts: EngineOptions): Promise<Engine> {
    const { model, info } = loadPretrained(dir, { warn: opts.warn });
    const m = model as PretrainedModel;
    // Prepared weights, once: pre-packed fp32 (sparse kernels for pruned weights), or INT8; an INT8 folder keeps its own.
    if (opts.dtype || !m.encoder.linears().some((l) => l.backend)) m.prepareInference(opts.dtype ?? 'fp32');
    const tokenizer = await loadTokenizer(dir);
    const cfg = model.config;
    const modelMax = defaultMaxLength(cfg);
    const maxInputLength = opts.maxInputLength ?? Math.min(modelMax, opts.maxBatchTokens);
    if (!Number.isInteger(maxInputLength) || maxInputLength < 2) throw new Error(`--max-input-length must be an integer >= 2, got ${maxInputLength}`);
    if (maxInputLength > opts.maxBatchTokens) {
      throw new Error(`--max-input-length ${maxInputLength} exceeds --max-batch-tokens ${opts.maxBatchTokens}: ` +
        'every input must fit in one batch');
    }
    const popts = { tokenizer, max_length: maxInputLength, max_batch_tokens: Math.max(2, opts.maxBatchTokens) };
    const fe = await createFeatureExtractionPipeline(m, popts);
    const fm = info.head === 'mlm' ? await createFillMaskPipeline(m as MosaicBertForMaskedLM, popts) : null;
    let classifier: ClassifierInfo | null = null;
    if (info.head === 'classification') {
      const n = cfg.num_labels;
      const labels = Array.from({ length: n }, (_, i) => cfg.id2label?.[String(i)] ?? `LABEL_${i}`);
      classifier = {
        labels, id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
        label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
        score: scoreFunction(cfg.problem_type, n),
      };
    }
    return new Engine(dir, model, info, tokenizer, maxInputLength, opts.maxBatchTokens, fe, fm, classifier);
  }

  /** Hidden size (embedding dimension). */
  get hidden(): number { return this.model.config.hidden_size; }

  /** Whether `/fill-mask` is served (a masked-LM head). */
  get canFillMask(): boolean { return this.fm !== null; }

  /**
   * Fraction of exact zeros in the encoder layers' weight matrices (0 for a dense model; a pruned model reports
   * its sparsity).
   */
  sparsity(): number {
    return (this.sparsityCache ??= this.model.encoderSparsity());
  }

  private sparsityCache?: number;

  /** What the HTTP side needs to know about the loaded model (plain data: it crosses to the main thread). */
  summary(): ModelSummary {
    const cfg = this.model.config;
    return {
      head: this.info.head, modelType: this.info.modelType, hiddenSize: cfg.hidden_size,
      numHiddenLayers: cfg.num_hidden_layers, maxInputLength: this.maxInputLength, maxBatchTokens: this.maxBatchTokens,
      classifier: this.classifier, canFillMask: this.canFillMask, sparsity: this.sparsity(),
      dtype: this.model.encoder.linears().some((l) => l.backend?.kind.startsWith('q8')) ? 'int8' : 'float32',
    };
  }

  /** Runs one batch (see the file comment for keys and payloads). */
  readonly run = async (key: string, payloads: unknown[]): Promise<unknown[]> => {
    if (key.startsWith('embed|')) {
      const [, pooling, norm] = key.split('|');
      const texts = payloads as string[];
      const t = await this.fe(texts, { pooling: pooling as 'mean' | 'cls', normalize: norm === 'true' });
      const H = this.hidden;
      return texts.map((_, i) => t.data.subarray(i * H, (i + 1) * H));
    }
    if (key.startsWith('fill|')) {
      if (!this.fm) throw new Error('fill-mask needs a masked-LM model');
      const topK = Number(key.slice(5));
      return await this.fm(payloads as string[], { top_k: topK }) as FillMaskOutput[];
    }
    if (key === 'predict') return this.logits(payloads as EncodedInput[]);
    throw new Error(`unknown batch key '${key}'`);
  };

  /** `[num_labels]` logits per input, from the classification model's forward on the right-padded batch. */
  private logits(encs: EncodedInput[]): Float32Array[] {
    if (!this.classifier) throw new Error('predict needs a sequence-classification model');
    const B = encs.length, S = Math.max(...encs.map((e) => e.ids.length));
    const input_ids = new Int32Array(B * S), token_type_ids = new Int32Array(B * S), attention_mask = new Int32Array(B * S);
    encs.forEach((e, b) => e.ids.forEach((id, s) => {
      input_ids[b * S + s] = id; token_type_ids[b * S + s] = e.types[s]; attention_mask[b * S + s] = 1;
    }));
    const batch: PaddedBatch = { batch: B, seqlen: S, input_ids, token_type_ids, attention_mask };
    const m = this.model as unknown as { forward(b: PaddedBatch): { logits: Float32Array } };
    const { logits } = m.forward(batch);
    const NL = this.classifier.labels.length;
    // A copy the caller owns (the worker transfers its buffer; the model's own may be reused by the next forward).
    const out = logits.slice(0, B * NL);
    return encs.map((_, b) => out.subarray(b * NL, (b + 1) * NL));
  }

  /** One small batch of each served kind, so the first request does not pay for first-call allocations. */
  async warmUp(): Promise<void> {
    const text = 'warm up the encoder before serving requests';
    await this.run('embed|mean|true', [text, text + ' twice']);
    if (this.fm) await this.run('fill|5', [`${text} [MASK].`]);
    if (this.classifier) this.logits([await tokenizeInput(this.tokenizer, this.maxInputLength, text, undefined, true, 'warmup')]);
  }
}
