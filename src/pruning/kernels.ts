/**
 * The pruning kernels' contract (native/kernels/pruning/, oracle in src/kernels/reference/pruning.ts): the
 * Woodbury update of the block Fisher inverse, the OBS saliencies and weight update, and the selection of the k
 * smallest scores. Separate from the model's `Kernels` because no layer calls them; `pruningKernels()` returns
 * the native ones, `referencePruningKernels` the float64 oracle (same signatures).
 *
 * Layout everywhere: a weight `[out, in]` flattened row-major into d elements, cut into `ceil(d/B)` blocks of B;
 * `finv` is float32 `[ceil(d/B), B, B]`, every block initialised to `(1/lambda) I` by the caller. In `block4` mode a
 * group is 4 consecutive elements starting at a multiple of 4 (1x4 along the input dimension), which needs B and d
 * divisible by 4 (a RangeError otherwise).
 */
import { native } from '../kernels/native.js';
import { referencePruningKernels } from '../kernels/reference/pruning.js';

export { referencePruningKernels };

export interface PruningKernels {
  readonly name: string;
  /**
   * For each gradient `g = grads[i, :]` in order and each block b: `u = Finv_b g_b`, `alpha = m + g_b.u`,
   * `Finv_b -= u u^T / alpha` (float64 inside, float32 storage). After m gradients from `(1/lambda) I`:
   * `Finv_b = (lambda I + (1/m) sum g_b g_b^T)^-1`.
   * @param grads `[nGrads, d]` float32; @param m the Fisher's normaliser (the total number of gradients, > 0).
   */
  fisherInverseUpdate(finv: Float32Array, grads: Float32Array, nGrads: number, d: number, blockSize: number, m: number): void;
  /**
   * OBS saliencies: unstructured `out[j] = w_j^2 / (2 Finv_jj + eps)` (eps = 2^-23), `out [d]`; block4
   * `out[q] = 0.5 w_Q^T (Finv_QQ)^-1 w_Q`, `out [d/4]`. Entries with `mask[j] = 0` (the group's first element in
   * block4) score -Infinity. Float64 inside.
   */
  obsScores(finv: Float32Array, weight: Float32Array, mask: Uint8Array | null, d: number, blockSize: number,
    block4: boolean, out: Float32Array): void;
  /**
   * The OBS update of all newly pruned weights at once, `w_b -= Finv_b z_b` with `z_j = w_j / Finv_jj`
   * (unstructured) or `z_Q = (Finv_QQ)^-1 w_Q` (block4) on `pruned[j] = 1`, 0 elsewhere; then `w[pruned] = 0`.
   */
  obsUpdate(finv: Float32Array, weight: Float32Array, pruned: Uint8Array, d: number, blockSize: number, block4: boolean): void;
  /**
   * `keep[i] = 0` for exactly k of the n scores: every score below the k-th smallest value t, then those equal to t
   * by increasing index; `keep[i] = 1` for the rest. Returns t (-Infinity when k = 0).
   * @throws RangeError when a score is NaN or k is outside [0, n].
   */
  selectSmallest(scores: Float32Array, n: number, k: number, keep: Uint8Array): number;
}

let cached: PruningKernels | null = null;

/** The native pruning kernels (selection by `std::nth_element`; AVX2 Woodbury update when the CPU has it). */
export function pruningKernels(): PruningKernels {
  if (cached) return cached;
  const a = native();
  for (const m of ['fisherInverseUpdate', 'obsScores', 'obsUpdate', 'selectSmallest'] as const) {
    if (typeof a[m] !== 'function') throw new Error(`mosaicbert: native pruning kernel '${m}' is not in this build (npm run build:native)`);
  }
  cached = {
    name: 'native',
    fisherInverseUpdate: a.fisherInverseUpdate, obsScores: a.obsScores, obsUpdate: a.obsUpdate,
    selectSmallest: a.selectSmallest,
  };
  return cached;
}
