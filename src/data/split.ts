/**
 * The train/validation split of corpus preparation: document `i` (0-based, in corpus order, empty documents
 * included) goes to validation iff word 0 of the Philox4x32-10 block at counter (i, "SPLT") under key (seed) is
 * below val_fraction * 2^32. Deterministic, independent of batching and of the other documents; all samples of a
 * document (chunk mode) share its split.
 */
import { philoxBlock } from './philox_block.js';

const SPLIT_TAG = 0x53504c54;   // "SPLT"
const TWO32 = 4294967296;
const w = new Uint32Array(4);

/**
 * True when document `doc_index` (integer in [0, 2^53)) belongs to the validation split.
 * @param val_fraction in [0, 1]: 0 sends nothing to validation, 1 everything.
 */
export function isValidationDocument(doc_index: number, seed: number, val_fraction: number): boolean {
  if (val_fraction <= 0) return false;
  if (val_fraction >= 1) return true;
  philoxBlock((doc_index % TWO32) >>> 0, Math.floor(doc_index / TWO32) >>> 0, SPLIT_TAG, 0,
    (seed % TWO32) >>> 0, Math.floor(seed / TWO32) >>> 0, w);
  return w[0] < val_fraction * TWO32;
}
