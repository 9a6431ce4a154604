/**
 * Row gather/scatter, axpby and sumSquares: native vs the reference on odd shapes, both kernel paths, 1 vs 2
 * threads, repeated scatter indices, NaN isolation of axpby(b = 0), and argument errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native, nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference/index.js';
import { assertBitEqual, forEachPath, randint, randn, rng, withThreads } from '../helpers.js';

const nat = nativeKernels();
const ref = referenceKernels;

/** A random permutation of [0, m) cut to n entries (distinct indices). */
function distinctIndex(n: number, m: number, r: () => number): Int32Array {
  const p = Int32Array.from({ length: m }, (_, i) => i);
  for (let i = m - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [p[i], p[j]] = [p[j], p[i]]; }
  return p.slice(0, n);
}

const SIZES = [0, 1, 7, 1000];
const COLS = [1, 3, 64, 65, 768];

test('gatherRows / scatterRows / scatterAddRows: native equals the reference exactly (paths, threads)', () => {
  const r = rng(21);
  const cases = SIZES.flatMap((n) => COLS.map((cols) => {
    const m = n + 13;  // rows of the indexed side
    const index = distinctIndex(n, m, r);
    const big = randn(m * cols, r), small = randn(n * cols, r);
    const gathered = new Float32Array(n * cols);
    ref.gatherRows(big, index, n, cols, gathered);
    const scattered = big.slice(); ref.scatterRows(small, index, n, cols, scattered);
    const added = big.slice(); ref.scatterAddRows(small, index, n, cols, added);
    return { n, cols, index, big, small, gathered, scattered, added };
  }));
  forEachPath((path) => {
    for (const threads of [1, 2]) {
      withThreads(threads, () => {
        for (const c of cases) {
          const label = `n=${c.n} cols=${c.cols} ${path} threads=${threads}`;
          // Copies are exact and each scatter-add element is one float32 addition: bit equality everywhere.
          const g = new Float32Array(c.n * c.cols).fill(NaN);
          nat.gatherRows(c.big, c.index, c.n, c.cols, g);
          assertBitEqual(g, c.gathered, `gather ${label}`);
          const s = c.big.slice(); nat.scatterRows(c.small, c.index, c.n, c.cols, s);
          assertBitEqual(s, c.scattered, `scatter ${label}`);
          const a = c.big.slice(); nat.scatterAddRows(c.small, c.index, c.n, c.cols, a);
          assertBitEqual(a, c.added, `scatterAdd ${label}`);
        }
      });
    }
  });
});

test('row kernels work on subarray views and repeated scatter indices keep sequential meaning', () => {
  const r = rng(22);
  const cols = 70, n = 600;  // n * cols >= the parallel threshold
  const index = randint(n, 0, 40, r);  // many repeats
  const src = randn(n * cols + 5, r).subarray(5);
  const base = randn(40 * cols + 3, r);
  forEachPath((path) => {
    withThreads(2, () => {
      const e1 = base.slice().subarray(3), a1 = base.slice().subarray(3);
      ref.scatterRows(src, index, n, cols, e1); nat.scatterRows(src, index, n, cols, a1);
      assertBitEqual(a1, e1, `scatter repeated (last wins) ${path}`);
      const e2 = base.slice().subarray(3), a2 = base.slice().subarray(3);
      ref.scatterAddRows(src, index, n, cols, e2); nat.scatterAddRows(src, index, n, cols, a2);
      assertBitEqual(a2, e2, `scatterAdd repeated (in order) ${path}`);
      const g1 = new Float32Array(n * cols), g2 = new Float32Array(n * cols);
      ref.gatherRows(base.subarray(3), index, n, cols, g1); nat.gatherRows(base.subarray(3), index, n, cols, g2);
      assertBitEqual(g2, g1, `gather repeated ${path}`);
    });
  });
});

test('axpby: native equals the reference; b = 0 does not read y (NaN stays out)', () => {
  const r = rng(23);
  const ns = [0, 1, 7, 1000, 100_003];
  const coefs: Array<[number, number]> = [[1, 1], [0.5, -2], [1 / 3, 0.1], [-1.5, 0], [0, 0.7]];
  forEachPath((path) => {
    for (const threads of [1, 2]) {
      withThreads(threads, () => {
        for (const n of ns) {
          for (const [a, b] of coefs) {
            const x = randn(n, r), y0 = randn(n, r);
            const e = y0.slice(), y = y0.slice();
            ref.axpby(n, a, x, b, e); nat.axpby(n, a, x, b, y);
            // Both compute a*x + b*y with float64 IEEE multiplies and add (same operations in the same order) and
            // round once to float32: bit equality.
            assertBitEqual(y, e, `axpby n=${n} a=${a} b=${b} ${path} threads=${threads}`);
          }
          const x = randn(n, r), y = new Float32Array(n).fill(NaN);
          nat.axpby(n, 2, x, 0, y);
          for (let i = 0; i < n; i++) assert.equal(y[i], Math.fround(2 * x[i]), `b = 0 reads y at ${i}`);
        }
      });
    }
  });
});

test('sumSquares: float64, matches the reference, independent of the thread count', () => {
  const r = rng(24);
  for (const n of [0, 1, 7, 1000, 8192, 8193, 300_001]) {
    const x = randn(n + 2, r).subarray(1, n + 1);
    const expected = ref.sumSquares(x, n);
    forEachPath((path) => {
      const one = withThreads(1, () => nat.sumSquares(x, n));
      const two = withThreads(2, () => nat.sumSquares(x, n));
      // Fixed chunks of 8192 with per-chunk float64 sums added in chunk order: the thread count cannot matter.
      assert.equal(two, one, `n=${n} ${path}: 1 vs 2 threads`);
      // Products of float32 values are exact in float64; only the additions round, each by <= 2^-53 of a partial
      // sum of non-negative terms, so any order is within n * 2^-53 (< 3.4e-11 here) relative of the exact sum.
      assert.ok(Math.abs(one - expected) <= 1e-10 * expected, `n=${n} ${path}: ${one} vs ${expected}`);
    });
  }
  assert.equal(nat.sumSquares(new Float32Array([3, 4, 100]), 2), 25);
  assert.equal(nat.sumSquares(new Float32Array([2 ** 64, 2 ** 64]), 2), 2 ** 129);  // float64: no float32 overflow
});

test('row kernels reject bad indices and short buffers with RangeErrors naming them', () => {
  const src = new Float32Array(12), dst = new Float32Array(12);
  for (const k of [nat, ref]) {
    assert.throws(() => k.gatherRows(src, new Int32Array([0, 4]), 2, 3, dst),
      (e: Error) => e instanceof RangeError && /index\[1\] = 4/.test(e.message), k.name);
    assert.throws(() => k.scatterRows(src, new Int32Array([-1]), 1, 3, dst),
      (e: Error) => e instanceof RangeError && /index\[0\] = -1/.test(e.message), k.name);
    assert.throws(() => k.scatterAddRows(src, new Int32Array([0, 1]), 2, 3, dst.subarray(0, 5)),
      (e: Error) => e instanceof RangeError && /index\[1\] = 1/.test(e.message), k.name);
    assert.throws(() => k.gatherRows(src, new Int32Array([0, 1]), 2, 3, dst.subarray(0, 5)),
      (e: Error) => e instanceof RangeError && /'dst'/.test(e.message), k.name);
    assert.throws(() => k.scatterRows(src.subarray(7), new Int32Array([0, 1]), 2, 3, dst),
      (e: Error) => e instanceof RangeError && /'src'/.test(e.message), k.name);
    assert.throws(() => k.gatherRows(src, new Int32Array(1), 2, 3, dst),
      (e: Error) => e instanceof RangeError && /'index'/.test(e.message), k.name);
    assert.throws(() => k.axpby(5, 1, src.subarray(8), 1, dst),
      (e: Error) => e instanceof RangeError && /'x'/.test(e.message), k.name);
    assert.throws(() => k.sumSquares(src, 13), (e: Error) => e instanceof RangeError && /'x'/.test(e.message), k.name);
  }
});
