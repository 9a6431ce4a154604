/**
 * Saliency scores, smaller = pruned first. Magnitude (GMP, Zhu & Gupta 2017): `w^2` per weight (the same order as
 * |w|), `sum w^2` per 1x4 group; this is the OBS score with an isotropic Hessian (`lambda I`, the large-damping
 * limit) up to the factor lambda/2. The OBS scores come from the Fisher inverse (`PruningKernels.obsScores`).
 * Already-pruned units (mask 0) score -Infinity so that they are counted first and stay pruned.
 */
import type { MaskType } from './masks.js';

/**
 * @param w `[d]` weights; @param mask `[d]` current mask or null; @param out `[d]` (unstructured) or `[d/4]`
 *   (block4).
 */
export function magnitudeScores(w: Float32Array, mask: Uint8Array | null, maskType: MaskType, out: Float32Array): void {
  if (maskType === 'unstructured') {
    for (let j = 0; j < w.length; j++) out[j] = mask && !mask[j] ? -Infinity : w[j] * w[j];
    return;
  }
  for (let q = 0, j = 0; j < w.length; q++, j += 4) {
    out[q] = mask && !mask[j] ? -Infinity : w[j] * w[j] + w[j + 1] * w[j + 1] + w[j + 2] * w[j + 2] + w[j + 3] * w[j + 3];
  }
}
