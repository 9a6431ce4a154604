/**
 * The pruning threshold over all scores: global (one threshold over the concatenated scores of every pruned
 * matrix, the recipes' `global_sparsity: True`) or per layer. The count is exact: k = round(s·N) units are pruned
 * (N = weights, or 1x4 groups for block4), ties broken by index (lower first; the global index runs through the
 * targets in model order), by selection (`PruningKernels.selectSmallest`, nth_element), never a full sort. Masks
 * only shrink: when k is below the units already pruned, k is raised to that count (they score -Infinity).
 */
import type { PruningKernels } from './kernels.js';

/** Units to prune for a target sparsity s over n units: round(s·n), at least `alreadyPruned`. */
export function pruneCount(s: number, n: number, alreadyPruned: number): number {
  if (!(s >= 0 && s <= 1)) throw new Error(`sparsity must be in [0, 1], got ${s}`);
  return Math.max(alreadyPruned, Math.min(n, Math.round(s * n)));
}

/**
 * New keep masks (per unit) from per-target scores.
 * @param scores one Float32Array per target (units); -Infinity marks units already pruned.
 * @returns one keep mask per target (1 keep, 0 pruned), same lengths as the scores.
 */
export function selectKeep(k: PruningKernels, scores: Float32Array[], sparsity: number, global: boolean): Uint8Array[] {
  const pruned = (s: Float32Array) => { let c = 0; for (let i = 0; i < s.length; i++) c += s[i] === -Infinity ? 1 : 0; return c; };
  if (!global) {
    return scores.map((s) => {
      const keep = new Uint8Array(s.length);
      k.selectSmallest(s, s.length, pruneCount(sparsity, s.length, pruned(s)), keep);
      return keep;
    });
  }
  const n = scores.reduce((a, s) => a + s.length, 0);
  const all = new Float32Array(n);
  let off = 0, already = 0;
  for (const s of scores) { all.set(s, off); off += s.length; already += pruned(s); }
  const keep = new Uint8Array(n);
  k.selectSmallest(all, n, pruneCount(sparsity, n, already), keep);
  off = 0;
  return scores.map((s) => { const m = keep.slice(off, off + s.length); off += s.length; return m; });
}
