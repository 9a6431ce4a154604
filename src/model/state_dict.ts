/**
 * Loading a reference state dict into a {@link ParamStore}: Composer's `model.` prefix is stripped, the tied
 * decoder weight (`cls.predictions.decoder.weight`) is accepted whether stored or not (it is the word-embedding
 * matrix), and missing / unexpected keys are reported by name (the reference checkpoints' state-dict keys).
 */
import type { ParamStore } from './params.js';
import { BERT_DECODER_BIAS_ALIAS, BERT_DECODER_BIAS_KEY, type Architecture } from './architecture.js';
import type { Tensor } from '../io/safetensors.js';

export const TIED_DECODER_KEY = 'cls.predictions.decoder.weight';
export const WORD_EMBEDDINGS_KEY = 'bert.embeddings.word_embeddings.weight';

export interface LoadReport {
  /** Parameters of the model that the state dict did not provide (left as they were). */
  missing: string[];
  /** Keys in the state dict that the model has no parameter for (ignored). */
  unexpected: string[];
}

/**
 * Copies matching tensors into `params`. Throws an Error naming the key when a shape differs.
 * @param source a file name for error messages.
 */
export function loadStateDict(params: ParamStore, sd: Map<string, Tensor>, source = 'state dict'): LoadReport {
  const norm = new Map<string, Tensor>();
  for (const [k, v] of sd) norm.set(k.startsWith('model.') ? k.slice(6) : k, v);
  if (!norm.has(WORD_EMBEDDINGS_KEY) && norm.has(TIED_DECODER_KEY)) norm.set(WORD_EMBEDDINGS_KEY, norm.get(TIED_DECODER_KEY)!);
  const unexpected: string[] = [];
  const seen = new Set<string>();
  for (const [k, t] of norm) {
    if (k === TIED_DECODER_KEY && params.has(WORD_EMBEDDINGS_KEY)) continue;  // tied: same matrix
    const spec = params.spec(k);
    if (!spec) { unexpected.push(k); continue; }
    if (t.dtype !== 'F32') throw new Error(`${source}: '${k}' has dtype ${t.dtype}, expected a float tensor`);
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      throw new Error(`${source}: '${k}' has shape [${t.shape}], the model expects [${spec.shape}]`);
    }
    params.get(k).set(t.data as Float32Array);
    seen.add(k);
  }
  const missing = params.specs.map((s) => s.name).filter((n) => !seen.has(n));
  return { missing, unexpected };
}

/** The parameters as a name -> tensor map (views, no copy), for saving. */
export function stateDict(params: ParamStore): Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> {
  const out = new Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>();
  for (const s of params.specs) out.set(s.name, { dtype: 'F32', shape: s.shape, data: params.get(s.name) });
  return out;
}

/** Buffers HF checkpoints may carry that are not parameters (silently dropped on load). */
const BUFFER_KEYS = new Set(['bert.embeddings.position_ids']);

/**
 * Normalises a state dict for `arch`: strips Composer's `model.` prefix; for classic BERT also renames the TF-era
 * `LayerNorm.gamma/beta` to `weight/bias` (as transformers does on load; the hub's bert-base-uncased .bin uses them),
 * maps `cls.predictions.decoder.bias` to `cls.predictions.bias` (HF ties the two) and drops `position_ids` buffers.
 */
export function normalizeStateDict(sd: Map<string, Tensor>, arch: Architecture): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k0, v] of sd) {
    let k = k0.startsWith('model.') ? k0.slice(6) : k0;
    if (arch.modelType === 'bert') {
      k = k.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
      if (BUFFER_KEYS.has(k)) continue;
    }
    out.set(k, v);
  }
  if (arch.modelType === 'bert' && out.has(BERT_DECODER_BIAS_ALIAS)) {
    if (!out.has(BERT_DECODER_BIAS_KEY)) out.set(BERT_DECODER_BIAS_KEY, out.get(BERT_DECODER_BIAS_ALIAS)!);
    out.delete(BERT_DECODER_BIAS_ALIAS);
  }
  return out;
}
