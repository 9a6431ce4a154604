/**
 * Tests of inverted dropout (forward and backward): native masks equal to the oracle's (Philox by element index),
 * both paths and 1/2 threads bit-identical, keep rate ~ 1 - p, p = 0 identity, the backward applies the given mask,
 * argument errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeKernels } from '../../src/kernels/native.js';
import { dropoutReference as R } from '../../src/kernels/reference/dropout.js';
import { assertClose, forEachPath, randn, rng, withThreads } from '../helpers.js';

const N = nativeKernels();

// out = x * float32(1/(1-p)) natively, fround(x / (1-p)) in the oracle: two roundings vs one, at most 1 ulp apart
// (rtol 2^-23 = 1.2e-7); dropped elements are exactly 0 on both sides.
const RTOL = 1.2e-7;

test('native dropout matches the oracle: same mask, same scaled values (both paths, odd sizes, big keys)', () => {
  forEachPath((path) => {
    for (const n of [1, 3, 4, 5, 31, 32, 33, 63, 1000, 100_003]) {
      for (const [p, seed, stream] of [[0.1, 1, 0], [0.5, 12345, 7], [0.9, 2 ** 40 + 5, 2 ** 33 + 1], [1e-6, 3, 3]]) {
        const x = randn(n, rng(n + seed)), out = new Float32Array(n), mask = new Uint8Array(n);
        const outR = new Float32Array(n), maskR = new Uint8Array(n);
        N.dropoutForward(x, n, p, seed, stream, out, mask);
        R.dropoutForward(x, n, p, seed, stream, outR, maskR);
        const label = `${path} n=${n} p=${p} seed=${seed} stream=${stream}`;
        assert.deepEqual(mask, maskR, `${label} mask`);
        assertClose(out, outR, 0, RTOL, `${label} out`);
        const dy = randn(n, rng(n + 1)), dX = new Float32Array(n), dXR = new Float32Array(n);
        N.dropoutBackward(dy, mask, n, p, dX);
        R.dropoutBackward(dy, maskR, n, p, dXR);
        assertClose(dX, dXR, 0, RTOL, `${label} dX`);
      }
    }
  });
});

test('AVX2 and portable paths, and 1 and 2 threads, give bit-identical outputs and masks', () => {
  const n = 200_001, x = randn(n, rng(4));
  const run = () => {
    const r: Array<Float32Array | Uint8Array> = [];
    forEachPath(() => {
      const out = new Float32Array(n), mask = new Uint8Array(n), dX = new Float32Array(n);
      N.dropoutForward(x, n, 0.1, 77, 5, out, mask);
      N.dropoutBackward(x, mask, n, 0.1, dX);
      r.push(out, mask, dX);
    });
    return r;
  };
  const one = withThreads(1, run), two = withThreads(2, run);
  for (let k = 0; k < one.length; k++) assert.deepEqual(one[k], two[k], `thread output ${k}`);
  for (let k = 3; k < one.length; k++) assert.deepEqual(one[k], one[k - 3], `path output ${k % 3}`);
});

test('keep rate is 1 - p within 6 standard deviations; streams and seeds give different masks', () => {
  forEachPath((path) => {
    const n = 1_000_000, x = new Float32Array(n).fill(1), out = new Float32Array(n), mask = new Uint8Array(n);
    for (const p of [0.1, 0.5, 0.9]) {
      N.dropoutForward(x, n, p, 2024, 1, out, mask);
      let kept = 0;
      for (let i = 0; i < n; i++) kept += mask[i];
      const sd = Math.sqrt(n * p * (1 - p));
      assert.ok(Math.abs(kept - n * (1 - p)) <= 6 * sd, `${path} p=${p}: kept ${kept} of ${n}`);
      // E[out] = 1 (inverted dropout): mean(out) within 6 sd of the mean, sd = sqrt(p/(1-p)/n).
      let s = 0;
      for (let i = 0; i < n; i++) s += out[i];
      assert.ok(Math.abs(s / n - 1) <= 6 * Math.sqrt(p / (1 - p) / n), `${path} p=${p}: mean(out) ${s / n}`);
    }
    const m1 = new Uint8Array(1000), m2 = new Uint8Array(1000), o = new Float32Array(1000);
    N.dropoutForward(x, 1000, 0.5, 1, 0, o, m1);
    N.dropoutForward(x, 1000, 0.5, 1, 1, o, m2);
    assert.notDeepEqual(m1, m2, 'streams differ');
    N.dropoutForward(x, 1000, 0.5, 2, 0, o, m2);
    assert.notDeepEqual(m1, m2, 'seeds differ');
  });
});

test('p = 0 copies x (mask all ones), in place too; p rounding to 1 in float32 drops everything', () => {
  forEachPath((path) => {
    const n = 1003, x = randn(n, rng(8)), out = new Float32Array(n), mask = new Uint8Array(n);
    x[5] = NaN; x[6] = -0;
    N.dropoutForward(x, n, 0, 1, 2, out, mask);
    assert.deepEqual(out, x, `${path} p=0 copy`);
    assert.ok(mask.every((m) => m === 1));
    const y = x.slice();
    N.dropoutForward(y, n, 0, 1, 2, y, mask);
    assert.deepEqual(y, x, `${path} p=0 in place`);
    const dX = new Float32Array(n);
    N.dropoutBackward(x, mask, n, 0, dX);
    assert.deepEqual(dX, x, `${path} p=0 backward`);
    // out aliasing x with p > 0 equals the out-of-place result
    const z = x.slice(), ref = new Float32Array(n);
    N.dropoutForward(x, n, 0.3, 9, 9, ref, mask);
    N.dropoutForward(z, n, 0.3, 9, 9, z, mask);
    assert.deepEqual(z, ref, `${path} in place`);
    // 1 - 1e-9 < 1 but rounds to 1 in float32: uniform < 1 is never >= 1, so nothing is kept (as in the oracle)
    N.dropoutForward(x, n, 1 - 1e-9, 1, 2, out, mask);
    assert.ok(mask.every((m) => m === 0) && out.every((v) => v === 0), `${path} p -> 1`);
  });
});

test('dropoutBackward applies the given mask (not a regenerated one), in place too', () => {
  forEachPath((path) => {
    const n = 77, dy = randn(n, rng(3)), mask = new Uint8Array(n), dX = new Float32Array(n);
    for (let i = 0; i < n; i++) mask[i] = (i * 7) % 3 === 0 ? 1 : 0;
    N.dropoutBackward(dy, mask, n, 0.25, dX);
    for (let i = 0; i < n; i++) {
      const want = mask[i] ? Math.fround(dy[i] * Math.fround(1 / 0.75)) : 0;
      assert.equal(dX[i], want, `${path} element ${i}`);
    }
    const d = dy.slice();
    N.dropoutBackward(d, mask, n, 0.25, d);
    assert.deepEqual(d, dX, `${path} in place`);
  });
});

test('argument errors: p outside [0, 1) and short buffers throw RangeError', () => {
  const x = new Float32Array(8), out = new Float32Array(8), mask = new Uint8Array(8);
  for (const p of [1, -0.1, NaN, 2]) {
    assert.throws(() => N.dropoutForward(x, 8, p, 1, 1, out, mask), RangeError, `p=${p}`);
    assert.throws(() => N.dropoutBackward(x, mask, 8, p, out), RangeError, `backward p=${p}`);
    assert.throws(() => R.dropoutForward(x, 8, p, 1, 1, out, mask), RangeError, `oracle p=${p}`);
  }
  const isRange = (name: string) => (e: unknown) => e instanceof RangeError && String(e).includes(`'${name}'`);
  assert.throws(() => N.dropoutForward(x, 8, 0.1, 1, 1, out, mask.subarray(1)), isRange('mask'));
  assert.throws(() => N.dropoutForward(x.subarray(2), 8, 0.1, 1, 1, out, mask), isRange('x'));
  assert.throws(() => N.dropoutForward(x, 8, 0.1, -1, 1, out, mask), isRange('seed'));
  assert.throws(() => N.dropoutBackward(x, mask, 8, 0.1, out.subarray(1)), isRange('dX'));
  assert.throws(() => N.dropoutBackward(x, mask.subarray(4), 8, 0.1, out), isRange('mask'));
  assert.throws(() => N.dropoutForward(x, 8, 0.1, 1, 1, out, new Int8Array(8) as unknown as Uint8Array), TypeError);
  assert.throws(() => R.dropoutBackward(x, mask.subarray(4), 8, 0.1, out), RangeError);
});
