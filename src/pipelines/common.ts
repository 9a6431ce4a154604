/**
 * What the pipelines share: loading a model folder and its tokenizer, tokenizing inputs with truncation, and
 * running the encoder over inputs of different lengths unpadded, in chunks of at most `max_batch_tokens` tokens.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromPretrained, type FromPretrainedOptions, type PretrainedModel } from '../interop/pretrained.js';
import type { HeadKind } from '../model/params.js';
import { unpadBatch, type UnpaddedBatch } from '../model/batch.js';
import { BertTokenizer } from '../tokenizer/bert_tokenizer.js';

/** Options common to every pipeline (construction time; per-call options override `max_length`). */
export interface PipelineOptions {
  /** A tokenizer to use instead of the model folder's vocab.txt (else the packaged bert-base-uncased). */
  tokenizer?: BertTokenizer;
  /**
   * Truncate each input to at most this many tokens, [CLS]/[SEP] included (the final [SEP] is kept). Default:
   * the config's `alibi_starting_size`; any larger value works since ALiBi extrapolates (no position table).
   */
  max_length?: number;
  /** Upper bound on tokens per encoder forward (bounds activation memory); default 8192. */
  max_batch_tokens?: number;
  /** Passed to {@link fromPretrained} when the model is a folder (e.g. `kernels`, `warn`). */
  load?: FromPretrainedOptions;
  /**
   * Inference precision (transformers.js's `dtype`): 'fp32' (default for a folder: weights pre-packed once, sparse
   * kernels for pruned weights; an INT8 folder keeps its int8 weights) or 'q8' (INT8 encoder projections). For a
   * model object, applied only when given.
   */
  dtype?: 'fp32' | 'q8';
}

/** One tokenized input. */
export interface EncodedInput {
  ids: number[];
  types: number[];
}

/** An error about one input of a batch; `index` is its position in the batch (the CLI maps it to a file line). */
export class PipelineInputError extends Error {
  constructor(readonly index: number, message: string) {
    super(message);
    this.name = 'PipelineInputError';
  }
}

/** Loads the model (when given a folder) with the given head. */
export function loadModel<M extends PretrainedModel>(model: M | string, head: HeadKind | undefined,
  opts: PipelineOptions): M {
  if (typeof model !== 'string') {
    if (opts.dtype) model.prepareInference(opts.dtype);
    return model;
  }
  const m = fromPretrained(model, { ...(opts.load ?? {}), ...(head ? { head } : {}), dtype: opts.dtype }) as M;
  // A folder's model serves inference only: prepare its weights (fp32) unless the caller chose the kernels or the
  // folder came prepared (an INT8 folder loads with its int8 backends).
  if (!opts.dtype && !opts.load?.kernels && !m.encoder.linears().some((l) => l.backend)) m.prepareInference('fp32');
  return m;
}

/**
 * The tokenizer of a model folder: its vocab.txt (lowercasing per tokenizer_config.json `do_lower_case`, default
 * true) when present, else the packaged bert-base-uncased vocabulary.
 */
export async function loadTokenizer(dir: string | undefined, given?: BertTokenizer): Promise<BertTokenizer> {
  if (given) return given;
  if (dir && existsSync(join(dir, 'vocab.txt'))) {
    let lower = true;
    const tc = join(dir, 'tokenizer_config.json');
    if (existsSync(tc)) {
      try {
        const d = JSON.parse(readFileSync(tc, 'utf8')) as { do_lower_case?: boolean };
        if (typeof d.do_lower_case === 'boolean') lower = d.do_lower_case;
      } catch (e) {
        throw new Error(`${tc}: cannot parse (${(e as Error).message})`);
      }
    }
    return BertTokenizer.fromVocabFile(join(dir, 'vocab.txt'), { do_lower_case: lower });
  }
  return BertTokenizer.bertBaseUncased();
}

/**
 * The default truncation length of a model: MosaicBERT's `alibi_starting_size` (ALiBi extrapolates past it), classic
 * BERT's `max_position_embeddings` (the size of its position table).
 */
export function defaultMaxLength(cfg: object): number {
  const c = cfg as { alibi_starting_size?: number; max_position_embeddings: number };
  return c.alibi_starting_size ?? c.max_position_embeddings;
}

/** Validates a max_length / max_batch_tokens option. */
export function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 2) throw new Error(`${name} must be an integer >= 2, got ${v}`);
  return v;
}

/** Tokenizes texts (or pairs) with truncation to `maxLength` (HF `longest_first`; [CLS]/[SEP] always kept). */
export async function encodeAll(tok: BertTokenizer, inputs: Array<{ text: string; text_pair?: string }>,
  maxLength: number): Promise<EncodedInput[]> {
  const out: EncodedInput[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const { text, text_pair } = inputs[i];
    if (typeof text !== 'string') throw new PipelineInputError(i, `input ${i}: expected a string, got ${typeof text}`);
    const e = await tok.encode(text, text_pair, { max_length: maxLength });
    out.push({ ids: e.input_ids, types: e.token_type_ids });
  }
  return out;
}

/** Splits inputs (in order) into consecutive groups of at most `maxTokens` tokens (a longer input goes alone). */
export function chunkByTokens(lengths: number[], maxTokens: number): Array<[number, number]> {
  const chunks: Array<[number, number]> = [];
  let start = 0, sum = 0;
  for (let i = 0; i < lengths.length; i++) {
    if (i > start && sum + lengths[i] > maxTokens) { chunks.push([start, i]); start = i; sum = 0; }
    sum += lengths[i];
  }
  if (start < lengths.length) chunks.push([start, lengths.length]);
  return chunks;
}

/** The unpadded batch of some encoded inputs (right-padded to the longest; padding never reaches a kernel). */
export function toUnpadded(encs: EncodedInput[]): UnpaddedBatch {
  const B = encs.length, S = Math.max(1, ...encs.map((e) => e.ids.length));
  const ids = new Int32Array(B * S), types = new Int32Array(B * S), mask = new Int32Array(B * S);
  encs.forEach((e, b) => {
    for (let s = 0; s < e.ids.length; s++) { ids[b * S + s] = e.ids[s]; types[b * S + s] = e.types[s]; mask[b * S + s] = 1; }
  });
  return unpadBatch({ batch: B, seqlen: S, input_ids: ids, token_type_ids: types, attention_mask: mask });
}

/**
 * Runs the encoder (inference mode: one layer's buffers reused) over the inputs in token-bounded chunks and hands
 * each chunk's hidden states `[nnz, H]` (rows in input order, unpadded) to `consume` before the next forward.
 */
export function forEachChunk(model: PretrainedModel, encs: EncodedInput[], maxTokens: number,
  consume: (start: number, u: UnpaddedBatch, hidden: Float32Array) => void): void {
  for (const [a, b] of chunkByTokens(encs.map((e) => e.ids.length), maxTokens)) {
    const u = toUnpadded(encs.slice(a, b));
    const h = model.encode(u, { training: false, inference: true });
    consume(a, u, h);
  }
}

/** Indices of the `k` largest values, largest first (ties: lower index first); `limit` bounds the candidates. */
export function topK(values: ArrayLike<number>, k: number, limit = values.length): number[] {
  const best: number[] = [];
  for (let v = 0; v < limit; v++) {
    const x = values[v];
    if (best.length === k && !(x > values[best[k - 1]])) continue;
    let i = best.length === k ? k - 1 : best.length;
    if (best.length < k) best.push(v);
    while (i > 0 && values[best[i - 1]] < x) { best[i] = best[i - 1]; i--; }
    best[i] = v;
  }
  return best;
}
