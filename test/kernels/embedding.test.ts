/**
 * Embedding kernels (the reference's `BertEmbeddings`): native vs the float64 reference on odd shapes, both kernel paths,
 * 1 vs 2 threads, the padding_idx rule, repeated ids, finite differences, and argument errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native, nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference/index.js';
import { assertBitEqual, dot64, finiteDiff, forEachPath, randint, randn, rng, withThreads } from '../helpers.js';

const nat = nativeKernels();
const ref = referenceKernels;

const SHAPES: Array<[number, number, number]> = [  // [n, hidden, vocab]
  [0, 64, 10], [1, 1, 5], [7, 3, 5], [7, 65, 30528], [1000, 64, 50], [1000, 65, 50], [1000, 768, 300], [500, 130, 40], [3, 768, 2000],
];

test('embeddingForward: native equals the reference bit for bit (both paths, 1 and 2 threads)', () => {
  const r = rng(1);
  const cases = SHAPES.map(([n, hidden, vocab]) => {
    const ids = randint(n, 0, vocab, r), typeIds = randint(n, 0, 2, r);
    const word = randn(vocab * hidden, r, 0.02), type = randn(2 * hidden, r, 0.02);
    const expected = new Float32Array(n * hidden);
    ref.embeddingForward(ids, typeIds, n, hidden, word, vocab, type, 2, expected);
    return { n, hidden, vocab, ids, typeIds, word, type, expected };
  });
  forEachPath((path) => {
    for (const threads of [1, 2]) {
      withThreads(threads, () => {
        for (const { n, hidden, vocab, ids, typeIds, word, type, expected } of cases) {
          const out = new Float32Array(n * hidden).fill(NaN);
          nat.embeddingForward(ids, typeIds, n, hidden, word, vocab, type, 2, out);
          // One float32 add of two float32 values: correctly rounded on every path, so exact equality.
          assertBitEqual(out, expected, `forward n=${n} hidden=${hidden} ${path} threads=${threads}`);
        }
      });
    }
  });
});

/**
 * Checks a float32 scatter-add result against the float64 reference with the recursive-summation bound: a table
 * element that received k additions differs from the exactly rounded sum by at most k * 2^-24 * (|init| +
 * sum |dOut|) (each float32 addition rounds by at most half an ulp of a partial sum, itself <= that total).
 */
function assertScatterClose(actual: Float32Array, expected: Float32Array, init: Float32Array, ids: Int32Array,
  n: number, hidden: number, pad: number, dOut: Float32Array, label: string): void {
  const count = new Map<number, number>();
  const absSum = new Float64Array(actual.length);
  for (let i = 0; i < init.length; i++) absSum[i] = Math.abs(init[i]);
  for (let r = 0; r < n; r++) {
    if (ids[r] === pad) continue;
    count.set(ids[r], (count.get(ids[r]) ?? 0) + 1);
    for (let c = 0; c < hidden; c++) absSum[ids[r] * hidden + c] += Math.abs(dOut[r * hidden + c]);
  }
  for (let i = 0; i < actual.length; i++) {
    const k = count.get(Math.floor(i / hidden)) ?? 0;
    const tol = (k + 1) * 2 ** -24 * absSum[i];
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      assert.fail(`${label}: element ${i}: got ${actual[i]}, expected ${expected[i]} (tol ${tol}, ${k} additions)`);
    }
  }
}

test('embeddingBackward: native vs reference, deterministic across paths and thread counts', () => {
  const r = rng(2);
  const cases = SHAPES.flatMap(([n, hidden, vocab]) => [-1, 0].map((pad) => {
    const ids = randint(n, 0, vocab, r);
    if (n > 2) { ids[1] = 0; ids[2] = ids[0]; }  // a padding id and a repeated id
    const dOut = randn(n * hidden, r);
    const init = randn(vocab * hidden, r, 0.1);  // gradients accumulate: start from non-zero
    const expected = init.slice();
    ref.embeddingBackward(ids, n, hidden, dOut, expected, vocab, pad);
    return { n, hidden, vocab, pad, ids, dOut, init, expected, first: null as Float32Array | null };
  }));
  forEachPath((path) => {
    for (const threads of [1, 2]) {
      withThreads(threads, () => {
        for (const c of cases) {
          const { n, hidden, vocab, pad, ids, dOut, init, expected } = c;
          const dTable = init.slice();
          nat.embeddingBackward(ids, n, hidden, dOut, dTable, vocab, pad);
          const label = `backward n=${n} hidden=${hidden} pad=${pad} ${path} threads=${threads}`;
          assertScatterClose(dTable, expected, init, ids, n, hidden, pad, dOut, label);
          // Every element gets its float32 additions in increasing r on every path and thread count.
          if (c.first) assertBitEqual(dTable, c.first, label + ' (vs the first run)'); else c.first = dTable;
        }
      });
    }
  });
});

test('embeddingBackward: padding row gets no gradient, repeated ids accumulate in order', () => {
  const hidden = 3, vocab = 4;
  const ids = new Int32Array([0, 2, 2, 0, 3, 2]);
  const dOut = new Float32Array([1, 1, 1, 1, 2, 3, 10, 20, 30, 5, 5, 5, 0.5, 0.25, 0.125, 100, 200, 300]);
  for (const k of [nat, ref]) {
    forEachPath(() => {
      const dTable = new Float32Array(vocab * hidden).fill(1);
      k.embeddingBackward(ids, ids.length, hidden, dOut, dTable, vocab, 0);
      assert.deepEqual(Array.from(dTable), [1, 1, 1, /* pad row untouched */ 1, 1, 1,
        1 + 1 + 10 + 100, 1 + 2 + 20 + 200, 1 + 3 + 30 + 300, 1.5, 1.25, 1.125], k.name);
      const noPad = new Float32Array(vocab * hidden);
      k.embeddingBackward(ids, ids.length, hidden, dOut, noPad, vocab, -1);
      assert.deepEqual(Array.from(noPad.subarray(0, 3)), [6, 6, 6], `${k.name}: paddingIdx -1 -> row 0 gets grads`);
    });
  }
});

test('embeddingBackward matches central differences of embeddingForward (float64 probe)', () => {
  const r = rng(3);
  const n = 9, hidden = 65, vocab = 6;
  const ids = randint(n, 0, vocab, r); ids[3] = ids[4];
  const typeIds = randint(n, 0, 2, r);
  const word = randn(vocab * hidden, r), type = randn(2 * hidden, r);
  const w = randn(n * hidden, r);  // probe weights: f = sum w * out
  const out = new Float32Array(n * hidden);
  const f = () => { nat.embeddingForward(ids, typeIds, n, hidden, word, vocab, type, 2, out); return dot64(w, out); };
  forEachPath((path) => {
    const dWord = new Float32Array(vocab * hidden), dType = new Float32Array(2 * hidden);
    nat.embeddingBackward(ids, n, hidden, w, dWord, vocab, -1);
    nat.embeddingBackward(typeIds, n, hidden, w, dType, 2, -1);
    // f is linear, so central differences have no truncation error; the float32 rounding of each out element
    // (<= 2^-24 * |out| ~ 2e-7) divided by the step 2h = 0.0625 and summed over <= n rows gives < 1e-4.
    for (const [x, g] of [[word, dWord], [type, dType]] as const) {
      for (const [i, num] of finiteDiff(x, f, 25, 2 ** -5, r)) {
        assert.ok(Math.abs(num - g[i]) <= 1e-4 + 1e-5 * Math.abs(g[i]), `${path}: coord ${i}: fd ${num} vs ${g[i]}`);
      }
    }
  });
});

test('embedding kernels reject bad ids and short buffers with RangeErrors naming them', () => {
  const hidden = 4, vocab = 5;
  const word = new Float32Array(vocab * hidden), type = new Float32Array(2 * hidden);
  const ids = new Int32Array([1, 2, 3, 7]), typeIds = new Int32Array(4);
  for (const k of [nat, ref]) {
    assert.throws(() => k.embeddingForward(ids, typeIds, 4, hidden, word, vocab, type, 2, new Float32Array(16)),
      (e: Error) => e instanceof RangeError && /ids\[3\] = 7/.test(e.message) && /row 3/.test(e.message), k.name);
    assert.throws(() => k.embeddingForward(new Int32Array([1, -1]), typeIds, 2, hidden, word, vocab, type, 2,
      new Float32Array(8)), (e: Error) => e instanceof RangeError && /ids\[1\] = -1/.test(e.message), k.name);
    assert.throws(() => k.embeddingForward(new Int32Array(2), new Int32Array([0, 2]), 2, hidden, word, vocab, type, 2,
      new Float32Array(8)), (e: Error) => e instanceof RangeError && /typeIds\[1\] = 2/.test(e.message), k.name);
    assert.throws(() => k.embeddingForward(new Int32Array(2), new Int32Array(2), 2, hidden, word, vocab, type, 2,
      new Float32Array(7)), (e: Error) => e instanceof RangeError && /'out'/.test(e.message), k.name);
    assert.throws(() => k.embeddingForward(new Int32Array(2), new Int32Array(2), 2, hidden, word.subarray(1), vocab,
      type, 2, new Float32Array(8)), (e: Error) => e instanceof RangeError && /'wordEmb'/.test(e.message), k.name);
    assert.throws(() => k.embeddingBackward(ids, 4, hidden, new Float32Array(16), new Float32Array(20), vocab, 0),
      (e: Error) => e instanceof RangeError && /ids\[3\] = 7/.test(e.message), k.name);
    assert.throws(() => k.embeddingBackward(new Int32Array(4), 4, hidden, new Float32Array(15), new Float32Array(20),
      vocab, 0), (e: Error) => e instanceof RangeError && /'dOut'/.test(e.message), k.name);
    assert.throws(() => k.embeddingBackward(new Int32Array(4), 4, hidden, new Float32Array(16), new Float32Array(20),
      vocab, 5), (e: Error) => e instanceof RangeError && /paddingIdx/.test(e.message), k.name);
  }
});
