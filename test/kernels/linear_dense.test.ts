/**
 * Pre-packed dense inference linear (native/kernels/gemm/sgemm_prepacked.h, `packDense`): W packed once into the
 * SGEMM v2 B panels; the result must be BIT-IDENTICAL to `sgemm(false, true, ...)` followed by `addBias` (same
 * micro-kernel, same K blocks in the same order, bias added once per element after the last K block), on both
 * kernel paths, for both numbered versions, with 1 and 2 threads. It is also checked against the float64 oracle
 * with the recursive-summation bound gamma_{K+2} * (sum_k |x w| + |b|) (see gemm.test.ts), so a bug shared with
 * sgemm would not pass either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/kernels/native.js';
import { packDense } from '../../src/kernels/linear_backends.js';
import { linearReference } from '../../src/kernels/reference/linear.js';
import { assertBitEqual, forEachPath, randn, rng, withThreads } from '../helpers.js';

const U = 2 ** -24;

/** (rows, out, in): one token, K not a multiple of 4/8/16, several K blocks (KC = 256), N panels and M blocks. */
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1], [1, 5, 3], [7, 33, 300], [2, 17, 9], [128, 40, 70], [200, 100, 513], [13, 70, 257], [150, 31, 600],
  [1200, 24, 520],  // several M blocks per thread
];

function aligned(n: number): Float32Array {
  const buf = new Float32Array(n + 16);
  const off = native().alignOffset64(buf);
  return buf.subarray(off, off + n);
}

test('linearPacked: bit-identical to sgemm + addBias, every version, both paths, 1 and 2 threads; within the oracle bound', () => {
  const r = rng(11);
  const results = new Map<string, Float32Array>();
  for (const [si, [rows, out, inF]] of SHAPES.entries()) {
    const X = randn(rows * inF, r), W = randn(out * inF, r), b = randn(out, r);
    const ref = linearReference(X, rows, W, b, out, inF);
    for (const threads of [1, 2]) {
      withThreads(threads, () => forEachPath((path) => {
        const want = new Float32Array(rows * out);
        native().sgemm(false, true, rows, out, inF, 1, X, inF, W, inF, 0, want, out);
        native().addBias(want, b, rows, out);
        const P = aligned(native().linearPackedSize(out, inF));
        assert.equal(native().linearPack(W, out, inF, P), path);
        for (const v of ['linearPackedForwardV1', 'linearPackedForwardV2', 'linearPackedForward'] as const) {
          const Y = new Float32Array(rows * out).fill(NaN);
          native()[v](P, path, out, inF, b, X, rows, Y);
          const where = `${v} ${path} ${threads}t rows=${rows} out=${out} in=${inF}`;
          assertBitEqual(Y, want, where);
          results.set(`${si} ${v} ${path} ${threads}`, Y);
          for (let t = 0; t < rows; t++) {
            for (let o = 0; o < out; o++) {
              let s = Math.abs(b[o]);
              for (let k = 0; k < inF; k++) s += Math.abs(X[t * inF + k] * W[o * inF + k]);
              const d = Math.abs(Y[t * out + o] - ref[t * out + o]);
              assert.ok(d <= (inF + 2) * U * s, `${where}: Y[${t},${o}] off the oracle by ${d}`);
            }
          }
        }
      }));
    }
  }
  for (const [k, Y] of results) if (k.endsWith(' 2')) assertBitEqual(Y, results.get(k.slice(0, -1) + '1')!, `${k}: 1 vs 2 threads`);
});

test('linearPacked: no bias, zero rows, and the backend class (repacks when the kernel path changes)', () => {
  const r = rng(12);
  const rows = 9, out = 21, inF = 35;
  const X = randn(rows * inF, r), W = randn(out * inF, r);
  const be = packDense(W, null, out, inF);
  assert.equal(be.kind, 'dense-packed');
  forEachPath((path) => {
    const want = new Float32Array(rows * out);
    native().sgemm(false, true, rows, out, inF, 1, X, inF, W, inF, 0, want, out);
    const Y = new Float32Array(rows * out);
    be.forward(X, rows, Y);
    assertBitEqual(Y, want, `packDense no bias ${path}`);
    const Y0 = new Float32Array(0);
    be.forward(X, 0, Y0);
  });
});

test('linearPacked: argument errors name the argument', () => {
  const W = new Float32Array(12), P = aligned(native().linearPackedSize(3, 4));
  native().linearPack(W, 3, 4, P);
  const path = native().kernelPath();
  const other = path === 'avx2' ? 'portable' : 'avx2';
  assert.throws(() => native().linearPackedForward(P, other, 3, 4, null, new Float32Array(4), 1, new Float32Array(3)),
    /packed for the '.*' kernel path/);
  assert.throws(() => native().linearPackedForward(P, path, 3, 4, null, new Float32Array(3), 1, new Float32Array(3)),
    /'X'/);
  const unaligned = new Float32Array(P.buffer, P.byteOffset + 4, P.length);  // aligned() leaves room after P
  assert.throws(() => native().linearPack(W, 3, 4, unaligned), /64-byte boundary/);
  assert.throws(() => packDense(W, null, 4, 4), /W has 12 elements/);
  assert.throws(() => packDense(W, new Float32Array(2), 3, 4), /b has 2 elements/);
  const be = packDense(W, null, 3, 4);
  assert.throws(() => be.forward(new Float32Array(4), 2, new Float32Array(6)), /X has 4 elements/);
});
