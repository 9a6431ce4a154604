/**
 * Pruning kernels (native/kernels/pruning/) against the float64 oracles of src/kernels/reference/pruning.ts:
 * the block Fisher inverse by Woodbury updates against a direct float64 inverse of lambda I + (1/m) sum g g^T,
 * the OBS update on a quadratic whose constrained optimum is known in closed form (KKT conditions), the scores,
 * and the exact selection with ties. Both kernel paths; 1 and 2 threads give identical bits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pruningKernels, referencePruningKernels } from '../../src/pruning/kernels.js';
import { directFisherInverse64, solveDense64 } from '../../src/kernels/reference/pruning.js';
import { assertBitEqual, assertClose, forEachPath, randn, rng, withThreads } from '../helpers.js';

const nat = pruningKernels();
const ref = referencePruningKernels;

function initFinv(d: number, B: number, lambda: number): Float32Array {
  const nb = Math.ceil(d / B), F = new Float32Array(nb * B * B);
  for (let b = 0; b < nb; b++) for (let i = 0; i < B; i++) F[b * B * B + i * B + i] = 1 / lambda;
  return F;
}

/** max over blocks of max|A_b - E_b| / max|E_b|. */
function blockRelErr(A: ArrayLike<number>, E: ArrayLike<number>, nb: number, B: number): number {
  let worst = 0;
  for (let b = 0; b < nb; b++) {
    let mx = 0, err = 0;
    for (let i = 0; i < B * B; i++) mx = Math.max(mx, Math.abs(E[b * B * B + i]));
    for (let i = 0; i < B * B; i++) err = Math.max(err, Math.abs(A[b * B * B + i] - E[b * B * B + i]));
    worst = Math.max(worst, err / mx);
  }
  return worst;
}

test('fisherInverseUpdate: equals the float64 direct inverse of lambda I + (1/m) sum g g^T (B = 1, 4, 7, 50)', () => {
  const r = rng(11);
  // d = 103 is not a multiple of 4, 7 or 50: the padded last block is covered. lambda = 1e-7 as in the recipes;
  // gradient scales 1e-3 and 1e-2 put mean(g^2)/lambda at 10 and 1000 (BERT's range). Tolerance 1e-5 of each
  // block's largest entry: Finv is stored in float32 after each of the m updates (0.5 ulp = 6e-8 relative to the
  // entries, which start at 1/lambda), a random walk over m = 64..256 updates gives ~1e-6; measured 3e-7 .. 2e-6.
  for (const [B, m, scale] of [[1, 64, 1e-3], [4, 64, 1e-3], [7, 100, 1e-2], [50, 64, 1e-3], [50, 256, 1e-2]] as const) {
    const d = 103, lambda = 1e-7, nb = Math.ceil(d / B);
    const G = randn(m * d, r, scale);
    const direct = directFisherInverse64(G, m, d, B, m, lambda);
    const oracle = initFinv(d, B, lambda);
    ref.fisherInverseUpdate(oracle, G, m, d, B, m);
    assert.ok(blockRelErr(oracle, direct, nb, B) <= 1e-5, `oracle B=${B}`);
    forEachPath((path) => {
      // The m gradients in batches of 3 rows: the same updates in the same order as one call.
      const F = initFinv(d, B, lambda);
      for (let i = 0; i < m; i += 3) {
        const n = Math.min(3, m - i);
        nat.fisherInverseUpdate(F, G.subarray(i * d, (i + n) * d), n, d, B, m);
      }
      const e = blockRelErr(F, direct, nb, B);
      assert.ok(e <= 1e-5, `${path} B=${B} m=${m} scale=${scale}: rel err ${e}`);
    });
  }
});

test('fisherInverseUpdate: 1 and 2 threads give identical bits; a zero gradient is a no-op; argument errors', () => {
  const r = rng(12);
  const d = 4000, B = 32, m = 8, G = randn(m * d, r, 1e-2);
  forEachPath(() => {
    const a = withThreads(1, () => { const F = initFinv(d, B, 1e-6); nat.fisherInverseUpdate(F, G, m, d, B, m); return F; });
    const b = withThreads(2, () => { const F = initFinv(d, B, 1e-6); nat.fisherInverseUpdate(F, G, m, d, B, m); return F; });
    assertBitEqual(a, b, 'threads');
    const F = initFinv(d, B, 1e-6), F0 = F.slice();
    nat.fisherInverseUpdate(F, new Float32Array(d), 1, d, B, m);
    assertBitEqual(F, F0, 'zero gradient');
  });
  assert.throws(() => nat.fisherInverseUpdate(new Float32Array(10), G, 1, d, B, m), /finv/);
  assert.throws(() => nat.fisherInverseUpdate(initFinv(d, B, 1), G, 1, d, B, 0), /'m'/);
});

/** The dense float64 F of block b (lambda I + (1/m) sum g g^T), bs x bs. */
function fisherBlock(G: Float32Array, m: number, d: number, B: number, b: number, lambda: number): Float64Array {
  const off = b * B, bs = Math.min(B, d - off), F = new Float64Array(bs * bs);
  for (let i = 0; i < bs; i++) F[i * bs + i] = lambda;
  for (let i = 0; i < m; i++) {
    for (let x = 0; x < bs; x++) for (let y = 0; y < bs; y++) F[x * bs + y] += G[i * d + off + x] * G[i * d + off + y] / m;
  }
  return F;
}

test('obsUpdate: the constrained optimum of the quadratic 0.5 dw^T F dw (KKT), and the score is its loss increase', () => {
  // OBS: min_dw 0.5 dw^T F dw s.t. (w + dw)_Q = 0 has the closed-form solution dw = -Finv[:,Q] (Finv_QQ)^-1 w_Q,
  // characterised by (a) (w + dw)_Q = 0 and (b) F dw = 0 outside Q (stationarity: F dw = E_Q mu), with loss increase
  // 0.5 w_Q^T (Finv_QQ)^-1 w_Q, the score. One pruned weight (or group) per block, so the sum of single updates is
  // the exact joint optimum. F comes from gradients of scale 0.1 with lambda = 1e-2 (well conditioned), so the
  // float32 Finv and weights carry ~1e-6 relative error: tolerance 1e-4 relative on F dw and on the loss.
  const r = rng(13);
  for (const block4 of [false, true]) {
    const d = 96, B = 16, m = 40, lambda = 1e-2, nb = d / B;
    const G = randn(m * d, r, 0.1), w0 = randn(d, r, 1);
    const finv = initFinv(d, B, lambda);
    nat.fisherInverseUpdate(finv, G, m, d, B, m);
    const scores = new Float32Array(block4 ? d / 4 : d);
    nat.obsScores(finv, w0, null, d, B, block4, scores);
    const P = new Uint8Array(d);
    for (let b = 0; b < nb; b++) {
      const j = b * B + 4 * (b % 4) + (block4 ? 0 : (b % 3));
      for (let t = 0; t < (block4 ? 4 : 1); t++) P[j + t] = 1;
    }
    forEachPath((path) => {
      const w = w0.slice();
      nat.obsUpdate(finv, w, P, d, B, block4);
      const wr = w0.slice();
      ref.obsUpdate(finv, wr, P, d, B, block4);
      assertClose(w, wr, 1e-6, 1e-5, `${path} block4=${block4}: native vs oracle`);
      for (let b = 0; b < nb; b++) {
        const F = fisherBlock(G, m, d, B, b, lambda), off = b * B;
        const dw = Array.from({ length: B }, (_, i) => w[off + i] - w0[off + i]);
        let loss = 0, scale = 0;
        for (let x = 0; x < B; x++) {
          let Fdw = 0;
          for (let y = 0; y < B; y++) Fdw += F[x * B + y] * dw[y];
          loss += 0.5 * dw[x] * Fdw;
          scale = Math.max(scale, Math.abs(F[x * B + x] * dw[x]));
          if (P[off + x]) assert.equal(w[off + x], 0, 'pruned weight is exactly 0');
          else assert.ok(Math.abs(Fdw) <= 1e-4 * scale + 1e-7, `${path} block ${b} row ${x}: F dw = ${Fdw} (KKT)`);
        }
        const q = Array.from(P.subarray(off, off + B)).indexOf(1);
        const s = scores[block4 ? (off + q) / 4 : off + q];
        // The kernel's unstructured score has eps = 2^-23 in the denominator: negligible against 2 Finv_jj here.
        assert.ok(Math.abs(loss - s) <= 1e-4 * s, `${path} block ${b}: loss increase ${loss} vs score ${s}`);
      }
    });
  }
});

test('obsScores: native equals the oracle; masked entries are -Infinity; block4 has one score per 1x4 group', () => {
  const r = rng(14);
  const d = 200, B = 20, m = 30, lambda = 1e-4;
  const G = randn(m * d, r, 1e-2), w = randn(d, r, 0.05);
  const finv = initFinv(d, B, lambda);
  nat.fisherInverseUpdate(finv, G, m, d, B, m);
  const mask = new Uint8Array(d).fill(1);
  for (let j = 0; j < d; j += 12) mask.fill(0, j, j + 4);
  for (const block4 of [false, true]) {
    const n = block4 ? d / 4 : d, a = new Float32Array(n), e = new Float32Array(n);
    nat.obsScores(finv, w, mask, d, B, block4, a);
    ref.obsScores(finv, w, mask, d, B, block4, e);
    // Float64 inside both; the 4x4 solves pivot the same way: 1e-6 relative covers the float32 output rounding.
    for (let j = 0; j < d; j += 12) assert.equal(a[block4 ? j / 4 : j], -Infinity);
    for (let i = 0; i < n; i++) assert.equal(a[i] === -Infinity, e[i] === -Infinity, `block4=${block4}: -Infinity at ${i}`);
    const finite = (x: Float32Array) => x.map((v) => (v === -Infinity ? 0 : v));
    assertClose(finite(a), finite(e), 0, 1e-6, `block4=${block4}`);
    if (block4) {
      // By hand for group 1 (weights 4..7): 0.5 w^T (Finv_QQ)^-1 w.
      const A: number[] = [];
      for (let x = 0; x < 4; x++) for (let y = 0; y < 4; y++) A.push(finv[(4 + x) * B + 4 + y]);
      const wq = Array.from(w.subarray(4, 8)), z = solveDense64(A, 4, wq);
      const s = 0.5 * wq.reduce((acc, v, i) => acc + v * z[i], 0);
      assert.ok(Math.abs(a[1] - s) <= 1e-6 * Math.abs(s));
    }
  }
  assert.throws(() => nat.obsScores(finv, w, null, d, 6, true, new Float32Array(d)), /divisible by 4/);
});

test('selectSmallest: exactly k, ties broken by index, -Infinity first; native equals the sorting oracle', () => {
  const r = rng(15);
  for (const n of [1, 10, 1000, 100_003]) {
    // Scores quantised to 8 levels: many ties; some already pruned (-Infinity).
    const s = new Float32Array(n);
    for (let i = 0; i < n; i++) s[i] = r() < 0.1 ? -Infinity : Math.floor(r() * 8) / 8;
    for (const k of [0, 1, Math.floor(n / 3), n - 1, n].filter((x) => x >= 0 && x <= n)) {
      const a = new Uint8Array(n), e = new Uint8Array(n);
      const ta = nat.selectSmallest(s, n, k, a);
      const te = n <= 1000 ? ref.selectSmallest(s, n, k, e) : NaN;
      let pruned = 0;
      for (let i = 0; i < n; i++) pruned += a[i] ? 0 : 1;
      assert.equal(pruned, k, `n=${n} k=${k}: exact count`);
      if (n <= 1000) { assert.deepEqual(a, e, `n=${n} k=${k}: same mask as the oracle`); assert.equal(ta, te); }
      // Every pruned score <= every kept score; among ties at the threshold the pruned indices come first.
      let maxPruned = -Infinity, minKept = Infinity, lastTiePruned = -1, firstTieKept = n;
      for (let i = 0; i < n; i++) {
        if (!a[i]) maxPruned = Math.max(maxPruned, s[i]); else minKept = Math.min(minKept, s[i]);
        if (s[i] === ta && !a[i]) lastTiePruned = i;
        if (s[i] === ta && a[i] && firstTieKept === n) firstTieKept = i;
      }
      assert.ok(maxPruned <= minKept, `n=${n} k=${k}: order`);
      if (k > 0) assert.ok(lastTiePruned < firstTieKept, `n=${n} k=${k}: ties by index`);
    }
  }
  assert.throws(() => nat.selectSmallest(new Float32Array([1, NaN]), 2, 1, new Uint8Array(2)), /scores\[1\] is NaN/);
  assert.throws(() => nat.selectSmallest(new Float32Array(2), 2, 3, new Uint8Array(2)), /k/);
});
