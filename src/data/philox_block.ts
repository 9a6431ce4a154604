/**
 * Philox4x32-10 without allocation, for the per-token and per-sample draws of the data pipeline (masking, shuffles);
 * bit-identical to the oracle src/kernels/reference/philox.ts `philox4x32_10`.
 */

/** High 32 bits of a * b for uint32 a, b (exact). */
function mulhi(a: number, b: number): number {
  const aH = a >>> 16, aL = a & 0xffff, bH = b >>> 16, bL = b & 0xffff;
  const ll = aL * bL, lh = aL * bH, hl = aH * bL;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aH * bH + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

/**
 * One Philox4x32-10 block: counter (c0..c3), key (k0, k1), all uint32; the four output words go to `out`.
 */
export function philoxBlock(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number,
  out: Uint32Array): void {
  for (let r = 0; r < 10; r++) {
    if (r) { k0 = (k0 + 0x9e3779b9) >>> 0; k1 = (k1 + 0xbb67ae85) >>> 0; }
    const hi0 = mulhi(0xd2511f53, c0), lo0 = Math.imul(0xd2511f53, c0) >>> 0;
    const hi1 = mulhi(0xcd9e8d57, c2), lo1 = Math.imul(0xcd9e8d57, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0, n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

