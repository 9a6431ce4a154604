/**
 * The `fill-mask` pipeline in the shape of transformers.js / Hugging Face `pipeline('fill-mask')`: tokenize, run
 * the encoder over the batch unpadded, run the MLM head on the [MASK] rows only, softmax over the model's whole
 * output vocabulary and return the top-k tokens as `[{score, token, token_str, sequence}]`, best first.
 *
 * Output shape: a string with one [MASK] -> `FillMaskResult[]`; a string with several [MASK]s ->
 * `FillMaskResult[][]` (one list per mask, in text order, as Hugging Face does); a string[] -> one of those per
 * input.
 */
import { MaskedLMModel } from '../model/mlm.js';
import { BertTokenizer } from '../tokenizer/bert_tokenizer.js';
import { defaultMaxLength, encodeAll, forEachChunk, loadModel, loadTokenizer, PipelineInputError, positiveInt, topK,
  type PipelineOptions } from './common.js';

/** One candidate for a masked position. */
export interface FillMaskResult {
  /** Softmax probability over the model's whole output vocabulary. */
  score: number;
  /** Token id. */
  token: number;
  /** The token's WordPiece string. */
  token_str: string;
  /**
   * The input with this mask replaced by the token, decoded. With one mask, special tokens are removed; with
   * several, only [CLS]/[SEP]/[PAD] are, so the other masks stay visible as "[MASK]".
   */
  sequence: string;
}

/** Options of a fill-mask call. */
export interface FillMaskOptions {
  /** Candidates returned per mask (default 5). */
  top_k?: number;
  /** Truncation length for this call (see {@link PipelineOptions.max_length}). */
  max_length?: number;
}

/** Result for one input: one list, or one list per mask when the input has several. */
export type FillMaskOutput = FillMaskResult[] | FillMaskResult[][];

/** The general fill-mask callable (`pipeline('fill-mask', ...)`). */
export interface FillMaskPipelineFn {
  (text: string, options?: FillMaskOptions): Promise<FillMaskOutput>;
  (texts: string[], options?: FillMaskOptions): Promise<FillMaskOutput[]>;
  readonly task: 'fill-mask';
  readonly model: MaskedLMModel;
  readonly tokenizer: BertTokenizer;
}

/**
 * Builds the fill-mask pipeline from a masked-LM model (MosaicBERT or classic BERT) or a Hugging Face folder (see `fromPretrained`).
 * Per call: throws {@link PipelineInputError} (with the input's index) when an input has no [MASK] after
 * truncation.
 */
export async function createFillMaskPipeline(model: MaskedLMModel | string,
  options: PipelineOptions = {}): Promise<FillMaskPipelineFn> {
  const m = loadModel(model, 'mlm', options);
  if (!(m instanceof MaskedLMModel)) throw new Error('fill-mask needs a masked-LM model (BertForMaskedLM)');
  const tok = await loadTokenizer(typeof model === 'string' ? model : undefined, options.tokenizer);
  const V = m.config.vocab_size, H = m.config.hidden_size;
  const defaultMax = options.max_length ?? defaultMaxLength(m.config);
  const maxTokens = positiveInt('max_batch_tokens', options.max_batch_tokens ?? 8192);
  const strip = new Set([tok.cls_token_id, tok.sep_token_id, tok.pad_token_id]);

  async function run(input: string | string[], o: FillMaskOptions = {}): Promise<FillMaskOutput | FillMaskOutput[]> {
    const batched = Array.isArray(input);
    const texts = batched ? input : [input];
    const k = o.top_k ?? 5;
    if (!Number.isInteger(k) || k < 1) throw new Error(`top_k must be a positive integer, got ${k}`);
    const encs = await encodeAll(tok, texts.map((text) => ({ text })), positiveInt('max_length', o.max_length ?? defaultMax));
    const masks = encs.map((e, i) => {
      const at = e.ids.flatMap((id, s) => (id === tok.mask_token_id ? [s] : []));
      if (!at.length) throw new PipelineInputError(i, `input ${i}: no ${'[MASK]'} token${e.ids.length >= (o.max_length ?? defaultMax) ? ' (after truncation to max_length)' : ''}: ${JSON.stringify(texts[i].slice(0, 80))}`);
      return at;
    });
    // Candidates per (input, mask), filled chunk by chunk.
    const cand: Array<Array<Array<[number, number]>>> = texts.map(() => []);
    forEachChunk(m, encs, maxTokens, (start, u, hidden) => {
      const rows: number[] = [], who: Array<[number, number]> = [];
      for (let b = 0; b < u.batch; b++) {
        for (const s of masks[start + b]) { rows.push(u.cuSeqlens[b] + s); who.push([start + b, s]); }
      }
      const hm = new Float32Array(rows.length * H);
      m.k.gatherRows(hidden, Int32Array.from(rows), rows.length, H, hm);
      const logits = m.predictLogits(hm, rows.length);
      for (let r = 0; r < rows.length; r++) {
        const l = logits.subarray(r * V, (r + 1) * V);
        let max = -Infinity;
        for (let v = 0; v < V; v++) if (l[v] > max) max = l[v];
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(l[v] - max);
        // Top-k among the tokenizer's ids (the padded rows 30522.. are never real tokens).
        const best = topK(l, k, Math.min(V, tok.vocab_size));
        cand[who[r][0]].push(best.map((v) => [v, Math.exp(l[v] - max) / z]));
      }
    });
    const out: FillMaskOutput[] = [];
    for (let i = 0; i < texts.length; i++) {
      const ids = encs[i].ids, single = masks[i].length === 1;
      const lists: FillMaskResult[][] = [];
      for (let j = 0; j < masks[i].length; j++) {
        const list: FillMaskResult[] = [];
        for (const [v, score] of cand[i][j]) {
          const filled = ids.slice();
          filled[masks[i][j]] = v;
          const sequence = single ? await tok.decode(filled, true) : await tok.decode(filled.filter((t) => !strip.has(t)), false);
          list.push({ score, token: v, token_str: tok.idToToken(v) ?? String(v), sequence });
        }
        lists.push(list);
      }
      out.push(single ? lists[0] : lists);
    }
    return batched ? out : out[0];
  }
  return Object.assign(run, { task: 'fill-mask' as const, model: m, tokenizer: tok }) as FillMaskPipelineFn;
}

/** A fill-mask function for texts with exactly one [MASK] -> top-k candidates, best first. */
export type FillMaskPipeline = (text: string, options?: FillMaskOptions) => Promise<FillMaskResult[]>;

/**
 * The single-mask fill-mask function (the pretraining demo's API): a model (or a folder with `config.json` and
 * weights, e.g. a run's `model/`) and optionally a tokenizer (default: the folder's vocab.txt, else
 * bert-base-uncased).
 * @throws (when called) Error when the text does not hold exactly one [MASK] token.
 */
export async function fillMaskPipeline(model: MaskedLMModel | string, tokenizer?: BertTokenizer): Promise<FillMaskPipeline> {
  const p = await createFillMaskPipeline(model, { tokenizer });
  return async (text: string, options: FillMaskOptions = {}) => {
    const n = (await p.tokenizer.encode(text)).input_ids.filter((id) => id === p.tokenizer.mask_token_id).length;
    if (n !== 1) throw new Error(`fill-mask: the text must hold exactly one [MASK], found ${n}: ${JSON.stringify(text)}`);
    return (await p(text, { max_length: 1 << 20, ...options })) as FillMaskResult[];
  };
}
