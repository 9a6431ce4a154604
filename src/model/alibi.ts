/**
 * ALiBi slopes (Press et al. 2022) exactly as the reference `_get_alibi_head_slopes` computes them
 * (Press et al. 2022; the reference's `bert_layers.py`): for a power of two n, `r = 2^(-8/n)` and slope_i = r * r^i (in double); otherwise the
 * slopes of the largest power of two c < n followed by every other slope of 2c, recursively. Rounded to float32 as
 * the reference's `torch.tensor(slopes, dtype=float32)`. Head order matters: 12 heads give
 * [2^-1 ... 2^-8, 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5].
 */
function slopesF64(n: number): number[] {
  const powerOfTwo = (m: number): number[] => {
    const r = 2 ** -(2 ** -(Math.log2(m) - 3));
    return Array.from({ length: m }, (_, i) => r * r ** i);
  };
  if (Number.isInteger(Math.log2(n))) return powerOfTwo(n);
  const c = 2 ** Math.floor(Math.log2(n));
  return [...powerOfTwo(c), ...slopesF64(2 * c).filter((_, i) => i % 2 === 0).slice(0, n - c)];
}

/** `[numHeads]` float32 ALiBi slopes; the attention bias of head h is `-slopes[h] * |i - j|`. */
export function alibiSlopes(numHeads: number): Float32Array {
  if (!Number.isInteger(numHeads) || numHeads < 1) throw new RangeError(`alibiSlopes: numHeads must be >= 1, got ${numHeads}`);
  return Float32Array.from(slopesF64(numHeads));
}
