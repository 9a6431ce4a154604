/**
 * Symmetric per-row int8 quantization of a Linear weight W [out, in] (per output channel), done once when a model
 * is prepared for INT8 inference. The formula is the kernels' per-token activation formula
 * (native/kernels/sparse/sparse_linear.h), in float32: scale = max|w| / 127, q = round_half_even(w * (127 / max|w|))
 * clamped to [-127, 127]; an all-zero row gets scale 0. W[o, k] ~= scale[o] * q[o, k], |error| <= scale[o] / 2.
 * -128 is never produced (the AVX2 kernel's no-saturation argument needs |q| <= 127).
 */

/** Int8 weights [out, in] and their float32 per-row scales [out]. */
export interface Int8Weights { q: Int8Array; scale: Float32Array; }

export function quantizeRowsInt8(W: Float32Array, out: number, inFeatures: number): Int8Weights {
  if (W.length !== out * inFeatures) {
    throw new RangeError(`quantizeInt8: W has ${W.length} elements, expected out * in = ${out} * ${inFeatures}`);
  }
  const f = Math.fround;
  const q = new Int8Array(out * inFeatures), scale = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    const base = o * inFeatures;
    let m = 0;
    for (let k = 0; k < inFeatures; k++) { const a = Math.abs(W[base + k]); if (a > m) m = a; }
    if (!Number.isFinite(m)) throw new RangeError(`quantizeInt8: row ${o} of W has a non-finite value`);
    scale[o] = f(m / 127);
    const inv = m > 0 ? f(127 / m) : 0;
    for (let k = 0; k < inFeatures; k++) {
      const x = f(W[base + k] * inv);
      let r = Math.round(x);
      if (r - x === 0.5 && (r & 1) !== 0) r -= 1;  // Math.round rounds halves up: make it half-to-even
      q[base + k] = r > 127 ? 127 : r < -127 ? -127 : r;
    }
  }
  return { q, scale };
}
