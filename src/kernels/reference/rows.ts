/**
 * Float64 oracle of the row and vector utilities: row gather/scatter (unpad/pad, the reference's `bert_padding.py`; MLM
 * subset selection in `BertForMaskedLM`), `axpby` (gradient accumulation/scaling) and `sumSquares` (gradient norms).
 * Semantics: `Kernels.gatherRows` ... `sumSquares` in ../types.ts.
 */
import type { Kernels } from '../types.js';

function need(fn: string, name: string, a: ArrayLike<number>, len: number): void {
  if (a.length < len) {
    throw new RangeError(`mosaicbert reference ${fn}: argument '${name}' has ${a.length} elements, needs at least ${len}`);
  }
}

/** Checks (src, index, n, cols, dst): lengths, and index against the rows of src (gather) or dst (scatter). */
function checkRows(fn: string, src: Float32Array, index: Int32Array, n: number, cols: number, dst: Float32Array,
  gather: boolean): void {
  need(fn, 'index', index, n);
  need(fn, gather ? 'dst' : 'src', gather ? dst : src, n * cols);
  const indexed = gather ? src : dst;
  const rows = cols > 0 ? Math.floor(indexed.length / cols) : Infinity;
  for (let r = 0; r < n; r++) {
    if (index[r] < 0 || index[r] >= rows) {
      throw new RangeError(`mosaicbert reference ${fn}: index[${r}] = ${index[r]} is outside [0, ${rows}) ` +
        `(rows of ${gather ? 'src' : 'dst'})`);
    }
  }
}

export const rowsReference: Pick<Kernels, 'gatherRows' | 'scatterRows' | 'scatterAddRows' | 'axpby' | 'sumSquares'> = {
  /** `dst[r, :] = src[index[r], :]` (exact copy). */
  gatherRows(src, index, n, cols, dst) {
    checkRows('gatherRows', src, index, n, cols, dst, true);
    for (let r = 0; r < n; r++) dst.set(src.subarray(index[r] * cols, index[r] * cols + cols), r * cols);
  },
  /** `dst[index[r], :] = src[r, :]` in increasing r (a repeated index: the last row wins). */
  scatterRows(src, index, n, cols, dst) {
    checkRows('scatterRows', src, index, n, cols, dst, false);
    for (let r = 0; r < n; r++) dst.set(src.subarray(r * cols, r * cols + cols), index[r] * cols);
  },
  /** `dst[index[r], :] += src[r, :]` in increasing r (one float32 rounding per addition, as native). */
  scatterAddRows(src, index, n, cols, dst) {
    checkRows('scatterAddRows', src, index, n, cols, dst, false);
    for (let r = 0; r < n; r++) {
      const d = index[r] * cols, s = r * cols;
      for (let c = 0; c < cols; c++) dst[d + c] = dst[d + c] + src[s + c];
    }
  },
  /** `y[i] = float32(a * x[i] + b * y[i])` in float64; b == 0 does not read y. */
  axpby(n, a, x, b, y) {
    need('axpby', 'x', x, n); need('axpby', 'y', y, n);
    if (b === 0) { for (let i = 0; i < n; i++) y[i] = a * x[i]; return; }
    for (let i = 0; i < n; i++) y[i] = a * x[i] + b * y[i];
  },
  /** `sum_i x[i]^2` in float64, i increasing. */
  sumSquares(x, n) {
    need('sumSquares', 'x', x, n);
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i] * x[i];
    return s;
  },
};
