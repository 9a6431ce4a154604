/**
 * The `feature-extraction` pipeline in the shape of transformers.js: the encoder's last hidden states, optionally
 * pooled and L2-normalized, as a Tensor-like `{type: 'float32', data, dims}`.
 *
 * Shape rule (transformers.js's): the result is always batched, a single string counting as a batch of one.
 * - `pooling: 'none'` -> dims `[B, S, H]` with S the longest input (after truncation); rows past an input's length
 *   are exact zeros (the engine never computes them: they are only written as zeros in the output).
 * - `pooling: 'mean'` -> `[B, H]`, the mean over the input's real tokens ([CLS] and [SEP] included, padding
 *   excluded), so it equals the input's result when run alone.
 * - `pooling: 'cls'` -> `[B, H]`, the [CLS] row.
 * `normalize: true` divides each H-vector (each token for 'none') by its L2 norm (max(norm, 1e-12)).
 */
import type { PretrainedModel } from '../interop/pretrained.js';
import { BertTokenizer } from '../tokenizer/bert_tokenizer.js';
import { defaultMaxLength, encodeAll, forEachChunk, loadModel, loadTokenizer, positiveInt, type PipelineOptions } from './common.js';

/** A float32 tensor in transformers.js's layout: row-major `data` of shape `dims`. */
export interface PipelineTensor {
  type: 'float32';
  data: Float32Array;
  dims: number[];
}

/** Options of a feature-extraction call. */
export interface FeatureExtractionOptions {
  /** 'none' (default, `[B, S, H]`), 'mean' (`[B, H]`, padding ignored) or 'cls' (`[B, H]`). */
  pooling?: 'none' | 'mean' | 'cls';
  /** L2-normalize each output vector (default false). */
  normalize?: boolean;
  /** Truncation length for this call (see {@link PipelineOptions.max_length}). */
  max_length?: number;
}

/** The feature-extraction callable (`pipeline('feature-extraction', ...)`). */
export interface FeatureExtractionPipelineFn {
  (texts: string | string[], options?: FeatureExtractionOptions): Promise<PipelineTensor>;
  readonly task: 'feature-extraction';
  readonly model: PretrainedModel;
  readonly tokenizer: BertTokenizer;
}

/** Builds the feature-extraction pipeline over any model (MosaicBERT or classic BERT, or a folder); only the encoder runs. */
export async function createFeatureExtractionPipeline(model: PretrainedModel | string,
  options: PipelineOptions = {}): Promise<FeatureExtractionPipelineFn> {
  const m = loadModel(model, undefined, options);
  const tok = await loadTokenizer(typeof model === 'string' ? model : undefined, options.tokenizer);
  const H = m.config.hidden_size;
  const defaultMax = options.max_length ?? defaultMaxLength(m.config);
  const maxTokens = positiveInt('max_batch_tokens', options.max_batch_tokens ?? 8192);

  async function run(input: string | string[], o: FeatureExtractionOptions = {}): Promise<PipelineTensor> {
    const texts = Array.isArray(input) ? input : [input];
    const pooling = o.pooling ?? 'none';
    if (!['none', 'mean', 'cls'].includes(pooling)) throw new Error(`pooling must be 'none', 'mean' or 'cls', got '${pooling}'`);
    const encs = await encodeAll(tok, texts.map((text) => ({ text })), positiveInt('max_length', o.max_length ?? defaultMax));
    const B = texts.length, S = Math.max(0, ...encs.map((e) => e.ids.length));
    const dims = pooling === 'none' ? [B, S, H] : [B, H];
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    const acc = new Float64Array(H);
    forEachChunk(m, encs, maxTokens, (start, u, hidden) => {
      for (let b = 0; b < u.batch; b++) {
        const r0 = u.cuSeqlens[b], n = u.cuSeqlens[b + 1] - r0, i = start + b;
        if (pooling === 'none') {
          data.set(hidden.subarray(r0 * H, (r0 + n) * H), i * S * H);
        } else if (pooling === 'cls') {
          data.set(hidden.subarray(r0 * H, (r0 + 1) * H), i * H);
        } else {
          acc.fill(0);
          for (let r = r0; r < r0 + n; r++) for (let c = 0; c < H; c++) acc[c] += hidden[r * H + c];
          for (let c = 0; c < H; c++) data[i * H + c] = acc[c] / n;
        }
      }
    });
    if (o.normalize) {
      for (let off = 0; off < data.length; off += H) {
        let s = 0;
        for (let c = 0; c < H; c++) s += data[off + c] * data[off + c];
        const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
        for (let c = 0; c < H; c++) data[off + c] *= inv;
      }
    }
    return { type: 'float32', data, dims };
  }
  return Object.assign(run, { task: 'feature-extraction' as const, model: m, tokenizer: tok });
}
