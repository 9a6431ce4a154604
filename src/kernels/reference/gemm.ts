/**
 * Float64 oracle for the GEMM kernel family (see {@link Kernels.sgemm}, `addBias`, `biasGrad` in ../types.ts):
 * straight loops, every sum accumulated in float64 in index order, each output rounded once to float32.
 * - `sgemm`: `C = alpha * op(A) @ op(B) + beta * C`, row-major with leading dimensions; `beta == 0` never reads C
 *   (NaN/Inf already in C do not propagate), as in BLAS.
 * - `addBias`: `Y[r, c] += bias[c]`.
 * - `biasGrad`: `dBias[c] += sum_r dY[r, c]` (rows summed in increasing order in float64).
 * Written to be obviously correct, not fast; no argument checking beyond what the loops need.
 */
import type { Kernels } from '../types.js';

function sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const a = transA ? A[k * lda + i] : A[i * lda + k];
        const b = transB ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
      }
      const c = i * ldc + j;
      C[c] = beta === 0 ? alpha * s : alpha * s + beta * C[c];
    }
  }
}

function addBias(Y: Float32Array, bias: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) Y[r * cols + c] += bias[c];
}

function biasGrad(dY: Float32Array, rows: number, cols: number, dBias: Float32Array): void {
  for (let c = 0; c < cols; c++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += dY[r * cols + c];
    dBias[c] += s;
  }
}

export const gemmReference: Pick<Kernels, 'sgemm' | 'addBias' | 'biasGrad'> = { sgemm, addBias, biasGrad };
