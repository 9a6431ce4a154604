/**
 * Composer checkpoints: the `.pt` files that Composer's Trainer writes (mosaicml/examples' `main.py` for
 * MosaicBERT, `save_folder` / `ep0-ba3500-rank0.pt`): a `torch.save` of
 * `{'state': {'model': {'model.<key>': tensor, ...}, 'optimizers': ..., 'timestamp': ..., ...}, 'rng': [...]}`.
 * The model's weights are the entries of `state.model`; the `model.` prefix is Composer's `HuggingFaceModel`
 * wrapper attribute and is stripped, leaving the Hugging Face key names (`bert.encoder.layer.0...`,
 * `cls.predictions...`). The model's Hugging Face config, when Composer stored it, is
 * `state.integrations.huggingface.model.config.content`. The file is read by the restricted unpickler (nothing is
 * executed); the parts that are not weights (RNG states with numpy arrays, timestamps, optimizer state) are kept as
 * inert records and ignored.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../io/safetensors.js';
import { PyDict } from '../io/pickle.js';
import { readTorchCheckpoint } from '../io/torch_pickle.js';

/** File name endings of Composer checkpoints (`.pt`, as Composer names them; `.pt.tar` is not read). */
const COMPOSER_SUFFIX = '.pt';

/**
 * The Composer checkpoint that `path` names: the file itself when it ends in `.pt`, or the one `.pt` file inside a
 * folder; null otherwise (a Hugging Face folder, or no such path).
 * @throws Error naming the folder when it holds several `.pt` files (ambiguous).
 */
export function composerCheckpointPath(path: string): string | null {
  if (!existsSync(path)) return null;
  const st = statSync(path);
  if (st.isFile()) return path.endsWith(COMPOSER_SUFFIX) ? path : null;
  if (!st.isDirectory()) return null;
  const pts = readdirSync(path).filter((f) => f.endsWith(COMPOSER_SUFFIX) && statSync(join(path, f)).isFile()).sort();
  if (!pts.length) return null;
  if (pts.length > 1) throw new Error(`${path}: several Composer checkpoints (${pts.join(', ')}); name one of the files`);
  return join(path, pts[0]);
}

function get(d: unknown, key: string): unknown {
  return d instanceof PyDict ? d.map.get(key) : undefined;
}

/** Python data (dicts, lists, scalars) as JSON-like JavaScript values; other objects become undefined. */
function toPlain(v: unknown): unknown {
  if (v instanceof PyDict) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v.map) o[String(k)] = toPlain(x);
    return o;
  }
  if (Array.isArray(v)) return v.map(toPlain);
  if (typeof v === 'bigint') return Number(v);
  if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) return v;
  return undefined;
}

/** What {@link readComposerCheckpoint} returns. */
export interface ComposerCheckpoint {
  /** Weights by Hugging Face key name (fp16/bf16 widened to fp32 as for `pytorch_model.bin`). */
  tensors: Map<string, Tensor>;
  /**
   * The Hugging Face config Composer's `HuggingFaceModel` stores in `state.integrations.huggingface.model.config
   * .content` (the model's `config.to_dict()`), or null when the checkpoint has none.
   */
  config: Record<string, unknown> | null;
}

/**
 * Reads the model weights of a Composer checkpoint: `state.model`, keys without the leading `model.`; and the
 * Hugging Face config Composer stored with them, when present.
 * @throws Error naming the file when it is not a torch checkpoint, refuses a code-running global, or has no
 *   `state.model` dict of tensors (naming the first entry that is not a tensor).
 */
export function readComposerCheckpoint(path: string): ComposerCheckpoint {
  const ck = readTorchCheckpoint(path, { opaque: true, tensorsAt: ['state', 'model'] });
  const state = get(ck.object, 'state');
  const model = get(state, 'model');
  if (!(model instanceof PyDict)) {
    const top = ck.object instanceof PyDict ? [...ck.object.map.keys()].map(String).join(', ') : 'not a dict';
    throw new Error(`${path}: not a Composer checkpoint (no 'state' -> 'model' dict of weights; top-level keys: ${top})`);
  }
  if (ck.skipped.length) throw new Error(`${path}: state.model['${ck.skipped[0]}'] is not a tensor`);
  const tensors = new Map<string, Tensor>();
  for (const [key, t] of ck.tensors) tensors.set(key.startsWith('model.') ? key.slice('model.'.length) : key, t);
  if (!tensors.size) throw new Error(`${path}: state.model holds no weights`);
  const content = toPlain(get(get(get(get(get(state, 'integrations'), 'huggingface'), 'model'), 'config'), 'content'));
  const config = content && typeof content === 'object' && !Array.isArray(content) ? content as Record<string, unknown> : null;
  return { tensors, config };
}
