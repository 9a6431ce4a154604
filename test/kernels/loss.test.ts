/**
 * Softmax cross-entropy (the reference's `BertForMaskedLM`): native vs the float64 reference (V = 5, 128, 30528; rows 0, 1,
 * 7, 1000), both kernel paths, 1 vs 2 threads, aliasing, finite differences of the backward against the forward,
 * and argument errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native, nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference/index.js';
import { assertBitEqual, assertClose, finiteDiff, forEachPath, randint, randn, rng, withThreads } from '../helpers.js';

const nat = nativeKernels();
const ref = referenceKernels;

const SHAPES: Array<[number, number]> = [  // [rows, V]
  [0, 5], [1, 5], [7, 5], [1000, 5], [1, 128], [7, 128], [1000, 128], [0, 30528], [1, 30528], [7, 30528], [9, 30531],
];

function makeCase(rows: number, V: number, r: () => number) {
  // Logits of MLM-like spread (std 3), plus a few large/small outliers to exercise the max shift.
  const logits = randn(rows * V, r, 3);
  for (let i = 0; i < Math.min(rows, 3); i++) logits[i * V + Math.floor(r() * V)] = 40 * (i % 2 ? -1 : 1);
  const targets = randint(rows, 0, V, r);
  const lse = new Float32Array(rows);
  const loss = ref.crossEntropyForward(logits, targets, rows, V, lse);
  const scale = rows ? 1 / rows : 1;
  const dLogits = new Float32Array(rows * V);
  ref.crossEntropyBackward(logits, targets, lse, rows, V, scale, dLogits);
  return { rows, V, logits, targets, lse, loss, scale, dLogits };
}

test('crossEntropy forward/backward: native vs reference, both paths, 1 vs 2 threads bit-identical', () => {
  const r = rng(11);
  const cases = SHAPES.map(([rows, V]) => makeCase(rows, V, r));
  forEachPath((path) => {
    const firstRun: Array<{ loss: number; lse: Float32Array; d: Float32Array }> = [];
    for (const threads of [1, 2]) {
      withThreads(threads, () => cases.forEach((c, k) => {
        const label = `rows=${c.rows} V=${c.V} ${path} threads=${threads}`;
        const lse = new Float32Array(c.rows).fill(NaN);
        const loss = nat.crossEntropyForward(c.logits, c.targets, c.rows, c.V, lse);
        // Loss: float32 exps (<= 1 ulp) summed in float64 and the float32 subtraction x - max (<= 0.5 ulp of
        // |x - max|, only on terms far below the max) give lse within ~2e-7 absolute of the float64 one; per row
        // 1e-6 absolute (and 1e-6 relative to the total) leaves a 5x margin.
        assert.ok(Math.abs(loss - c.loss) <= 1e-6 * c.rows + 1e-6 * Math.abs(c.loss), `${label}: loss ${loss} vs ${c.loss}`);
        // lse is stored in float32: 1 ulp of |lse| <= 64 is 7.6e-6; allow 1e-6 + 2 ulp-equivalents (2.4e-7 rel).
        assertClose(lse, c.lse, 1e-6, 2.4e-7, `${label}: lse`);
        const d = new Float32Array(c.rows * c.V);
        nat.crossEntropyBackward(c.logits, c.targets, lse, c.rows, c.V, c.scale, d);
        // p = exp(x - lse): the float32 subtraction rounds by <= 0.5 ulp of |x - lse| (<= 2^-24 * 64 = 3.8e-6
        // relative change of p for |x - lse| <= 64), exp <= 1 ulp, the scale multiply 0.5 ulp: rtol 5e-6.
        // Target entries scale * (p - 1) lose up to half an ulp of 1 (6e-8) absolutely: atol 1e-7 * scale.
        assertClose(d, c.dLogits, 1e-7 * c.scale, 5e-6, `${label}: dLogits`);
        if (threads === 1) {
          firstRun[k] = { loss, lse, d };
        } else {
          // Rows are independent and the loss adds per-row values in row order: identical for any thread count.
          assert.equal(loss, firstRun[k].loss, `${label}: loss differs between 1 and 2 threads`);
          assertBitEqual(lse, firstRun[k].lse, `${label}: lse 1 vs 2 threads`);
          assertBitEqual(d, firstRun[k].d, `${label}: dLogits 1 vs 2 threads`);
        }
      }));
    }
  });
});

test('crossEntropyBackward may alias logits (in place)', () => {
  const r = rng(12);
  for (const [rows, V] of [[7, 5], [3, 30528], [5, 13]] as const) {
    const c = makeCase(rows, V, r);
    forEachPath((path) => {
      const lse = new Float32Array(rows);
      nat.crossEntropyForward(c.logits, c.targets, rows, V, lse);
      const separate = new Float32Array(rows * V);
      nat.crossEntropyBackward(c.logits, c.targets, lse, rows, V, 0.25, separate);
      const inPlace = c.logits.slice();
      nat.crossEntropyBackward(inPlace, c.targets, lse, rows, V, 0.25, inPlace);
      assertBitEqual(inPlace, separate, `aliased rows=${rows} V=${V} ${path}`);
    });
  }
});

test('crossEntropyBackward matches central differences of crossEntropyForward (float64 probe)', () => {
  const r = rng(13);
  for (const [rows, V] of [[3, 5], [4, 128], [2, 30528]] as const) {
    const c = makeCase(rows, V, r);
    const scale = 0.5;
    const lse = new Float32Array(rows);
    forEachPath((path) => {
      nat.crossEntropyForward(c.logits, c.targets, rows, V, lse);
      const d = new Float32Array(rows * V);
      nat.crossEntropyBackward(c.logits, c.targets, lse, rows, V, scale, d);
      // (a) the float64 reference forward as the probe: no rounding noise (x +- 2^-7 is exact in float32 here);
      // truncation h^2/6 * |f'''| with |f'''| <= scale * max p(1-p)|1-2p| <= 0.05 gives 5e-7 at h = 2^-7; the
      // native backward itself is within 5e-6 relative (see above).
      const fRef = () => scale * ref.crossEntropyForward(c.logits, c.targets, rows, V, new Float32Array(rows));
      for (const [i, num] of finiteDiff(c.logits, fRef, 12, 2 ** -7, r)) {
        assert.ok(Math.abs(num - d[i]) <= 1e-6 + 1e-5 * Math.abs(d[i]), `${path} V=${V} ref probe coord ${i}: fd ${num} vs ${d[i]}`);
      }
      // (b) the native forward itself as the probe (h = 2^-5): truncation <= 0.05 * h^2 / 6 = 8e-6; only the
      // perturbed row changes, and its float64-summed float32 exps err by <= ~4e-7 between the two evaluations,
      // i.e. <= 0.5 * 4e-7 / 2h = 3.2e-6 after the division: 2e-5 in all.
      if (V <= 128) {
        const fNat = () => scale * nat.crossEntropyForward(c.logits, c.targets, rows, V, new Float32Array(rows));
        for (const [i, num] of finiteDiff(c.logits, fNat, 12, 2 ** -5, r)) {
          assert.ok(Math.abs(num - d[i]) <= 2e-5 + 1e-5 * Math.abs(d[i]), `${path} V=${V} native probe coord ${i}: fd ${num} vs ${d[i]}`);
        }
      }
    });
  }
});

test('crossEntropy: hand values, extreme logits', () => {
  // Two classes with logits (0, ln 3): p = (1/4, 3/4); target 1 -> loss = ln(4/3); lse = ln 4.
  const logits = new Float32Array([0, Math.log(3), 1000, -1000, -1000]);
  for (const k of [nat, ref]) {
    forEachPath(() => {
      const lse = new Float32Array(1);
      const loss = k.crossEntropyForward(logits, new Int32Array([1]), 1, 2, lse);
      assert.ok(Math.abs(loss - Math.log(4 / 3)) < 1e-7, `${k.name}: ${loss}`);
      assert.ok(Math.abs(lse[0] - Math.log(4)) < 1e-6, `${k.name}: lse ${lse[0]}`);
      const d = new Float32Array(2);
      k.crossEntropyBackward(logits, new Int32Array([1]), lse, 1, 2, 1, d);
      assertClose(d, [0.25, -0.25], 1e-7, 1e-6, `${k.name}: grad`);
      // A dominant logit: loss exactly 0 for the right class, 2000 for a wrong one; no overflow.
      const big = logits.subarray(2);
      const l3 = new Float32Array(1);
      assert.equal(k.crossEntropyForward(big, new Int32Array([0]), 1, 3, l3), 0, k.name);
      assert.equal(k.crossEntropyForward(big, new Int32Array([2]), 1, 3, l3), 2000, k.name);
    });
  }
});

test('crossEntropy rejects bad targets and short buffers with RangeErrors naming them', () => {
  const logits = new Float32Array(12), lse = new Float32Array(3), d = new Float32Array(12);
  for (const k of [nat, ref]) {
    assert.throws(() => k.crossEntropyForward(logits, new Int32Array([0, 4, 1]), 3, 4, lse),
      (e: Error) => e instanceof RangeError && /targets\[1\] = 4/.test(e.message) && /row 1/.test(e.message), k.name);
    assert.throws(() => k.crossEntropyForward(logits, new Int32Array([-1, 0, 0]), 3, 4, lse),
      (e: Error) => e instanceof RangeError && /targets\[0\] = -1/.test(e.message), k.name);
    assert.throws(() => k.crossEntropyBackward(logits, new Int32Array([0, 0, 9]), lse, 3, 4, 1, d),
      (e: Error) => e instanceof RangeError && /targets\[2\] = 9/.test(e.message), k.name);
    assert.throws(() => k.crossEntropyForward(logits.subarray(1), new Int32Array(3), 3, 4, lse),
      (e: Error) => e instanceof RangeError && /'logits'/.test(e.message), k.name);
    assert.throws(() => k.crossEntropyForward(logits, new Int32Array(3), 3, 4, lse.subarray(1)),
      (e: Error) => e instanceof RangeError && /'lse'/.test(e.message), k.name);
    assert.throws(() => k.crossEntropyBackward(logits, new Int32Array(3), lse, 3, 4, 1, d.subarray(1)),
      (e: Error) => e instanceof RangeError && /'dLogits'/.test(e.message), k.name);
  }
});

test('distillationLoss: native equals the float64 reference (odd widths, 0/1/many rows), both paths, 1 vs 2 threads bit-identical', () => {
  const r = rng(11);
  for (const [rows, C] of [[0, 5], [1, 5], [3, 2], [7, 13], [9, 30531], [40, 128]] as Array<[number, number]>) {
    const s = randn(rows * C, r, 3), t = randn(rows * C, r, 3);
    if (rows) { s[0] = 30; t[C - 1] = -30; }
    for (const invT of [1, 1 / 5.5]) {
      const scale = rows ? 2 / rows : 1;
      const want = new Float32Array(rows * C);
      const kl = ref.distillationLoss(s, t, rows, C, invT, want, scale);
      forEachPath((path) => {
        const outs = [1, 2].map((threads) => withThreads(threads, () => {
          const g = new Float32Array(rows * C);
          return { kl: nat.distillationLoss(s, t, rows, C, invT, g, scale), g };
        }));
        assert.equal(outs[0].kl, outs[1].kl, `${path} ${rows}x${C}: thread counts differ`);
        assertBitEqual(outs[0].g, outs[1].g, `${path} ${rows}x${C} grad, 1 vs 2 threads`);
        // float32 exps of <= 1 ulp on arguments up to |x invT| ~ 40: the KL sum to 1e-6 relative (+1e-7 per row
        // absolute near 0); gradients are differences of probabilities <= 1: 1e-6 absolute.
        assert.ok(Math.abs(outs[0].kl - kl) <= 1e-6 * Math.abs(kl) + 1e-7 * Math.max(1, rows), `${path} ${rows}x${C}: KL ${outs[0].kl} vs ${kl}`);
        assertClose(outs[0].g, want, 1e-6 * scale * Math.max(1, rows), 0, `${path} ${rows}x${C} grad`);
        assert.equal(nat.distillationLoss(s, t, rows, C, invT, null, scale), outs[0].kl);
      });
    }
  }
  assert.throws(() => nat.distillationLoss(new Float32Array(5), new Float32Array(6), 2, 3, 1, null, 1), /student/);
  assert.throws(() => nat.distillationLoss(new Float32Array(6), new Float32Array(6), 2, 3, 0, null, 1), /invT/);
});
