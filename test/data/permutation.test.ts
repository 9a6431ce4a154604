import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededPermutation } from '../../src/data/permutation.js';

test('SeededPermutation is a bijection of [0, n) for awkward sizes', () => {
  for (const n of [1, 2, 3, 5, 16, 17, 1000, 4097]) {
    const p = new SeededPermutation(n, 17, 0);
    const seen = new Uint8Array(n);
    for (let i = 0; i < n; i++) seen[p.at(i)]++;
    assert.ok(seen.every((c) => c === 1), `n=${n}`);
  }
});

test('different per seed and epoch, identical when repeated, and looks shuffled', () => {
  const n = 1000;
  const order = (seed: number, epoch: number) => Array.from({ length: n }, (_, i) => new SeededPermutation(n, seed, epoch).at(i));
  const a = order(17, 0);
  assert.deepEqual(order(17, 0), a);
  assert.notDeepEqual(order(17, 1), a);
  assert.notDeepEqual(order(18, 0), a);
  assert.equal(a.filter((v, i) => v === i).length < 10, true, 'few fixed points (about 1 expected)');
  // Position and value are nearly uncorrelated.
  const mean = (n - 1) / 2;
  let cov = 0, v = 0;
  a.forEach((x, i) => { cov += (x - mean) * (i - mean); v += (i - mean) ** 2; });
  assert.ok(Math.abs(cov / v) < 0.1, `correlation ${cov / v}`);
  // Each value lands in each tenth of positions about equally often over many epochs.
  const hits = new Array(10).fill(0);
  for (let e = 0; e < 400; e++) {
    const p = new SeededPermutation(n, 3, e);
    for (let i = 0; i < n; i++) if (p.at(i) === 0) hits[Math.floor(i / 100)]++;
  }
  assert.ok(hits.every((h) => h > 15 && h < 70), `first element's positions by tenth: ${hits}`);
});
