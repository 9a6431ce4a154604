/**
 * Shared test utilities: a seeded RNG, random tensors, closeness assertions with stated tolerances, a central
 * finite-difference checker, and a runner that repeats a test on both native kernel paths (AVX2 and portable).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../src/data/mulberry32.js';
import { native } from '../src/kernels/native.js';

/** Mulberry32 (`src/data/mulberry32.ts`): small, fast, seeded; good enough for test data. */
export const rng = mulberry32;

/** Normal(0, scale^2) samples (Box-Muller) as float32. */
export function randn(n: number, r: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12), v = r();
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

/** Uniform integers in [lo, hi) as an Int32Array. */
export function randint(n: number, lo: number, hi: number, r: () => number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + Math.floor(r() * (hi - lo));
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Asserts that two float32 arrays are identical bit for bit (`Object.is` per element: -0 and NaN count). */
export function assertBitEqual(a: Float32Array, b: Float32Array, label: string): void {
  assert.equal(a.length, b.length, `${label}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${label}: element ${i}: ${a[i]} !== ${b[i]}`);
  }
}

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| elementwise; the message names the worst element.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number,
  label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length} != ${expected.length}`);
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    const tol = atol + rtol * Math.abs(expected[i]);
    if (!(d <= tol)) {
      const excess = Number.isNaN(d) ? Infinity : d - tol;
      if (worst < 0 || excess > worstExcess) { worst = i; worstExcess = excess; }
    }
  }
  if (worst >= 0) {
    assert.fail(`${label}: element ${worst}: got ${actual[worst]}, expected ${expected[worst]} ` +
      `(atol ${atol}, rtol ${rtol}); max abs diff ${maxAbsDiff(actual, expected)}`);
  }
}

/**
 * Central finite differences of a scalar function `f()` that reads `x`, at `count` random coordinates of x.
 * Returns [coordinate, numeric derivative] pairs. `x` is restored afterwards. Use float64 inside `f` where
 * possible; step `h` trades truncation error (h^2) against float32 rounding (ulp/h).
 */
export function finiteDiff(x: Float32Array, f: () => number, count: number, h: number,
  r: () => number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let c = 0; c < count; c++) {
    const i = Math.floor(r() * x.length);
    const x0 = x[i];
    x[i] = x0 + h; const fp = f();
    x[i] = x0 - h; const fm = f();
    x[i] = x0;
    const hp = Math.fround(x0 + h) - x0, hm = x0 - Math.fround(x0 - h);  // the steps really taken in float32
    out.push([i, (fp - fm) / (hp + hm)]);
  }
  return out;
}

/** `sum_i w_i * y_i` in float64: a scalar probe of an output, for finite differences. */
export function dot64(w: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += w[i] * y[i];
  return s;
}

/** The native kernel paths this CPU offers: ['avx2', 'portable'] or ['portable']. */
export function kernelPaths(): Array<'avx2' | 'portable'> {
  return native().hasAvx2() ? ['avx2', 'portable'] : ['portable'];
}

/** Runs `fn` once per native kernel path (restoring 'auto' afterwards). */
export function forEachPath(fn: (path: 'avx2' | 'portable') => void): void {
  for (const p of kernelPaths()) {
    native().setKernelPath(p);
    try { fn(p); } finally { native().setKernelPath('auto'); }
  }
}

/** Runs `fn` with the pool resized to n threads (restoring the default afterwards). */
export function withThreads<T>(n: number, fn: () => T): T {
  native().setNumThreads(n);
  try { return fn(); } finally { native().setNumThreads(0); }
}

/** `../shared` beside the repository, if present (tests that need it skip otherwise). */
export function sharedDir(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const cand = join(dir, '..', 'shared');
    if (existsSync(join(dir, 'package.json')) && existsSync(cand)) return cand;
    dir = dirname(dir);
  }
  return null;
}
