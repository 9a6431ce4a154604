/**
 * Sparse fp32 (CSR, 1x4 BSR) and INT8 (dense, 1x4 BSR) inference linears against their float64 oracles
 * (src/kernels/reference/linear.ts), on both kernel paths, bit-identical between 1 and 2 threads (the chunking of
 * the output rows differs: 1 chunk vs 8), on random and odd shapes: one token, K not a multiple of 4 or 8, rows
 * without any non-zero, rows holding all the non-zeros, several token tiles (32 tokens each).
 *
 * Tolerances (per element, derived, not fitted):
 * - fp32 sparse: a float32 sum of n stored products (n = 4 per BSR block), split in two partial sums, plus the
 *   bias: |Y - oracle| <= gamma_{n+3} * (sum |w x| + |b|), gamma_m ~ m * 2^-24 (recursive summation); the
 *   oracle sums the same products in float64. A wrong or missing product (|w x| ~ 0.1 .. 1 here) is far outside.
 * - int8: the integer sums are exact and equal the oracle's (same quantization, reproduced in float32); the
 *   dequantization float(sum) * (sx * sw) + b has at most 4 roundings: |Y - oracle| <= 4 * 2^-24 * (|sum sx sw| +
 *   |b|) + 2^-24 |oracle|. One quantized value off by one moves Y by sx * sw * |q| ~ 1e-3 .. 1e-1, far outside.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/kernels/native.js';
import { chooseBackend, fromInt8, packDense, quantizeInt8, toBsr4, toCsr, type LinearForwardBackend,
  SPARSE_CROSSOVER } from '../../src/kernels/linear_backends.js';
import { blockSparsity4, sparsity, toBsr4Arrays, toCsrArrays } from '../../src/kernels/sparse_formats.js';
import { quantizeRowsInt8 } from '../../src/kernels/quantize.js';
import { q8LinearReference, quantizeRowsReference, sparseLinearReference, type RowStored }
  from '../../src/kernels/reference/linear.js';
import { assertBitEqual, forEachPath, randn, rng, withThreads } from '../helpers.js';

const U = 2 ** -24;

interface Shape { rows: number; out: number; inF: number; blockS: number; elemS: number; emptyRows?: boolean; skew?: boolean; }

/** One token, K = 1, 3, 5, 67, 1030 (not multiples of 4 or 8), empty rows, skewed rows, several tiles, K-blocking. */
const SHAPES: Shape[] = [
  { rows: 1, out: 3, inF: 5, blockS: 0.3, elemS: 0.3 },
  { rows: 1, out: 40, inF: 1, blockS: 0.5, elemS: 0.5 },
  { rows: 5, out: 17, inF: 3, blockS: 0.4, elemS: 0.4 },
  { rows: 37, out: 50, inF: 67, blockS: 0.8, elemS: 0.9, emptyRows: true },
  { rows: 70, out: 64, inF: 130, blockS: 0.9, elemS: 0.95 },
  { rows: 33, out: 45, inF: 96, blockS: 0, elemS: 0 },
  { rows: 100, out: 90, inF: 72, blockS: 0.5, elemS: 0.5, skew: true },
  { rows: 3, out: 8, inF: 16, blockS: 1, elemS: 1 },
  // K-blocked on AVX2 (v2, v3: more block columns / columns than one K-chunk: 258 > 32, 1030 > 128), several
  // K-chunks per row, rows starting a chunk on an odd entry; 300 x 1030 at 50% holds ~780 KB of BSR4 weights, so v3
  // cuts it into >= 4 chunks of rows even on 1 thread.
  { rows: 40, out: 300, inF: 1030, blockS: 0.5, elemS: 0.5 },
  { rows: 33, out: 70, inF: 770, blockS: 0.85, elemS: 0.9, emptyRows: true },
];

/** Random W with the given block (aligned 1x4) and element sparsity; optionally every 3rd row empty, or all
 * non-zeros in the first few rows (the nnz-balanced chunking then differs a lot from a by-row split). */
function makeW(s: Shape, r: () => number): Float32Array {
  const { out, inF } = s;
  const W = randn(out * inF, r);
  for (let o = 0; o < out; o++) {
    for (let g = 0; g < Math.ceil(inF / 4); g++) {
      if (r() < s.blockS) for (let k = 4 * g; k < Math.min(4 * g + 4, inF); k++) W[o * inF + k] = 0;
    }
    for (let k = 0; k < inF; k++) if (r() < s.elemS - s.blockS) W[o * inF + k] = 0;
    if ((s.emptyRows && o % 3 === 1) || (s.skew && o >= 4)) W.fill(0, o * inF, (o + 1) * inF);
  }
  return W;
}

function sum(a: number[]): number { return a.reduce((x, y) => x + y, 0); }

/** Runs `make()`'s backend on X on both paths with 1 and 2 threads; returns results keyed by path, asserting the
 * two thread counts agree bit for bit. */
function runAll(be: LinearForwardBackend, X: Float32Array, rows: number, label: string): Map<string, Float32Array> {
  const res = new Map<string, Float32Array>();
  for (const threads of [1, 2]) {
    withThreads(threads, () => forEachPath((path) => {
      const Y = new Float32Array(rows * be.outFeatures).fill(NaN);
      be.forward(X, rows, Y);
      const prev = res.get(path);
      if (prev) assertBitEqual(Y, prev, `${label} ${be.kind} ${path}: 1 vs 2 threads`);
      else res.set(path, Y);
    }));
  }
  return res;
}

test('sparse fp32 (CSR, BSR4): vs float64 oracle on odd shapes, both paths, 1 and 2 threads bit-identical', () => {
  const r = rng(21);
  for (const s of SHAPES) {
    const { rows, out, inF } = s;
    const W = makeW(s, r), b = randn(out, r), X = randn(rows * inF, r);
    const label = `rows=${rows} out=${out} in=${inF}`;
    const csr = toCsrArrays(W, out, inF), bsr = toBsr4Arrays(W, out, inF);
    const stores: Array<[LinearForwardBackend, RowStored]> = [
      [toCsr(W, b, out, inF), { ...csr, per: 1 }],
      [toBsr4(W, b, out, inF), { ...bsr, per: 4 }],
    ];
    for (const [be, st] of stores) {
      const ref = sparseLinearReference(X, rows, st, b, out, inF);
      for (const [path, Y] of runAll(be, X, rows, label)) {
        for (let t = 0; t < rows; t++) {
          for (let o = 0; o < out; o++) {
            const terms: number[] = [Math.abs(b[o])];
            for (let p = st.rowPtr[o]; p < st.rowPtr[o + 1]; p++) {
              for (let q = 0; q < st.per; q++) {
                const k = st.idx[p] * st.per + q;
                if (k < inF) terms.push(Math.abs(st.vals[p * st.per + q] * X[t * inF + k]));
              }
            }
            const n = (st.rowPtr[o + 1] - st.rowPtr[o]) * st.per;
            const d = Math.abs(Y[t * out + o] - ref[t * out + o]);
            assert.ok(d <= (n + 3) * U * sum(terms), `${be.kind} ${path} ${label}: Y[${t},${o}] = ${Y[t * out + o]}, ` +
              `oracle ${ref[t * out + o]}`);
          }
        }
      }
    }
  }
});

test('sparse fp32: a row with no non-zero gives exactly the bias; no bias gives exactly 0', () => {
  const r = rng(22);
  const s: Shape = { rows: 40, out: 12, inF: 20, blockS: 0.5, elemS: 0.5, emptyRows: true };
  const W = makeW(s, r), b = randn(12, r), X = randn(40 * 20, r);
  for (const make of [toCsr, toBsr4]) {
    for (const bias of [b, null]) {
      const be = make(W, bias, 12, 20);
      forEachPath((path) => {
        const Y = new Float32Array(40 * 12).fill(NaN);
        be.forward(X, 40, Y);
        for (let t = 0; t < 40; t++) {
          for (let o = 1; o < 12; o += 3) assert.ok(Object.is(Y[t * 12 + o], bias ? bias[o] : 0), `${be.kind} ${path}`);
        }
      });
    }
  }
});

test('sparse fp32 equals the dense-with-zeros result within fp32 tolerance (BSR4, CSR vs packDense)', () => {
  const r = rng(23);
  const s: Shape = { rows: 64, out: 96, inF: 160, blockS: 0.9, elemS: 0.9 };
  const W = makeW(s, r), b = randn(96, r), X = randn(64 * 160, r);
  const dense = new Float32Array(64 * 96);
  packDense(W, b, 96, 160).forward(X, 64, dense);
  for (const be of [toCsr(W, b, 96, 160), toBsr4(W, b, 96, 160)]) {
    const Y = new Float32Array(64 * 96);
    be.forward(X, 64, Y);
    for (let i = 0; i < Y.length; i++) {
      const t = Math.floor(i / 96), o = i % 96;
      let m = Math.abs(b[o]);
      for (let k = 0; k < 160; k++) m += Math.abs(W[o * 160 + k] * X[t * 160 + k]);
      assert.ok(Math.abs(Y[i] - dense[i]) <= 2 * 163 * U * m, `${be.kind} vs dense at ${i}`);
    }
  }
});

test('numbered versions: V1 - V4 bit-identical to the winner for every kind (same arithmetic: fp32 K-blocking keeps each row\'s order; int8 sums are exact), both paths', () => {
  const r = rng(24);
  const a = native();
  for (const s of SHAPES) {
    const { rows, out, inF } = s;
    const W = makeW(s, r), b = randn(out, r), X = randn(rows * inF, r);
    const csr = toCsrArrays(W, out, inF), bsr = toBsr4Arrays(W, out, inF);
    const q8 = quantizeInt8(W, b, out, inF), q8b = quantizeInt8(W, b, out, inF, { sparse: 'bsr4' });
    const calls: Array<[string, (f: typeof a.sparseLinearForward, Y: Float32Array) => void]> = [
      ['csr', (f, Y) => f('csr', out, inF, csr.rowPtr, csr.idx, csr.vals, null, b, X, rows, Y)],
      ['bsr4', (f, Y) => f('bsr4', out, inF, bsr.rowPtr, bsr.idx, bsr.vals, null, b, X, rows, Y)],
    ];
    for (const be of [q8, q8b]) {
      const st = be as unknown as { rowPtr: Int32Array | null; idx: Int32Array | null; vals: Int8Array };
      const bytes = new Uint8Array(st.vals.buffer, st.vals.byteOffset, st.vals.length);
      calls.push([be.kind, (f, Y) => f(be.kind, out, inF, st.rowPtr, st.idx, bytes, be.scale, b, X, rows, Y)]);
    }
    forEachPath((path) => {
      for (const [kind, call] of calls) {
        const Y = new Float32Array(rows * out), Y1 = new Float32Array(rows * out), Y2 = new Float32Array(rows * out);
        const Y3 = new Float32Array(rows * out), Y4 = new Float32Array(rows * out);
        call(a.sparseLinearForward, Y);
        call(a.sparseLinearForwardV1, Y1);
        call(a.sparseLinearForwardV2, Y2);
        call(a.sparseLinearForwardV3, Y3);
        call(a.sparseLinearForwardV4, Y4);
        assertBitEqual(Y1, Y, `${kind} ${path} rows=${rows} out=${out} in=${inF}: V1 vs winner`);
        assertBitEqual(Y2, Y, `${kind} ${path} rows=${rows} out=${out} in=${inF}: V2 vs winner`);
        assertBitEqual(Y3, Y, `${kind} ${path} rows=${rows} out=${out} in=${inF}: V3 vs winner`);
        assertBitEqual(Y4, Y, `${kind} ${path} rows=${rows} out=${out} in=${inF}: V4 vs winner`);
      }
    });
  }
});

test('sparseLinearForward: malformed structures are RangeErrors naming the argument', () => {
  const X = new Float32Array(8), Y = new Float32Array(2), v = new Float32Array(8);
  const f = native().sparseLinearForward;
  assert.throws(() => f('csr', 2, 4, Int32Array.of(0, 1, 2), Int32Array.of(0, 4), v, null, null, X, 2, Y), /outside \[0, 4\)/);
  assert.throws(() => f('csr', 2, 4, Int32Array.of(0, 2, 1), Int32Array.of(0, 1), v, null, null, X, 2, Y), /non-decreasing/);
  assert.throws(() => f('bsr4', 2, 5, Int32Array.of(0, 1, 2), Int32Array.of(0, 2), v, null, null, X, 1, Y), /outside \[0, 2\)/);
  assert.throws(() => f('csr', 2, 4, Int32Array.of(1, 1, 2), Int32Array.of(0, 1), v, null, null, X, 2, Y), /rowptr\[0\]/);
  assert.throws(() => f('csr', 2, 4, Int32Array.of(0, 1, 9), Int32Array.of(0, 1), v, null, null, X, 2, Y), /'idx'/);
  assert.throws(() => f('bsr4', 2, 4, Int32Array.of(0, 1, 2), Int32Array.of(0, 0), v, null, null, X, 3, Y), /'X'/);
  assert.throws(() => f('csr5' as 'csr', 2, 4, null, null, v, null, null, X, 1, Y), /'kind'/);
});

/** A dense int8 weight as a RowStored with every column present (for the int8 oracle). */
function denseRows(q: Int8Array, out: number, inF: number): RowStored {
  return {
    rowPtr: Int32Array.from({ length: out + 1 }, (_, o) => o * inF),
    idx: Int32Array.from({ length: out * inF }, (_, i) => i % inF), vals: q, per: 1,
  };
}

function checkQ8(Y: Float32Array, ref: { Y: Float32Array; sums: Float64Array }, X: Float32Array, rows: number,
  wscale: Float32Array, b: Float32Array | null, out: number, inF: number, label: string): void {
  const sx = quantizeRowsReference(X, rows, inF).scale;
  for (let t = 0; t < rows; t++) {
    for (let o = 0; o < out; o++) {
      const i = t * out + o;
      const p = Math.abs(ref.sums[i] * sx[t] * wscale[o]), bb = b ? Math.abs(b[o]) : 0;
      const tol = 4 * U * (p + bb) + U * Math.abs(ref.Y[i]);
      assert.ok(Math.abs(Y[i] - ref.Y[i]) <= tol, `${label}: Y[${t},${o}] = ${Y[i]}, oracle ${ref.Y[i]}`);
    }
  }
}

test('int8 (dense, BSR4): vs the int8 oracle on odd shapes, both paths, 1 and 2 threads bit-identical', () => {
  const r = rng(31);
  for (const s of SHAPES) {
    const { rows, out, inF } = s;
    const W = makeW(s, r), b = randn(out, r), X = randn(rows * inF, r);
    if (rows > 2) X.fill(0, inF, 2 * inF);  // an all-zero token: scale 0, Y = b
    for (const sparse of [undefined, 'bsr4'] as const) {
      const be = quantizeInt8(W, b, out, inF, { sparse });
      assert.equal(be.kind, sparse ? 'q8-bsr4' : 'q8-dense');
      const ref = q8LinearReference(X, rows, denseRows(be.int8Weight(), out, inF), be.scale, b, out, inF);
      for (const [path, Y] of runAll(be, X, rows, `rows=${rows} out=${out} in=${inF}`)) {
        checkQ8(Y, ref, X, rows, be.scale, b, out, inF, `${be.kind} ${path} rows=${rows} out=${out} in=${inF}`);
        if (rows > 2) for (let o = 0; o < out; o++) assert.ok(Object.is(Y[out + o], b[o]), `${be.kind} zero token`);
      }
    }
  }
});

test('int8: saturation worst case (every |x| and |w| quantized to 127, all pair sums at +-2*127*127)', () => {
  // X rows: all +a, all -a, alternating, and a pattern; W rows likewise. Every quantized value is +-127, so every
  // vpmaddubsw pair is +-32258 (just under the int16 limit 32767 thanks to the sign trick: |x| <= 127 as unsigned).
  // The sums are exact integers K * 127^2 * (+-1 pattern), compared with the oracle's exact sums via the bound.
  const inF = 3072 + 5, out = 6, rows = 5;
  const pat = (i: number, k: number): number => [1, -1, k % 2 ? 1 : -1, (k >> 1) % 2 ? -1 : 1, k % 3 ? 1 : -1, -1][i];
  const X = new Float32Array(rows * inF), W = new Float32Array(out * inF);
  for (let t = 0; t < rows; t++) for (let k = 0; k < inF; k++) X[t * inF + k] = 0.75 * pat(t, k);
  for (let o = 0; o < out; o++) for (let k = 0; k < inF; k++) W[o * inF + k] = 2.5 * pat(o, k);
  for (const sparse of [undefined, 'bsr4'] as const) {
    const be = quantizeInt8(W, null, out, inF, { sparse });
    assert.ok(be.int8Weight().every((q) => Math.abs(q) === 127));
    const ref = q8LinearReference(X, rows, denseRows(be.int8Weight(), out, inF), be.scale, null, out, inF);
    assert.equal(ref.sums[0], inF * 127 * 127);   // x all +, w all +: the largest sum
    assert.equal(ref.sums[out + 0], -inF * 127 * 127);
    const st = be as unknown as { rowPtr: Int32Array | null; idx: Int32Array | null; vals: Int8Array };
    const bytes = new Uint8Array(st.vals.buffer, st.vals.byteOffset, st.vals.length);
    forEachPath((path) => {  // v1: the vpmaddubsw sign trick on AVX2 (the winner may take the VNNI kernel instead)
      const Y = new Float32Array(rows * out);
      native().sparseLinearForwardV1(be.kind, out, inF, st.rowPtr, st.idx, bytes, be.scale, null, X, rows, Y);
      checkQ8(Y, ref, X, rows, be.scale, null, out, inF, `${be.kind} V1 ${path} saturation`);
      // v2 and v3 (VNNI when present: q + 128 up to 255, int32 sums wrapping modulo 2^32 before the correction)
      const Y2 = new Float32Array(rows * out), Y3 = new Float32Array(rows * out);
      native().sparseLinearForwardV2(be.kind, out, inF, st.rowPtr, st.idx, bytes, be.scale, null, X, rows, Y2);
      native().q8LinearForwardV3(be.kind, out, inF, st.rowPtr, st.idx, bytes, be.scale, null, X, rows, Y3, null);
      assertBitEqual(Y2, Y, `${be.kind} V2 vs V1 ${path} saturation`);
      assertBitEqual(Y3, Y, `${be.kind} V3 vs V1 ${path} saturation`);
    });
    for (const [path, Y] of runAll(be, X, rows, 'saturation')) {
      checkQ8(Y, ref, X, rows, be.scale, null, out, inF, `${be.kind} ${path} saturation`);
      // and the value itself: 0.75 * 2.5 * K for (t, o) = (0, 0)
      assert.ok(Math.abs(Y[0] - 0.75 * 2.5 * inF) <= 1e-6 * 0.75 * 2.5 * inF, `${be.kind} ${path}: Y[0,0] = ${Y[0]}`);
    }
  }
});

test('int8 v3 (q8LinearForwardV3): bit-identical to v1 and v2 and within the oracle bound, dense and BSR4, both paths, 1 and 2 threads', () => {
  // Shapes for v3's blocking: dense rows go 8, then 4, then 1 at a time (out = 29 = 3 * 8 + 4 + 1 per chunk with one
  // thread; the 2-thread chunking cuts elsewhere), the weight-sum correction reads 64 bytes at a time with a masked
  // tail (in_pad = 64, 68, 1036), a BSR4 row's blocks go 2 at a time with a remainder (odd and even counts), and a
  // tile larger than L1 (in > 1024). Every sum is an exact integer, so any order gives the same Y bits.
  const r = rng(47);
  const a = native();
  const shapes: Shape[] = [...SHAPES,
    { rows: 45, out: 29, inF: 64, blockS: 0.3, elemS: 0.3 },
    { rows: 33, out: 29, inF: 67, blockS: 0.5, elemS: 0.5, emptyRows: true },
    { rows: 64, out: 37, inF: 1033, blockS: 0.9, elemS: 0.9 },
    { rows: 2, out: 16, inF: 1036, blockS: 0, elemS: 0 },
  ];
  for (const s of shapes) {
    const { rows, out, inF } = s;
    const W = makeW(s, r), b = randn(out, r), X = randn(rows * inF, r);
    for (const sparse of [undefined, 'bsr4'] as const) {
      const be = quantizeInt8(W, b, out, inF, { sparse });
      const st = be as unknown as { rowPtr: Int32Array | null; idx: Int32Array | null; vals: Int8Array; rowCorr: Int32Array };
      const bytes = new Uint8Array(st.vals.buffer, st.vals.byteOffset, st.vals.length);
      const label = `${be.kind} rows=${rows} out=${out} in=${inF}`;
      // Int8Linear's per-row corrections: 128 * (row sum of q) from the oracle's int8 weights
      for (let o = 0; o < out; o++) {
        let sq = 0;
        for (let k = 0; k < inF; k++) sq += be.int8Weight()[o * inF + k];
        assert.equal(st.rowCorr[o], 128 * sq, `${label}: rowCorr[${o}]`);
      }
      const ref = q8LinearReference(X, rows, denseRows(be.int8Weight(), out, inF), be.scale, b, out, inF);
      for (const threads of [1, 2]) {
        withThreads(threads, () => forEachPath((path) => {
          const Y: Float32Array[] = [];
          for (const f of [a.sparseLinearForwardV1, a.sparseLinearForwardV2]) {
            const y = new Float32Array(rows * out).fill(NaN);
            f(be.kind, out, inF, st.rowPtr, st.idx, bytes, be.scale, b, X, rows, y);
            Y.push(y);
          }
          for (const rc of [null, st.rowCorr]) {  // corrections computed in the kernel, and given
            const y = new Float32Array(rows * out).fill(NaN);
            a.q8LinearForwardV3(be.kind, out, inF, st.rowPtr, st.idx, bytes, be.scale, b, X, rows, y, rc);
            Y.push(y);
          }
          assertBitEqual(Y[2], Y[0], `${label} ${path} ${threads}T: V3 vs V1`);
          assertBitEqual(Y[2], Y[1], `${label} ${path} ${threads}T: V3 vs V2`);
          assertBitEqual(Y[3], Y[2], `${label} ${path} ${threads}T: V3 with rowCorr vs without`);
          checkQ8(Y[2], ref, X, rows, be.scale, b, out, inF, `${label} ${path} ${threads}T V3`);
          const yw = new Float32Array(rows * out);
          be.forward(X, rows, yw);  // the winner
          assertBitEqual(yw, Y[2], `${label} ${path} ${threads}T: winner vs V3`);
        }));
      }
    }
  }
  const X = new Float32Array(8), Y = new Float32Array(2), v = new Uint8Array(8), s2 = Float32Array.of(1, 1);
  const f = (kind: string, out: number, inF: number, rp: Int32Array | null, ix: Int32Array | null, ws: Float32Array,
    rc: Int32Array | null = null) => a.q8LinearForwardV3(kind as 'q8-dense', out, inF, rp, ix, v, ws, null, X, 1, Y, rc);
  assert.throws(() => f('bsr4', 2, 4, null, null, s2), /'kind'/);
  assert.throws(() => f('q8-bsr4', 2, 5, Int32Array.of(0, 1, 2), Int32Array.of(0, 2), s2), /outside \[0, 2\)/);
  assert.throws(() => f('q8-bsr4', 2, 4, Int32Array.of(0, 2, 1), Int32Array.of(0, 0), s2), /non-decreasing/);
  assert.throws(() => f('q8-dense', 2, 4, null, null, Float32Array.of(1)), /'wscale'/);
  assert.throws(() => f('q8-dense', 2, 8, null, null, s2), /'vals'/);
  assert.throws(() => f('q8-dense', 2, 4, null, null, s2, Int32Array.of(0)), /'rowCorr'/);
});

test('int8 weights: quantizeRowsInt8 equals the oracle quantizer; ties round half to even; fromInt8 round-trips', () => {
  const r = rng(41);
  const out = 7, inF = 29;
  const W = randn(out * inF, r);
  // row 0: max |w| = 127, so scale 1 and q = round_half_even(w) exactly; row 1 all zero
  W[0] = 127; W[1] = 0.5; W[2] = 1.5; W[3] = -2.5; W[4] = 2.5; W[5] = -0.5; W.fill(0, inF, 2 * inF);
  const a = quantizeRowsInt8(W, out, inF), ref = quantizeRowsReference(W, out, inF);
  assert.deepEqual(Array.from(a.q.subarray(0, 6)), [127, 0, 2, -2, 2, 0]);
  assert.deepEqual(Array.from(a.q), Array.from(ref.q));
  assertBitEqual(a.scale, ref.scale, 'scales');
  assert.equal(a.scale[1], 0);
  const b = randn(out, r), X = randn(9 * inF, r);
  for (const sparse of [undefined, 'bsr4'] as const) {
    const be = quantizeInt8(W, b, out, inF, { sparse });
    const back = fromInt8(be.int8Weight().slice(), be.scale.slice(), b, out, inF, { sparse });
    const Y1 = new Float32Array(9 * out), Y2 = new Float32Array(9 * out);
    be.forward(X, 9, Y1);
    back.forward(X, 9, Y2);
    assertBitEqual(Y1, Y2, `fromInt8 ${sparse ?? 'dense'}`);
  }
  assert.throws(() => fromInt8(Int8Array.of(-128, 0), Float32Array.of(1), null, 1, 2), /-128/);
});

test('chooseBackend: dense, BSR4, CSR and int8 by the weight\'s own sparsity against SPARSE_CROSSOVER', () => {
  const r = rng(51);
  const out = 32, inF = 64;
  const dense = randn(out * inF, r);
  const blocky = makeW({ rows: 1, out, inF, blockS: 0.95, elemS: 0.95 }, r);
  const scattered = makeW({ rows: 1, out, inF, blockS: 0, elemS: 0.96 }, r);
  assert.ok(blockSparsity4(blocky, out, inF) >= SPARSE_CROSSOVER.bsr4);
  assert.ok(sparsity(scattered) >= SPARSE_CROSSOVER.csr);
  assert.equal(chooseBackend(dense, null, out, inF, { dtype: 'fp32' }).kind, 'dense-packed');
  assert.equal(chooseBackend(blocky, null, out, inF, { dtype: 'fp32' }).kind, 'bsr4');
  assert.equal(chooseBackend(scattered, null, out, inF, { dtype: 'fp32' }).kind, 'csr');
  assert.equal(chooseBackend(dense, null, out, inF, { dtype: 'q8' }).kind, 'q8-dense');
  assert.equal(chooseBackend(blocky, null, out, inF, { dtype: 'q8' }).kind, 'q8-bsr4');
  assert.throws(() => chooseBackend(dense, null, out, inF, { dtype: 'fp16' as 'fp32' }), /dtype 'fp16'/);
});
