/**
 * Tests of the activation kernels (exact GELU, GeGLU, tanh; forward and backward): native (both paths) against the
 * float64 oracle, thread-count independence, aliasing, finite differences, the float64 erf against mpmath values,
 * the vectorised float32 erf over a dense sweep, and argument errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native, nativeKernels } from '../../src/kernels/native.js';
import { activationsReference as R, erf64, erfc64, gelu64 } from '../../src/kernels/reference/activations.js';
import { assertClose, dot64, finiteDiff, forEachPath, randn, rng, withThreads } from '../helpers.js';

const N = nativeKernels();
const erfFloat32 = (x: Float32Array, n: number, out: Float32Array): void =>
  native().erfFloat32(x, n, out);

/** Asserts |a_i - e_i| <= k * scale_i for every i (an elementwise absolute tolerance). */
function assertScaled(a: Float32Array, e: ArrayLike<number>, scale: ArrayLike<number>, k: number, label: string) {
  assert.equal(a.length, e.length);
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    if (!(d <= k * scale[i])) assert.fail(`${label}: element ${i}: got ${a[i]}, expected ${e[i]}, |diff| ${d} > ${k} * ${scale[i]}`);
  }
}

/** Test inputs: N(0, 3^2) plus a sweep of [-13, 13] at the front (both erf ranges, the saturated tails). */
function inputs(n: number, seed: number): Float32Array {
  const x = randn(n, rng(seed), 3);
  const k = Math.min(n, 500);
  for (let i = 0; i < k && n >= 50; i++) x[i] = -13 + 26 * i / (k - 1);
  return x;
}

const SIZES = [1, 3, 7, 63, 64, 65, 768, 1000, 40000];

// Tolerances. Portable path: GELU in float64 with std::erfc, rounded once, so it matches the float64 oracle to one
// float32 rounding (rtol 1.2e-7 = 2^-23). AVX2 path: float32 erf with |error| <= 1.4e-7 absolute; where 1 + erf(z) is
// formed for -1 <= z <= 0 this is amplified by 1/(1 + erf(z)) <= 1/erfc(1) = 6.4, beyond z < -1 the erfc
// approximation has ~3e-7 relative error: the measured maximum is 7.8e-7 relative, so rtol 1.5e-6. Below x ~ -12.5
// GELU is under 1e-33 and the AVX2 exp flushes denormals: atol 1e-30.
const GELU_TOL: Record<string, [number, number]> = { avx2: [1e-30, 1.5e-6], portable: [1e-30, 1.2e-7] };
// Backward: dX = dOut * gelu'(x), gelu' = (1 + erf)/2 + x phi(x) with both terms <= ~1.1; their float32 errors
// (<= ~2e-7 each on the AVX2 path, measured max 2.2e-7 |dOut|) are absolute w.r.t. |dOut|, since gelu' crosses zero
// at x = -0.75 (relative error is unbounded there): |err| <= 5e-7 |dOut_i| (AVX2), 1.5e-7 |dOut_i| (portable:
// float64 formula, one rounding of a value <= 1.13 |dOut|).
const GELU_BWD_K: Record<string, number> = { avx2: 5e-7, portable: 1.5e-7 };

test('erf64 (oracle) matches mpmath to ~1e-16 absolute, erfc64 relative', () => {
  // [x, erf(x), erfc(x)] from mpmath at 30 digits.
  const table: Array<[number, number, number]> = [
    [1e-8, 1.1283791670955125599e-8, 0.99999998871620832904],
    [0.1, 0.1124629160182848984, 0.8875370839817151016], [0.5, 0.52049987781304653768, 0.47950012218695346232],
    [1.0, 0.84270079294971486934, 0.15729920705028513066], [1.5, 0.96610514647531072707, 0.033894853524689272933],
    [2.0, 0.99532226501895273416, 0.0046777349810472658379],
    [2.5, 0.99959304798255504106, 0.00040695201744495893956],
    [3.0, 0.99997790950300141456, 0.000022090496998585441373],
    [4.0, 0.99999998458274209972, 1.5417257900280018852e-8], [5.0, 0.99999999999846254021, 1.5374597944280348502e-12],
    [8.0, 1, 1.122429717298292708e-29], [20.0, 1, 5.3958656116079009289e-176],
  ];
  for (const [x, e, c] of table) {
    assert.ok(Math.abs(erf64(x) - e) <= 4e-16, `erf(${x}) = ${erf64(x)}, expected ${e}`);
    assert.ok(Math.abs(erf64(-x) + e) <= 4e-16, `erf(${-x})`);
    // erfc: continued fraction (x >= 2) ~1e-16 relative; 1 - erf below 2 loses up to 2.3 digits: 5e-14 relative.
    assert.ok(Math.abs(erfc64(x) - c) <= 5e-14 * c, `erfc(${x}) = ${erfc64(x)}, expected ${c}`);
  }
  assert.ok(Math.abs(erfc64(-1.5) - 1.9661051464753107271) <= 4e-16);
  assert.equal(erf64(0), 0);
  assert.equal(erf64(Infinity), 1);
  assert.equal(erf64(-Infinity), -1);
  assert.ok(Number.isNaN(erf64(NaN)));
});

test('native float32 erf: dense sweep of [-10, 10] against erf64 (both paths)', () => {
  const n = 2_000_001;
  const x = new Float32Array(n), out = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = -10 + 20 * i / (n - 1);
  forEachPath((path) => {
    erfFloat32(x, n, out);
    let worst = 0, at = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.abs(out[i] - erf64(x[i]));
      if (d > worst) { worst = d; at = x[i]; }
    }
    // AVX2: polynomial/rational approximation evaluated in float32, measured max 1.37e-7 (~2.3 ulp of 0.83, near
    // |x| = 0.98): bound 2e-7. Portable: std::erf in float64 rounded to float32: <= half an ulp of 1 = 3e-8.
    const tol = path === 'avx2' ? 2e-7 : 3e-8;
    assert.ok(worst <= tol, `${path}: max |erf error| ${worst} at x = ${at} > ${tol}`);
    const sp = new Float32Array([0, -0, Infinity, -Infinity, NaN, 1e-30, -1e-30, 100, -100]);
    const so = new Float32Array(sp.length);
    erfFloat32(sp, sp.length, so);
    assert.deepEqual(Array.from(so.subarray(0, 4)), [0, -0, 1, -1], `${path} specials`);
    assert.ok(Number.isNaN(so[4]));
    assertClose(so.subarray(5), [1.1283791670955126e-30, -1.1283791670955126e-30, 1, -1], 0, 2.4e-7, `${path} tiny/huge`);
  });
});

test('geluForward / geluBackward match the float64 oracle (both paths, odd sizes)', () => {
  forEachPath((path) => {
    for (const n of SIZES) {
      const x = inputs(n, n), dy = randn(n, rng(n + 1));
      const got = new Float32Array(n), want = new Float32Array(n);
      N.geluForward(x, n, got); R.geluForward(x, n, want);
      assertClose(got, want, GELU_TOL[path][0], GELU_TOL[path][1], `${path} gelu n=${n}`);
      N.geluBackward(x, dy, n, got); R.geluBackward(x, dy, n, want);
      assertScaled(got, want, dy.map(Math.abs), GELU_BWD_K[path], `${path} geluBackward n=${n}`);
    }
    // Large inputs: gelu(x) = x for x >= ~6 (exactly, in float32), 0 below ~-14 (and never NaN).
    const big = new Float32Array([10, 100, 1e30, -20, -100, -1e30]), o = new Float32Array(6);
    N.geluForward(big, 6, o);
    assert.deepEqual(o, new Float32Array([10, 100, 1e30, -0, -0, -0]), `${path} saturated`);
  });
});

test('gegluForward / gegluBackward match the oracle for [rows, 2I] shapes (GELU on the FIRST half)', () => {
  forEachPath((path) => {
    for (const rows of [1, 7, 300]) {
      for (const I of [1, 3, 63, 64, 65, 768, 1000]) {
        if (rows * I > 100_000 && I !== 768) continue;  // keep the run short; 300 x 768 covers multi-row chunks
        const x = inputs(rows * 2 * I, rows * 31 + I), dy = randn(rows * I, rng(I + 7));
        const got = new Float32Array(rows * I), want = new Float32Array(rows * I);
        N.gegluForward(x, rows, I, got); R.gegluForward(x, rows, I, want);
        // out = gelu(a) * b: the GELU tolerance plus one float32 rounding of the product.
        assertClose(got, want, 1e-30, GELU_TOL[path][1] + 1.2e-7, `${path} geglu ${rows}x${I}`);
        const dGot = new Float32Array(rows * 2 * I), dWant = new Float32Array(rows * 2 * I);
        N.gegluBackward(x, dy, rows, I, dGot); R.gegluBackward(x, dy, rows, I, dWant);
        // dA = (dy b) gelu'(a): scale |dy b|; dB = dy gelu(a): the GELU relative tolerance (+ 2 roundings) on
        // |dy gelu(a)|, i.e. scale |dWant|.
        const scale = new Float64Array(rows * 2 * I);
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < I; c++) {
            scale[r * 2 * I + c] = Math.abs(dy[r * I + c] * x[r * 2 * I + I + c]) * (GELU_BWD_K[path] + 1.2e-7);
            scale[r * 2 * I + I + c] = Math.abs(dWant[r * 2 * I + I + c]) * (GELU_TOL[path][1] + 2.4e-7) + 1e-30;
          }
        }
        assertScaled(dGot, dWant, scale, 1, `${path} gegluBackward ${rows}x${I}`);
      }
    }
  });
  // The split: with the second half = 1, out = gelu(first half); with the first half huge, out = x * second half.
  const I = 5, x = new Float32Array(2 * I), out = new Float32Array(I);
  for (let c = 0; c < I; c++) { x[c] = c - 2; x[I + c] = 1; }
  N.gegluForward(x, 1, I, out);
  for (let c = 0; c < I; c++) assert.ok(Math.abs(out[c] - gelu64(c - 2)) <= 1e-6, 'geglu gates the first half');
});

test('tanhForward / tanhBackward match the oracle', () => {
  forEachPath((path) => {
    for (const n of SIZES) {
      const x = randn(n, rng(n + 3), 2), dy = randn(n, rng(n + 4));
      const got = new Float32Array(n), want = new Float32Array(n);
      N.tanhForward(x, n, got); R.tanhForward(x, n, want);
      // AVX2: odd polynomial below 0.625, (1-e)/(1+e) above: measured <= 1.6e-7 relative (2.6 ulp): rtol 3e-7.
      // Portable: tanhf (<= 2 ulp): rtol 3e-7 as well.
      assertClose(got, want, 1e-37, 3e-7, `${path} tanh n=${n}`);
      N.tanhBackward(want, dy, n, got); R.tanhBackward(want, dy, n, want.slice());
      const ref = new Float64Array(n);
      for (let i = 0; i < n; i++) ref[i] = dy[i] * (1 - want[i] * want[i]);
      // 1 - y^2 (FMA or two roundings) then one product: error <= ~2 ulp of |dy|: k 2.5e-7 * |dy|.
      assertScaled(got, ref, dy.map(Math.abs), 2.5e-7, `${path} tanhBackward n=${n}`);
    }
  });
});

test('results are bit-identical for 1 and 2 threads, and the same for every chunk position', () => {
  const n = 100_003, rows = 70, I = 3000;
  const x = inputs(n, 5), dy = randn(n, rng(6)), xg = inputs(rows * 2 * I, 8), dyg = randn(rows * I, rng(9));
  const run = () => {
    const o = [new Float32Array(n), new Float32Array(n), new Float32Array(rows * I), new Float32Array(rows * 2 * I),
      new Float32Array(n)];
    N.geluForward(x, n, o[0]); N.geluBackward(x, dy, n, o[1]);
    N.gegluForward(xg, rows, I, o[2]); N.gegluBackward(xg, dyg, rows, I, o[3]); N.tanhForward(x, n, o[4]);
    return o;
  };
  const paths: string[] = [];
  const one = withThreads(1, () => { const r: Float32Array[][] = []; forEachPath((p) => { paths.push(p); r.push(run()); }); return r; });
  const two = withThreads(2, () => { const r: Float32Array[][] = []; forEachPath(() => r.push(run())); return r; });
  for (let p = 0; p < one.length; p++) {
    for (let k = 0; k < one[p].length; k++) assert.deepEqual(one[p][k], two[p][k], `${paths[p]} output ${k}`);
  }
  forEachPath((path) => {
    // An offset view gives the same values (every element takes the same code path wherever it lies).
    const full = new Float32Array(n), off = new Float32Array(n - 5);
    N.geluForward(x, n, full);
    N.geluForward(x.subarray(5), n - 5, off);
    assert.deepEqual(off, full.subarray(5), `${path} offset view`);
  });
});

test('aliasing allowed by the contract: gelu out = x, geluBackward dX = dOut, tanh out = x', () => {
  forEachPath((path) => {
    const n = 1001, x = inputs(n, 11), dy = randn(n, rng(12));
    const want = new Float32Array(n), buf = x.slice();
    N.geluForward(x, n, want); N.geluForward(buf, n, buf);
    assert.deepEqual(buf, want, `${path} gelu in place`);
    const d = dy.slice();
    N.geluBackward(x, dy, n, want); N.geluBackward(x, d, n, d);
    assert.deepEqual(d, want, `${path} geluBackward in place`);
    const t = x.slice();
    N.tanhForward(x, n, want); N.tanhForward(t, n, t);
    assert.deepEqual(t, want, `${path} tanh in place`);
  });
});

// Finite differences of the probe L = sum(w * out) (float64 sum of the float32 outputs). The forward output is
// float32, so changing one input changes L by the rounding noise of that one output (<= 1 ulp ~ 4e-7 for |out| <= 4)
// besides the true change: with h = 1e-2 the noise contributes <= 2e-5 |w|, the h^2 truncation ~ h^2 |f'''| / 6
// <= 2e-5. Tolerance 1e-4 + 1e-3 relative.
test('finite differences: geluBackward, gegluBackward, tanhBackward against their forwards (oracle and native)', () => {
  const impls = [['oracle', R], ['native', N]] as const;
  for (const [name, K] of impls) {
    const r = rng(21), n = 64, x = randn(n, r, 2), w = randn(n, r), out = new Float32Array(n), dX = new Float32Array(n);
    K.geluBackward(x, w, n, dX);
    for (const [i, num] of finiteDiff(x, () => { K.geluForward(x, n, out); return dot64(w, out); }, 24, 1e-2, r)) {
      assert.ok(Math.abs(dX[i] - num) <= 1e-4 + 1e-3 * Math.abs(num), `${name} gelu FD at ${i}: ${dX[i]} vs ${num}`);
    }
    K.tanhForward(x, n, out);
    const y = out.slice();
    K.tanhBackward(y, w, n, dX);
    for (const [i, num] of finiteDiff(x, () => { K.tanhForward(x, n, out); return dot64(w, out); }, 24, 1e-2, r)) {
      assert.ok(Math.abs(dX[i] - num) <= 1e-4 + 1e-3 * Math.abs(num), `${name} tanh FD at ${i}: ${dX[i]} vs ${num}`);
    }
    const rows = 3, I = 17, xg = randn(rows * 2 * I, r, 2), wg = randn(rows * I, r);
    const og = new Float32Array(rows * I), dg = new Float32Array(rows * 2 * I);
    K.gegluBackward(xg, wg, rows, I, dg);
    for (const [i, num] of finiteDiff(xg, () => { K.gegluForward(xg, rows, I, og); return dot64(wg, og); }, 40, 1e-2, r)) {
      // gelu(a) b: the second derivative in a is scaled by |b| <= ~6: tolerance 4x the GELU one.
      assert.ok(Math.abs(dg[i] - num) <= 4e-4 + 4e-3 * Math.abs(num), `${name} geglu FD at ${i}: ${dg[i]} vs ${num}`);
    }
  }
});

test('argument errors: short buffers throw RangeError naming the argument, wrong types TypeError', () => {
  const x = new Float32Array(10), o = new Float32Array(9);
  assert.throws(() => N.geluForward(x, 10, o), (e: unknown) => e instanceof RangeError && /'out'/.test(String(e)));
  assert.throws(() => N.geluBackward(x, o, 10, x), (e: unknown) => e instanceof RangeError && /'dOut'/.test(String(e)));
  assert.throws(() => N.gegluForward(x, 2, 3, o), (e: unknown) => e instanceof RangeError && /'x'/.test(String(e)));
  assert.throws(() => N.gegluBackward(new Float32Array(12), o.subarray(0, 5), 2, 3, new Float32Array(12)),
    (e: unknown) => e instanceof RangeError && /'dOut'/.test(String(e)));
  assert.throws(() => N.tanhForward(x, -1, x), RangeError);
  // rows * 2I = 2^81 overflows 64 bits (to 0): refused by the shared size check, not accepted with tiny buffers
  assert.throws(() => N.gegluForward(x, 2 ** 40, 2 ** 40, o), (e: unknown) => e instanceof RangeError && /rows \* 2I is too large/.test(String(e)));
  assert.throws(() => N.gegluBackward(x, o, 2 ** 40, 2 ** 40, x), (e: unknown) => e instanceof RangeError && /too large/.test(String(e)));
  assert.throws(() => N.tanhBackward(x, x, 10, o), (e: unknown) => e instanceof RangeError && /'dX'/.test(String(e)));
  assert.throws(() => N.geluForward(new Float64Array(10) as unknown as Float32Array, 10, x), TypeError);
  assert.throws(() => R.geluForward(x, 10, o), RangeError);
  assert.throws(() => R.gegluForward(x, 2, 3, o), RangeError);
});
