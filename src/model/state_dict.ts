/**
 * Loading a reference state dict into a {@link ParamStore}: Composer's `model.` prefix is stripped, the tied
 * decoder weight (`cls.predictions.decoder.weight`) is accepted whether stored or not (it is the word-embedding
 * matrix), and missing / unexpected keys are reported by name (docs/mosaicbert.md fact 14).
 */
import type { ParamStore } from './params.js';
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
