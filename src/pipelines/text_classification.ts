/**
 * The `text-classification` pipeline in the shape of transformers.js: `[{label, score}]`, best first, with labels
 * from config.json `id2label`. Scores: softmax over the labels (single-label), an independent sigmoid per label
 * when `problem_type` is 'multi_label_classification', and the raw logit when the model is a regression
 * (num_labels 1 or problem_type 'regression'; label `id2label[0]`, by default 'LABEL_0').
 *
 * Output shape (transformers.js's): with `top_k` 1 (default) one `{label, score}` per input, so a single input
 * gives `[{label, score}]` and a batch `[{...}, {...}]`; with `top_k` > 1 (or null: all labels) a single input
 * gives a list and a batch a list of lists.
 */
import { SequenceClassificationModel } from '../model/classification.js';
import { BertTokenizer } from '../tokenizer/bert_tokenizer.js';
import { defaultMaxLength, encodeAll, forEachChunk, loadModel, loadTokenizer, positiveInt, topK, type PipelineOptions } from './common.js';

/** One label and its score. */
export interface ClassificationResult {
  label: string;
  score: number;
}

/** An input: a text, or a sentence pair. */
export type ClassificationInput = string | { text: string; text_pair?: string };

/** Options of a text-classification call. */
export interface TextClassificationOptions {
  /** Labels returned per input (default 1; null: all, sorted). */
  top_k?: number | null;
  /** Truncation length for this call (see {@link PipelineOptions.max_length}). */
  max_length?: number;
}

/** The text-classification callable (`pipeline('text-classification', ...)`). */
export interface TextClassificationPipelineFn {
  (input: ClassificationInput | ClassificationInput[], options?: TextClassificationOptions):
    Promise<ClassificationResult[] | ClassificationResult[][]>;
  readonly task: 'text-classification';
  readonly model: SequenceClassificationModel;
  readonly tokenizer: BertTokenizer;
}

/** How logits become scores for a config. */
export function scoreFunction(problemType: string | undefined, numLabels: number): 'softmax' | 'sigmoid' | 'none' {
  if (problemType === 'regression' || numLabels === 1) return 'none';
  if (problemType === 'multi_label_classification') return 'sigmoid';
  return 'softmax';
}

/**
 * Builds the text-classification pipeline from a sequence-classification model (MosaicBERT or classic BERT) or a folder. The logits
 * are the model's own (`tanh` pooler on [CLS], then `classifier`), computed here on the inference-mode encoder
 * output so batches of any length run unpadded in bounded memory.
 */
export async function createTextClassificationPipeline(model: SequenceClassificationModel | string,
  options: PipelineOptions = {}): Promise<TextClassificationPipelineFn> {
  const m = loadModel(model, 'classification', options);
  if (!(m instanceof SequenceClassificationModel)) throw new Error('text-classification needs a sequence-classification model');
  const tok = await loadTokenizer(typeof model === 'string' ? model : undefined, options.tokenizer);
  const cfg = m.config as SequenceClassificationModel['config'] & { id2label?: Record<string, string>; problem_type?: string },
    NL = cfg.num_labels;
  const labelOf = (i: number) => cfg.id2label?.[String(i)] ?? `LABEL_${i}`;
  const fn = scoreFunction(cfg.problem_type, NL);
  const defaultMax = options.max_length ?? defaultMaxLength(cfg);
  const maxTokens = positiveInt('max_batch_tokens', options.max_batch_tokens ?? 8192);

  async function run(input: ClassificationInput | ClassificationInput[], o: TextClassificationOptions = {}):
    Promise<ClassificationResult[] | ClassificationResult[][]> {
    const batched = Array.isArray(input);
    const items = (batched ? input : [input]).map((x) => (typeof x === 'string' ? { text: x } : x));
    const k = o.top_k === null ? NL : Math.min(o.top_k ?? 1, NL);
    if (!Number.isInteger(k) || k < 1) throw new Error(`top_k must be a positive integer or null, got ${o.top_k}`);
    const encs = await encodeAll(tok, items, positiveInt('max_length', o.max_length ?? defaultMax));
    const logits = new Float32Array(items.length * NL);
    forEachChunk(m, encs, maxTokens, (start, u, hidden) => {
      const lg = m.classifyHidden(hidden, u).logits;
      logits.set(lg, start * NL);
    });
    const out = items.map((_, i) => {
      const l = logits.subarray(i * NL, (i + 1) * NL);
      let s: Float64Array;
      if (fn === 'softmax') {
        const max = Math.max(...l);
        s = Float64Array.from(l, (x) => Math.exp(x - max));
        const z = s.reduce((a, b) => a + b, 0);
        for (let j = 0; j < NL; j++) s[j] /= z;
      } else if (fn === 'sigmoid') {
        s = Float64Array.from(l, (x) => 1 / (1 + Math.exp(-x)));
      } else {
        s = Float64Array.from(l);
      }
      return topK(s, k).map((j) => ({ label: labelOf(j), score: s[j] }));
    });
    if (k === 1) return out.map((r) => r[0]) as unknown as ClassificationResult[];
    return batched ? out : out[0];
  }
  return Object.assign(run, { task: 'text-classification' as const, model: m, tokenizer: tok });
}
