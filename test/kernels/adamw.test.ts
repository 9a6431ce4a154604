/**
 * Composer DecoupledAdamW step (the reference's `yamls/main/mosaic-bert-base-uncased.yaml` as Composer runs it): hand-computed single-element cases (with and without
 * weight decay, steps 1 and 2), native vs the float32-order reference bit for bit on random data (both paths, 1 and
 * 2 threads, several steps), and argument errors. Parity with the PyTorch fixture (expected_adamw_step*.safetensors)
 * is in the model parity tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native, nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference/index.js';
import { assertBitEqual, forEachPath, randn, rng, withThreads } from '../helpers.js';

const nat = nativeKernels();
const ref = referenceKernels;

/** The caller's float64 scalars for step t (1-based) at learning rate lr (types.ts adamwStep). */
function scalars(lr: number, b1: number, b2: number, t: number): [number, number] {
  return [lr / (1 - b1 ** t), Math.sqrt(1 - b2 ** t)];
}

type Opt = { b1: number; b2: number; eps: number; wd: number; lr0: number };

/** Runs one step on single-element state with schedule factor `factor` (lr_t = lr0 * factor). */
function step1(k: typeof nat, s: { p: Float32Array; m: Float32Array; v: Float32Array }, g: number, o: Opt,
  t: number, factor: number): void {
  const [stepSize, bc2] = scalars(o.lr0 * factor, o.b1, o.b2, t);
  k.adamwStep(s.p, new Float32Array([g]), s.m, s.v, 1, o.b1, o.b2, o.eps, o.wd, factor, stepSize, bc2);
}

test('adamwStep: hand-computed single-element steps (with and without weight decay)', () => {
  // g = 0.5 both steps, b1 = 0.9, b2 = 0.999, eps = 1e-8, lr0 = 1e-3.
  // Step 1: m = 0.1*0.5 = 0.05, v = 0.001*0.25 = 2.5e-4, sqrt(v)/sqrt(1-0.999) = 0.5,
  //   update = lr/(1-0.9) * m / (0.5 + eps) = 0.01 * 0.05 / 0.5 = 1e-3 (Adam's first step is lr * sign(g)).
  // Step 2: m = 0.9*0.05 + 0.05 = 0.095, v = 0.999*2.5e-4 + 2.5e-4 = 4.9975e-4, sqrt(v / (1 - 0.999^2)) =
  //   sqrt(4.9975e-4 / 1.999e-3) = 0.5, update = lr_t/(1-0.81) * 0.095 / 0.5 = lr_t.
  // Decay (Composer): p *= 1 - factor * wd, NOT 1 - lr * wd.
  //   wd = 0:    p = 1 -> 0.999 -> 0.998 (factor 1 both steps)
  //   wd = 0.01: p = 1 * 0.99 - 1e-3 = 0.989 -> (factor 0.75) 0.989 * 0.9925 - 0.75e-3 = 0.9808325
  // Tolerance 1.5e-7 (2.5 ulp in [0.5, 1)): the decay multiply and the final add each round by <= 0.5 ulp; the
  // float32 intermediates perturb the 1e-3 update by ~1e-7 relative (1e-10 absolute); eps shifts it by 2e-8 rel.
  const base = { b1: 0.9, b2: 0.999, eps: 1e-8, lr0: 1e-3 };
  for (const k of [nat, ref]) {
    forEachPath((path) => {
      const label = `${k.name} ${path}`;
      const s = { p: new Float32Array([1]), m: new Float32Array(1), v: new Float32Array(1) };
      step1(k, s, 0.5, { ...base, wd: 0 }, 1, 1);
      assert.ok(Math.abs(s.p[0] - 0.999) <= 1.5e-7, `${label}: wd 0 step 1: ${s.p[0]}`);
      assert.equal(s.m[0], Math.fround(Math.fround(0.1) * 0.5), `${label}: m`);
      assert.equal(s.v[0], Math.fround(Math.fround(Math.fround(1 - 0.999) * 0.5) * 0.5), `${label}: v`);
      step1(k, s, 0.5, { ...base, wd: 0 }, 2, 1);
      assert.ok(Math.abs(s.p[0] - 0.998) <= 1.5e-7, `${label}: wd 0 step 2: ${s.p[0]}`);
      assert.ok(Math.abs(s.m[0] - 0.095) <= 1e-8 && Math.abs(s.v[0] - 4.9975e-4) <= 1e-10, `${label}: m, v step 2`);

      const d = { p: new Float32Array([1]), m: new Float32Array(1), v: new Float32Array(1) };
      step1(k, d, 0.5, { ...base, wd: 0.01 }, 1, 1);
      assert.ok(Math.abs(d.p[0] - 0.989) <= 1.5e-7, `${label}: wd 0.01 step 1: ${d.p[0]}`);
      step1(k, d, 0.5, { ...base, wd: 0.01 }, 2, 0.75);
      assert.ok(Math.abs(d.p[0] - 0.9808325) <= 1.5e-7, `${label}: wd 0.01 step 2: ${d.p[0]}`);

      // Decay only (g = 0, fresh state): m = v = 0, the update is 0 / (0 + eps) = 0 and p = 2 * f32(1 - 0.5 * 0.1).
      const z = { p: new Float32Array([2]), m: new Float32Array(1), v: new Float32Array(1) };
      step1(k, z, 0, { ...base, wd: 0.1 }, 1, 0.5);
      assert.equal(z.p[0], Math.fround(2 * Math.fround(0.95)), `${label}: decay only`);
      assert.equal(z.m[0], 0); assert.equal(z.v[0], 0);
    });
  }
});

test('adamwStep: native equals the float32-order reference bit for bit (paths, threads, 3 steps)', () => {
  const r = rng(31);
  // MosaicBERT's recipe (b2 0.98, eps 1e-6, wd 1e-5, lr 5e-4) and a wd = 0 / larger-wd variant; schedule factors
  // of a warmup/decay: the decay multiplier and step size change per step.
  const opts: Opt[] = [
    { b1: 0.9, b2: 0.98, eps: 1e-6, wd: 1e-5, lr0: 5e-4 },
    { b1: 0.8, b2: 0.999, eps: 1e-8, wd: 0, lr0: 1e-2 },
    { b1: 0.9, b2: 0.95, eps: 1e-6, wd: 0.3, lr0: 2e-3 },
  ];
  const factors = [0.25, 1, 0.75];
  const cases = [0, 1, 7, 1000, 100_003].flatMap((n) => opts.map((o) => {
    const p0 = randn(n, r, 0.05);
    // Gradients of mixed magnitudes, including zeros and ones near eps.
    const grads = factors.map(() => {
      const g = randn(n, r, 1e-2);
      for (let i = 0; i < n; i += 5) g[i] *= 1e-5;
      for (let i = 3; i < n; i += 17) g[i] = 0;
      return g;
    });
    const e = { p: p0.slice(), m: new Float32Array(n), v: new Float32Array(n) };
    factors.forEach((f, s) => {
      const [stepSize, bc2] = scalars(o.lr0 * f, o.b1, o.b2, s + 1);
      ref.adamwStep(e.p, grads[s], e.m, e.v, n, o.b1, o.b2, o.eps, o.wd, f, stepSize, bc2);
    });
    return { n, o, p0, grads, e };
  }));
  forEachPath((path) => {
    for (const threads of [1, 2]) {
      withThreads(threads, () => {
        for (const { n, o, p0, grads, e } of cases) {
          const a = { p: p0.slice(), m: new Float32Array(n), v: new Float32Array(n) };
          factors.forEach((f, s) => {
            const [stepSize, bc2] = scalars(o.lr0 * f, o.b1, o.b2, s + 1);
            nat.adamwStep(a.p, grads[s], a.m, a.v, n, o.b1, o.b2, o.eps, o.wd, f, stepSize, bc2);
          });
          // Same float32 operations in the same order, each correctly rounded (no FMA on either side): exact.
          const label = `n=${n} wd=${o.wd} ${path} threads=${threads}`;
          assertBitEqual(a.p, e.p, `${label}: param`);
          assertBitEqual(a.m, e.m, `${label}: expAvg`);
          assertBitEqual(a.v, e.v, `${label}: expAvgSq`);
        }
      });
    }
  });
});

test('adamwStep works on subarray views and leaves elements past n alone', () => {
  const r = rng(32);
  const n = 37;
  const p = randn(n + 9, r), g = randn(n + 9, r), m = randn(n + 9, r, 0.01), v = randn(n + 9, r, 0.01).map(Math.abs);
  const e = { p: p.slice(), m: m.slice(), v: v.slice() };
  ref.adamwStep(e.p.subarray(4, 4 + n), g.subarray(2), e.m.subarray(1), e.v.subarray(3), n, 0.9, 0.98, 1e-6, 1e-5, 1,
    5e-3, 0.3);
  forEachPath((path) => {
    const a = { p: p.slice(), m: m.slice(), v: v.slice() };
    nat.adamwStep(a.p.subarray(4, 4 + n), g.subarray(2), a.m.subarray(1), a.v.subarray(3), n, 0.9, 0.98, 1e-6, 1e-5,
      1, 5e-3, 0.3);
    assertBitEqual(a.p, e.p, `param ${path}`); assertBitEqual(a.m, e.m, `m ${path}`); assertBitEqual(a.v, e.v, `v ${path}`);
    assert.equal(a.p[3], p[3]); assert.equal(a.p[4 + n], p[4 + n]);
  });
});

test('adamwStep rejects short buffers (RangeError naming them) and bad betas', () => {
  const b = new Float32Array(8);
  for (const k of [nat, ref]) {
    for (const [i, name] of ['param', 'grad', 'expAvg', 'expAvgSq'].entries()) {
      const args = [b, b, b, b].map((x, j) => (j === i ? x.subarray(1) : x)) as [Float32Array, Float32Array,
        Float32Array, Float32Array];
      assert.throws(() => k.adamwStep(...args, 8, 0.9, 0.98, 1e-6, 0, 1, 1e-3, 0.1),
        (e: Error) => e instanceof RangeError && e.message.includes(`'${name}'`), `${k.name} ${name}`);
    }
  }
  assert.throws(() => nat.adamwStep(b, b, b, b, 8, 1.5, 0.98, 1e-6, 0, 1, 1e-3, 0.1),
    (e: Error) => e instanceof RangeError && /beta1/.test(e.message));
});
