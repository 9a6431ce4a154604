/**
 * Mulberry32: a small, fast, seeded 32-bit generator for synthetic data (benchmarks, tests). Not for anything whose
 * stream must match the reference: masking, splits and shuffles use Philox4x32-10 (`philox-block.ts`).
 */

/** @returns a function giving uniform floats in [0, 1), the sequence fixed by `seed` (its low 32 bits). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
