/**
 * Philox4x32-10 (Salmon et al., SC'11) in TypeScript, bit-identical to native/common/philox.h: the oracle's source
 * of dropout masks. Random number `index` of stream `stream` under `seed` is word `index & 3` of the block at
 * counter `(index >> 2, stream)` with key `seed`. Seeds, streams and indices are integers below 2^53.
 */

function mulhilo(a: number, b: number): [number, number] {
  // 32x32 -> 64-bit product as (hi, lo), exact, via 16-bit halves.
  const aH = a >>> 16, aL = a & 0xffff, bH = b >>> 16, bL = b & 0xffff;
  const ll = aL * bL, lh = aL * bH, hl = aH * bL, hh = aH * bH;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  const lo = ((mid & 0xffff) << 16 | (ll & 0xffff)) >>> 0;
  const hi = (hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
  return [hi, lo];
}

/** One Philox4x32-10 block: counter (c0..c3), key (k0, k1); returns four uint32 words. */
export function philox4x32_10(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): number[] {
  for (let r = 0; r < 10; r++) {
    if (r) { k0 = (k0 + 0x9e3779b9) >>> 0; k1 = (k1 + 0xbb67ae85) >>> 0; }
    const [hi0, lo0] = mulhilo(0xd2511f53, c0);
    const [hi1, lo1] = mulhilo(0xcd9e8d57, c2);
    const n0 = (hi1 ^ c1 ^ k0) >>> 0, n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
  }
  return [c0, c1, c2, c3];
}

const TWO32 = 4294967296;
const lo32 = (x: number) => (x % TWO32) >>> 0;
const hi32 = (x: number) => Math.floor(x / TWO32) >>> 0;

/** The uint32 word number `index` of stream `stream` under `seed`. */
export function philoxWord(seed: number, stream: number, index: number): number {
  const blk = Math.floor(index / 4);
  return philox4x32_10(lo32(blk), hi32(blk), lo32(stream), hi32(stream), lo32(seed), hi32(seed))[index % 4];
}

/** Uniform in [0, 1) with 24 random bits (exactly representable in float32). */
export function philoxUniform(seed: number, stream: number, index: number): number {
  return (philoxWord(seed, stream, index) >>> 8) / 16777216;
}

/** Dropout decision: kept iff uniform >= p. */
export function dropoutKeep(seed: number, stream: number, index: number, p: number): boolean {
  return philoxUniform(seed, stream, index) >= Math.fround(p);
}
