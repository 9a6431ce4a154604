/**
 * Float64 oracle for LayerNorm with a fused residual add (post-LN), forward and backward.
 *
 * Sources: Ba, Kiros & Hinton 2016, "Layer Normalization"; PyTorch `F.layer_norm` (biased variance, eps inside the
 * square root); MosaicBERT post-LN `LayerNorm(x + residual)` with eps 1e-12 (the reference's `BertSelfOutput`).
 *
 * Shapes (row-major float32): x, residual, sum, out, dOut, s, dX `[rows, cols]`; gamma, beta, dGamma, dBeta `[cols]`;
 * mean, rstd `[rows]`. The residual sum `s = x + residual` is a float32 addition (that is what the native kernel and
 * PyTorch store); everything after it is float64, rounded once on store.
 */
import type { Kernels } from '../types.js';

function need(fn: string, name: string, buf: ArrayLike<number>, n: number): void {
  if (buf.length < n) {
    throw new RangeError(`mosaicbert reference ${fn}: argument '${name}' has ${buf.length} elements, needs at least ${n}`);
  }
}

export const layerNormReference: Pick<Kernels, 'layerNormForward' | 'layerNormBackward'> = {
  /**
   * `s = fround(x + residual)`, `mean = sum(s)/cols`, `var = sum((s - mean)^2)/cols`, `rstd = 1/sqrt(var + eps)`,
   * `out = (s - mean) rstd gamma + beta`. `sum`, `mean`, `rstd` receive s and the statistics (float32).
   */
  layerNormForward(x, residual, gamma, beta, rows, cols, eps, sum, out, mean, rstd) {
    const fn = 'layerNormForward', n = rows * cols;
    need(fn, 'x', x, n); if (residual) need(fn, 'residual', residual, n);
    need(fn, 'gamma', gamma, cols); need(fn, 'beta', beta, cols);
    if (sum) need(fn, 'sum', sum, n);
    need(fn, 'out', out, n); need(fn, 'mean', mean, rows); need(fn, 'rstd', rstd, rows);
    if (!(eps >= 0) || !Number.isFinite(eps)) throw new RangeError(`mosaicbert reference ${fn}: eps must be >= 0`);
    const s = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let acc = 0;
      for (let c = 0; c < cols; c++) {
        s[c] = residual ? Math.fround(x[o + c] + residual[o + c]) : x[o + c];
        acc += s[c];
      }
      const m = acc / cols;
      acc = 0;
      for (let c = 0; c < cols; c++) acc += (s[c] - m) * (s[c] - m);
      const rs = 1 / Math.sqrt(acc / cols + eps);
      mean[r] = m; rstd[r] = rs;
      if (sum) for (let c = 0; c < cols; c++) sum[o + c] = s[c];
      for (let c = 0; c < cols; c++) out[o + c] = (s[c] - m) * rs * gamma[c] + beta[c];
    }
  },

  /**
   * From the saved s and float32 statistics: `xhat = (s - mean) rstd`, `g = dOut gamma`,
   * `dX = rstd (g - mean_c(g) - xhat mean_c(g xhat))` (overwritten; may alias dOut),
   * `dGamma += sum_r dOut xhat`, `dBeta += sum_r dOut` (float64 sums, one rounding per accumulation).
   */
  layerNormBackward(dOut, s, gamma, mean, rstd, rows, cols, dX, dGamma, dBeta) {
    const fn = 'layerNormBackward', n = rows * cols;
    need(fn, 'dOut', dOut, n); need(fn, 's', s, n); need(fn, 'gamma', gamma, cols);
    need(fn, 'mean', mean, rows); need(fn, 'rstd', rstd, rows); need(fn, 'dX', dX, n);
    need(fn, 'dGamma', dGamma, cols); need(fn, 'dBeta', dBeta, cols);
    const dg = new Float64Array(cols), db = new Float64Array(cols);
    const xh = new Float64Array(cols), g = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      const o = r * cols, m = mean[r], rs = rstd[r];
      let sg = 0, sgx = 0;
      for (let c = 0; c < cols; c++) {
        xh[c] = (s[o + c] - m) * rs;
        g[c] = dOut[o + c] * gamma[c];
        sg += g[c]; sgx += g[c] * xh[c];
        dg[c] += dOut[o + c] * xh[c];
        db[c] += dOut[o + c];
      }
      const mg = sg / cols, mgx = sgx / cols;
      for (let c = 0; c < cols; c++) dX[o + c] = rs * (g[c] - mg - xh[c] * mgx);
    }
    for (let c = 0; c < cols; c++) { dGamma[c] += dg[c]; dBeta[c] += db[c]; }
  },
};
