/**
 * Linear layer `Y = X W^T + b` (PyTorch `nn.Linear`: W is `[out, in]`), forward and backward on the SGEMM kernel.
 */
import type { Kernels } from '../../kernels/types.js';

/** `Y[rows, out] = X[rows, in] @ W[out, in]^T (+ b[out])`. */
export function linearForward(k: Kernels, X: Float32Array, rows: number, inF: number, W: Float32Array,
  b: Float32Array | null, outF: number, Y: Float32Array): void {
  k.sgemm(false, true, rows, outF, inF, 1, X, inF, W, inF, 0, Y, outF);
  if (b) k.addBias(Y, b, rows, outF);
}

/**
 * Backward of {@link linearForward}: `dW += dY^T X`, `dB += colsum(dY)`, and `dX = dY W` (or `dX += dY W` when
 * `accumulateDX`). Any of dW/dB/dX may be null to skip it.
 */
export function linearBackward(k: Kernels, dY: Float32Array, X: Float32Array, rows: number, inF: number,
  W: Float32Array, outF: number, dW: Float32Array | null, dB: Float32Array | null, dX: Float32Array | null,
  accumulateDX = false): void {
  if (rows === 0) return;
  if (dW) k.sgemm(true, false, outF, inF, rows, 1, dY, outF, X, inF, 1, dW, inF);
  if (dB) k.biasGrad(dY, rows, outF, dB);
  if (dX) k.sgemm(false, false, rows, inF, outF, 1, dY, outF, W, inF, accumulateDX ? 1 : 0, dX, inF);
}
