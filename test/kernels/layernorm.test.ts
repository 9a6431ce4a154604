/**
 * Tests of LayerNorm with the fused residual add (forward and backward): native (both paths) against the float64
 * oracle on odd shapes, eps 1e-12 / 1e-5, constant rows, thread-count independence (dGamma/dBeta included), aliasing,
 * finite differences, argument errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeKernels } from '../../src/kernels/native.js';
import { layerNormReference as R } from '../../src/kernels/reference/layernorm.js';
import type { Kernels } from '../../src/kernels/types.js';
import { assertClose, dot64, finiteDiff, forEachPath, randn, rng, withThreads } from '../helpers.js';

const N = nativeKernels();
type LN = Pick<Kernels, 'layerNormForward' | 'layerNormBackward'>;

function assertScaled(a: ArrayLike<number>, e: ArrayLike<number>, tol: ArrayLike<number>, label: string): void {
  assert.equal(a.length, e.length);
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    if (!(d <= tol[i])) assert.fail(`${label}: element ${i}: got ${a[i]}, expected ${e[i]}, |diff| ${d} > ${tol[i]}`);
  }
}

interface Case { x: Float32Array; res: Float32Array | null; gamma: Float32Array; beta: Float32Array; dy: Float32Array }

function makeCase(rows: number, cols: number, seed: number, withRes: boolean): Case {
  const r = rng(seed);
  const x = randn(rows * cols, r, 2);
  // Row offsets up to +-50 (|mean| >> std exercises the two-float mean), and one constant-ish scale per row.
  for (let i = 0; i < rows; i++) {
    const off = (r() - 0.5) * 100, sc = 0.1 + 3 * r();
    for (let c = 0; c < cols; c++) x[i * cols + c] = x[i * cols + c] * sc + off;
  }
  const gamma = randn(cols, r, 0.2).map((v) => v + 1), beta = randn(cols, r, 0.2);
  return { x, res: withRes ? randn(rows * cols, r) : null, gamma, beta, dy: randn(rows * cols, r) };
}

function forward(K: LN, c: Case, rows: number, cols: number, eps: number) {
  const o = { sum: new Float32Array(rows * cols), out: new Float32Array(rows * cols), mean: new Float32Array(rows),
    rstd: new Float32Array(rows) };
  K.layerNormForward(c.x, c.res, c.gamma, c.beta, rows, cols, eps, o.sum, o.out, o.mean, o.rstd);
  return o;
}

const SHAPES: Array<[number, number]> = [];
for (const rows of [1, 7, 300]) for (const cols of [1, 3, 63, 64, 65, 768, 1000]) SHAPES.push([rows, cols]);

test('layerNormForward matches the float64 oracle (both paths, residual null/given, eps 1e-12 and 1e-5)', () => {
  forEachPath((path) => {
    for (const [rows, cols] of SHAPES) {
      for (const withRes of [false, true]) {
        for (const eps of [1e-12, 1e-5]) {
          const c = makeCase(rows, cols, rows * 1000 + cols + (withRes ? 7 : 0), withRes);
          const got = forward(N, c, rows, cols, eps), want = forward(R, c, rows, cols, eps);
          const label = `${path} ${rows}x${cols} res=${withRes} eps=${eps}`;
          // s = x + residual is one float32 addition on both sides: exact.
          assert.deepEqual(got.sum, want.sum, `${label} sum`);
          // mean/rstd: float64 statistics (different summation orders, ~1e-16 relative) rounded to float32: at most
          // one ulp apart (rtol 2^-23); a mean near 0 differs by ~1e-16 * max|s| absolutely (atol 1e-14).
          assertClose(got.mean, want.mean, 1e-14, 1.2e-7, `${label} mean`);
          assertClose(got.rstd, want.rstd, 0, 1.2e-7, `${label} rstd`);
          // out: xhat = ((s - mhi) - mlo) * rstd takes <= 3 float32 roundings (+ rstd's own): <= ~4 * 2^-24 |xhat|,
          // then fma(xhat, gamma, beta) one more rounding of |out|: tol 3e-7 |xhat gamma| + 1.2e-7 |out| + 1e-30.
          const tol = new Float64Array(rows * cols);
          for (let r = 0; r < rows; r++) {
            for (let k = 0; k < cols; k++) {
              const xh = (want.sum[r * cols + k] - want.mean[r]) * want.rstd[r];
              tol[r * cols + k] = 3e-7 * Math.abs(xh * c.gamma[k]) + 1.2e-7 * Math.abs(want.out[r * cols + k]) + 1e-30;
            }
          }
          assertScaled(got.out, want.out, tol, `${label} out`);
        }
      }
    }
  });
});

test('layerNormBackward matches the float64 oracle; dGamma/dBeta accumulate', () => {
  forEachPath((path) => {
    for (const [rows, cols] of SHAPES) {
      const c = makeCase(rows, cols, rows * 17 + cols, true);
      const f = forward(R, c, rows, cols, 1e-12);
      const init = randn(cols, rng(cols), 1);
      const run = (K: LN) => {
        const dX = new Float32Array(rows * cols), dG = init.slice(), dB = init.slice();
        K.layerNormBackward(c.dy, f.sum, c.gamma, f.mean, f.rstd, rows, cols, dX, dG, dB);
        return { dX, dG, dB };
      };
      const got = run(N), want = run(R);
      const label = `${path} ${rows}x${cols}`;
      // dX = rstd ((g - mean g) - xhat mean(g xhat)): a few float32 roundings of each term, and the means are sums
      // of float32-rounded g and g xhat (error ~2^-24 mean|g|, mean|g xhat|, not relative to the mean itself):
      // absolute tolerance 4e-7 rstd (|g| + mean|g| + |xhat| (mean|g xhat| + |mean(g xhat)|)); the difference may
      // cancel to ~0, so no relative tolerance.
      const tolX = new Float64Array(rows * cols), tolG = new Float64Array(cols), tolB = new Float64Array(cols);
      for (let r = 0; r < rows; r++) {
        let sga = 0, sgx = 0, sgxa = 0;
        const xh = (k: number) => (f.sum[r * cols + k] - f.mean[r]) * f.rstd[r];
        for (let k = 0; k < cols; k++) {
          const g = c.dy[r * cols + k] * c.gamma[k];
          sga += Math.abs(g); sgx += g * xh(k); sgxa += Math.abs(g * xh(k));
        }
        for (let k = 0; k < cols; k++) {
          const g = c.dy[r * cols + k] * c.gamma[k];
          tolX[r * cols + k] = 4e-7 * f.rstd[r] * (Math.abs(g) + sga / cols + Math.abs(xh(k)) * (sgxa + Math.abs(sgx)) / cols);
          // dGamma terms use the float32-rounded xhat natively (<= 2 roundings: 2.4e-7 relative each).
          tolG[k] += 2.4e-7 * Math.abs(c.dy[r * cols + k] * xh(k));
          tolB[k] += 1e-15 * Math.abs(c.dy[r * cols + k]);
        }
      }
      assertScaled(got.dX, want.dX, tolX, `${label} dX`);
      // + one float32 rounding of the accumulated value on each side.
      for (let k = 0; k < cols; k++) {
        tolG[k] += 1.2e-7 * Math.abs(want.dG[k]);
        tolB[k] += 1.2e-7 * Math.abs(want.dB[k]);
      }
      assertScaled(got.dG, want.dG, tolG, `${label} dGamma`);
      assertScaled(got.dB, want.dB, tolB, `${label} dBeta`);
    }
  });
});

test('constant rows (variance 0): out = beta exactly, rstd = 1/sqrt(eps), dX = 0', () => {
  forEachPath((path) => {
    for (const eps of [1e-12, 1e-5]) {
      for (const cols of [1, 5, 768]) {
        const rows = 3, x = new Float32Array(rows * cols);
        for (let r = 0; r < rows; r++) x.fill([0, 3.25, -1e3][r], r * cols, (r + 1) * cols);
        const c: Case = { x, res: null, gamma: randn(cols, rng(1)), beta: randn(cols, rng(2)), dy: randn(rows * cols, rng(3)) };
        const got = forward(N, c, rows, cols, eps);
        for (let r = 0; r < rows; r++) {
          assert.deepEqual(got.out.subarray(r * cols, (r + 1) * cols), c.beta, `${path} eps=${eps} row ${r}`);
          assert.equal(got.mean[r], x[r * cols]);
          assert.equal(got.rstd[r], Math.fround(1 / Math.sqrt(eps)));
        }
        const dX = new Float32Array(rows * cols), dG = new Float32Array(cols), dB = new Float32Array(cols);
        N.layerNormBackward(c.dy, got.sum, c.gamma, got.mean, got.rstd, rows, cols, dX, dG, dB);
        // xhat = 0, so dX = rstd (g - mean(g)): finite (no NaN/inf) and equal to the oracle's to float32 precision
        // (rstd = 1e6 for eps 1e-12 amplifies: relative 1e-6 of rstd * max|g|).
        const dXr = new Float32Array(rows * cols);
        R.layerNormBackward(c.dy, got.sum, c.gamma, got.mean, got.rstd, rows, cols, dXr, new Float32Array(cols), new Float32Array(cols));
        let gmax = 0; for (let i = 0; i < rows * cols; i++) gmax = Math.max(gmax, Math.abs(c.dy[i] * c.gamma[i % cols]));
        assertClose(dX, dXr, 1e-6 * got.rstd[0] * gmax, 0, `${path} constant-row dX`);
        assert.deepEqual(dG, new Float32Array(cols), 'dGamma = sum dOut * 0');
      }
    }
  });
});

test('bit-identical for 1 and 2 threads (forward, dX, dGamma, dBeta), both paths', () => {
  const rows = 1000, cols = 768, c = makeCase(rows, cols, 99, true);
  const run = () => {
    const f = forward(N, c, rows, cols, 1e-12);
    const dX = new Float32Array(rows * cols), dG = new Float32Array(cols), dB = new Float32Array(cols);
    N.layerNormBackward(c.dy, f.sum, c.gamma, f.mean, f.rstd, rows, cols, dX, dG, dB);
    return [f.sum, f.out, f.mean, f.rstd, dX, dG, dB];
  };
  const paths: string[] = [];
  const one = withThreads(1, () => { const r: Float32Array[][] = []; forEachPath((p) => { paths.push(p); r.push(run()); }); return r; });
  const two = withThreads(2, () => { const r: Float32Array[][] = []; forEachPath(() => r.push(run())); return r; });
  for (let p = 0; p < one.length; p++) {
    for (let k = 0; k < one[p].length; k++) assert.deepEqual(one[p][k], two[p][k], `${paths[p]} output ${k}`);
  }
});

test('aliasing: sum = x, out = x (with sum given), out = x without sum, dX = dOut', () => {
  forEachPath((path) => {
    const rows = 5, cols = 77, c = makeCase(rows, cols, 5, true), eps = 1e-12;
    const ref = forward(N, c, rows, cols, eps);
    // sum aliases x
    let x = c.x.slice(), out = new Float32Array(rows * cols), mean = new Float32Array(rows), rstd = new Float32Array(rows);
    N.layerNormForward(x, c.res, c.gamma, c.beta, rows, cols, eps, x, out, mean, rstd);
    assert.deepEqual(x, ref.sum, `${path} sum=x: sum`); assert.deepEqual(out, ref.out, `${path} sum=x: out`);
    // out aliases x, sum given elsewhere
    x = c.x.slice();
    const sum = new Float32Array(rows * cols);
    N.layerNormForward(x, c.res, c.gamma, c.beta, rows, cols, eps, sum, x, mean, rstd);
    assert.deepEqual(x, ref.out, `${path} out=x`); assert.deepEqual(sum, ref.sum, `${path} out=x: sum`);
    // out aliases x with sum = null (each element is read before it is written, row by row)
    x = c.x.slice();
    N.layerNormForward(x, c.res, c.gamma, c.beta, rows, cols, eps, null, x, mean, rstd);
    assert.deepEqual(x, ref.out, `${path} out=x, no sum`);
    assert.deepEqual(mean, ref.mean); assert.deepEqual(rstd, ref.rstd);
    // dX aliases dOut
    const dX = new Float32Array(rows * cols), d = c.dy.slice();
    N.layerNormBackward(c.dy, ref.sum, c.gamma, ref.mean, ref.rstd, rows, cols, dX, new Float32Array(cols), new Float32Array(cols));
    N.layerNormBackward(d, ref.sum, c.gamma, ref.mean, ref.rstd, rows, cols, d, new Float32Array(cols), new Float32Array(cols));
    assert.deepEqual(d, dX, `${path} dX=dOut`);
    // residual null equals residual of zeros
    const z = forward(N, { ...c, res: new Float32Array(rows * cols) }, rows, cols, eps);
    const nres = forward(N, { ...c, res: null }, rows, cols, eps);
    assert.deepEqual(z.out, nres.out, `${path} residual null == zeros`);
  });
});

// Finite differences of L = sum(w * out) (float64 sum of the float32 outputs). Perturbing one input changes its
// whole row of outputs, so the float32 rounding noise of L is ~sqrt(cols) * 2^-24 * |w out| ~ 1e-6 absolute, i.e.
// <= 2e-4 after dividing by 2h (h = 5e-3); the h^2 truncation is ~1e-5 * |L'''| for inputs of unit scale.
// Tolerance 5e-4 + 5e-3 relative.
test('finite differences: dX (w.r.t. x and residual), dGamma, dBeta (oracle and native)', () => {
  for (const [name, K] of [['oracle', R], ['native', N]] as const) {
    for (const eps of [1e-12, 1e-5]) {
      const rows = 3, cols = 17, r = rng(7);
      const c: Case = { x: randn(rows * cols, r), res: randn(rows * cols, r), gamma: randn(cols, r, 0.3).map((v) => v + 1),
        beta: randn(cols, r), dy: randn(rows * cols, r) };
      const w = c.dy;
      const L = () => dot64(w, forward(K, c, rows, cols, eps).out);
      const f = forward(K, c, rows, cols, eps);
      const dX = new Float32Array(rows * cols), dG = new Float32Array(cols), dB = new Float32Array(cols);
      K.layerNormBackward(w, f.sum, c.gamma, f.mean, f.rstd, rows, cols, dX, dG, dB);
      const check = (buf: Float32Array, grad: Float32Array, what: string) => {
        for (const [i, num] of finiteDiff(buf, L, 12, 5e-3, r)) {
          assert.ok(Math.abs(grad[i] - num) <= 5e-4 + 5e-3 * Math.abs(num),
            `${name} eps=${eps} ${what}[${i}]: analytic ${grad[i]} vs numeric ${num}`);
        }
      };
      check(c.x, dX, 'x'); check(c.res!, dX, 'residual'); check(c.gamma, dG, 'gamma'); check(c.beta, dB, 'beta');
    }
  }
});

test('argument errors: short buffers -> RangeError naming the argument; bad eps', () => {
  const rows = 2, cols = 4, a = new Float32Array(8), g = new Float32Array(4), m = new Float32Array(2);
  const isRange = (name: string) => (e: unknown) => e instanceof RangeError && String(e).includes(`'${name}'`);
  assert.throws(() => N.layerNormForward(a.subarray(1), null, g, g, rows, cols, 1e-12, null, a, m, m), isRange('x'));
  assert.throws(() => N.layerNormForward(a, a.subarray(1), g, g, rows, cols, 1e-12, null, a, m, m), isRange('residual'));
  assert.throws(() => N.layerNormForward(a, null, g.subarray(1), g, rows, cols, 1e-12, null, a, m, m), isRange('gamma'));
  assert.throws(() => N.layerNormForward(a, null, g, g, rows, cols, 1e-12, a.subarray(2), a, m, m), isRange('sum'));
  assert.throws(() => N.layerNormForward(a, null, g, g, rows, cols, 1e-12, null, a, m, m.subarray(1)), isRange('rstd'));
  assert.throws(() => N.layerNormForward(a, null, g, g, rows, cols, -1, null, a, m, m), RangeError);
  assert.throws(() => N.layerNormBackward(a, a, g, m, m, rows, cols, a, g.subarray(1), g), isRange('dGamma'));
  assert.throws(() => N.layerNormBackward(a, a.subarray(3), g, m, m, rows, cols, a, g, g), isRange('s'));
  assert.throws(() => R.layerNormForward(a.subarray(1), null, g, g, rows, cols, 1e-12, null, a, m, m), RangeError);
  assert.throws(() => R.layerNormBackward(a, a, g, m, m, rows, cols, a, g.subarray(1), g), RangeError);
});
