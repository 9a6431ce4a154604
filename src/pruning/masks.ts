/**
 * Pruning masks (one byte per weight, 1 keep, 0 pruned; `Linear.mask`) and their 1x4 grouping. `block4` groups
 * are 4 consecutive weights of one output row along the input dimension of a row-major `[out, in]` weight
 * (elements 4q..4q+3), the pattern VNNI-style int8 kernels consume (../shared/docs/obert.md §4.2); it needs
 * `in % 4 == 0`.
 */
import type { Linear } from '../model/layers/linear.js';

export type MaskType = 'unstructured' | 'block4';

/** Elements per selection unit: 1 or 4. */
export function unitSize(maskType: MaskType): number {
  return maskType === 'block4' ? 4 : 1;
}

/** @throws Error naming the layer when its input dimension is not a multiple of 4 (block4). */
export function checkMaskType(l: Pick<Linear, 'name' | 'inFeatures'>, maskType: MaskType): void {
  if (maskType === 'block4' && l.inFeatures % 4 !== 0) {
    throw new Error(`${l.name}: mask type block4 needs in_features divisible by 4, got ${l.inFeatures}`);
  }
}

/** The current mask of a Linear, or all ones (dense). A copy. */
export function currentMask(l: Pick<Linear, 'mask' | 'weight'>): Uint8Array {
  return l.mask ? l.mask.slice() : new Uint8Array(l.weight.length).fill(1);
}

/** Group mask `[d/4]` -> element mask `[d]`. */
export function expandGroups(groups: Uint8Array, d: number): Uint8Array {
  const out = new Uint8Array(d);
  for (let q = 0; q < groups.length; q++) out.fill(groups[q], 4 * q, 4 * q + 4);
  return out;
}

/** Element mask `[d]` -> group mask `[d/4]` (a group is kept when any of its 4 elements is). */
export function compressGroups(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(mask.length / 4);
  for (let q = 0; q < out.length; q++) out[q] = mask[4 * q] | mask[4 * q + 1] | mask[4 * q + 2] | mask[4 * q + 3];
  return out;
}

/** Pruned fraction of a mask. */
export function maskSparsity(mask: Uint8Array): number {
  let z = 0;
  for (let i = 0; i < mask.length; i++) z += mask[i] ? 0 : 1;
  return mask.length ? z / mask.length : 0;
}

/** Number of pruned entries. */
export function countPruned(mask: Uint8Array): number {
  let z = 0;
  for (let i = 0; i < mask.length; i++) z += mask[i] ? 0 : 1;
  return z;
}

/** The keep masks of a model's Linears that have one, by weight name (`<linear>.weight`): what checkpoints store. */
export function collectMasks(linears: readonly Pick<Linear, 'name' | 'mask'>[]): Map<string, Uint8Array> {
  return new Map(linears.filter((l) => l.mask).map((l) => [`${l.name}.weight`, l.mask!]));
}

/**
 * Puts saved keep masks back on `linears` (by weight name) and zeroes what they prune.
 * @throws Error naming `source` and the weight when no Linear has that name or the sizes differ.
 */
export function restoreMasks(linears: readonly Linear[], masks: Map<string, Uint8Array>, source = 'masks'): void {
  const byName = new Map(linears.map((l) => [`${l.name}.weight`, l]));
  for (const [name, m] of masks) {
    const l = byName.get(name);
    if (!l) throw new Error(`${source}: '${name}' is not a projection of this model`);
    if (m.length !== l.weight.length) throw new Error(`${source}: '${name}' has ${m.length} values, the weight ${l.weight.length}`);
    l.mask = m.slice();
    l.applyMask();
  }
}
