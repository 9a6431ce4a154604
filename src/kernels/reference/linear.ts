/**
 * Float64 oracles of the inference linears (src/kernels/linear_backends.ts, native/kernels/gemm/linear_packed.cc,
 * native/kernels/sparse/, native/kernels/quant/): `Y[rows, out] = X[rows, in] W^T + b`, every sum in float64 in
 * storage order, each output rounded once to float32. Written to be obviously correct, not fast.
 *
 * The int8 oracle reproduces the quantization exactly as the kernels define it (native/kernels/sparse/
 * sparse_linear.h), in float32 arithmetic (`Math.fround` after each operation: a float32 product or quotient of
 * float32 operands computed in float64 and rounded once is the correctly rounded float32 result), so its integer
 * sums are the kernels' integer sums; only the dequantization `sum * sx * sw + b` is done in float64.
 */

/** Dense oracle: W row-major [out, in], b [out] or null. */
export function linearReference(X: Float32Array, rows: number, W: Float32Array, b: Float32Array | null, out: number,
  inFeatures: number): Float32Array {
  const Y = new Float32Array(rows * out);
  for (let t = 0; t < rows; t++) {
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let k = 0; k < inFeatures; k++) s += X[t * inFeatures + k] * W[o * inFeatures + k];
      Y[t * out + o] = s + (b ? b[o] : 0);
    }
  }
  return Y;
}

/**
 * Row-stored weights as the kernels read them. `per` values per entry: 1 (CSR: idx = column) or 4 (BSR 1x4: idx =
 * block column g, the entry holds columns 4g .. 4g+3).
 */
export interface RowStored {
  rowPtr: Int32Array;
  idx: Int32Array;
  vals: ArrayLike<number>;
  per: 1 | 4;
}

/** Sparse fp32 oracle (CSR or BSR4), entries summed in storage order in float64. */
export function sparseLinearReference(X: Float32Array, rows: number, W: RowStored, b: Float32Array | null,
  out: number, inFeatures: number): Float32Array {
  const Y = new Float32Array(rows * out);
  for (let t = 0; t < rows; t++) {
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let p = W.rowPtr[o]; p < W.rowPtr[o + 1]; p++) {
        for (let q = 0; q < W.per; q++) {
          const k = W.idx[p] * W.per + q;
          if (k < inFeatures) s += W.vals[p * W.per + q] * X[t * inFeatures + k];
        }
      }
      Y[t * out + o] = s + (b ? b[o] : 0);
    }
  }
  return Y;
}

/** Round half to even (the kernels' `nearbyint` in the default rounding mode). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Per-row symmetric int8 quantization as the kernels do it for activations (and linear_backends for weights):
 * scale = max|x| / 127, q = round_half_even(x * (127 / max|x|)) clamped to [-127, 127], all in float32;
 * a zero row gets scale 0 and q = 0.
 */
export function quantizeRowsReference(A: Float32Array, rows: number, cols: number): { q: Int8Array; scale: Float32Array } {
  const q = new Int8Array(rows * cols), scale = new Float32Array(rows);
  const f = Math.fround;
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let k = 0; k < cols; k++) m = Math.max(m, Math.abs(A[r * cols + k]));
    scale[r] = f(m / 127);
    const inv = m > 0 ? f(127 / m) : 0;
    for (let k = 0; k < cols; k++) {
      const v = roundHalfEven(f(A[r * cols + k] * inv));
      q[r * cols + k] = Math.max(-127, Math.min(127, v));
    }
  }
  return { q, scale };
}

/**
 * Int8 oracle: X quantized per row (quantizeRowsReference), weights given as int8 entries with per-output-row
 * scales (`W.vals` int8; dense weights as a BSR with every block present work too), exact integer sums, then
 * `Y = sum * sx[t] * wscale[o] + b[o]` in float64, rounded once. Also returns the integer sums (tests).
 */
export function q8LinearReference(X: Float32Array, rows: number, W: RowStored, wscale: Float32Array,
  b: Float32Array | null, out: number, inFeatures: number): { Y: Float32Array; sums: Float64Array } {
  const { q, scale } = quantizeRowsReference(X, rows, inFeatures);
  const Y = new Float32Array(rows * out), sums = new Float64Array(rows * out);
  for (let t = 0; t < rows; t++) {
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let p = W.rowPtr[o]; p < W.rowPtr[o + 1]; p++) {
        for (let e = 0; e < W.per; e++) {
          const k = W.idx[p] * W.per + e;
          if (k < inFeatures) s += W.vals[p * W.per + e] * q[t * inFeatures + k];
        }
      }
      sums[t * out + o] = s;
      Y[t * out + o] = s * scale[t] * wscale[o] + (b ? b[o] : 0);
    }
  }
  return { Y, sums };
}
