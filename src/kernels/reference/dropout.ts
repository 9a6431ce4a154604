/**
 * Float64 oracle for inverted dropout, forward and backward.
 *
 * Sources: Srivastava et al. 2014 (dropout); PyTorch `nn.Dropout` (kept elements scaled by 1/(1-p)); MosaicBERT
 * placement (the reference's `BertEmbeddings`; hidden_dropout_prob 0.1).
 *
 * x, out, dOut, dX float32 `[n]`; mask Uint8Array `[n]` of 0/1. `keep_i = philoxUniform(seed, stream, i) >= fround(p)`
 * (Philox4x32-10, ./philox.ts, bit-identical to the native generator), `out_i = keep_i ? x_i / (1 - p) : 0`.
 */
import type { Kernels } from '../types.js';
import { dropoutKeep } from './philox.js';

function need(fn: string, name: string, buf: ArrayLike<number>, n: number): void {
  if (buf.length < n) {
    throw new RangeError(`mosaicbert reference ${fn}: argument '${name}' has ${buf.length} elements, needs at least ${n}`);
  }
}

function checkP(fn: string, p: number): void {
  if (!(p >= 0 && p < 1)) throw new RangeError(`mosaicbert reference ${fn}: argument 'p' = ${p} must be in [0, 1)`);
}

export const dropoutReference: Pick<Kernels, 'dropoutForward' | 'dropoutBackward'> = {
  /** `out_i = keep_i ? x_i / (1 - p) : 0`, `mask_i = keep_i`; p = 0 copies x (mask all ones). out may alias x. */
  dropoutForward(x, n, p, seed, stream, out, mask) {
    const fn = 'dropoutForward';
    checkP(fn, p); need(fn, 'x', x, n); need(fn, 'out', out, n); need(fn, 'mask', mask, n);
    for (let i = 0; i < n; i++) {
      const keep = p === 0 || dropoutKeep(seed, stream, i, p);
      out[i] = keep ? x[i] / (1 - p) : 0;
      mask[i] = keep ? 1 : 0;
    }
  },

  /** `dX_i = mask_i ? dOut_i / (1 - p) : 0` (overwritten; may alias dOut). */
  dropoutBackward(dOut, mask, n, p, dX) {
    const fn = 'dropoutBackward';
    checkP(fn, p); need(fn, 'dOut', dOut, n); need(fn, 'mask', mask, n); need(fn, 'dX', dX, n);
    for (let i = 0; i < n; i++) dX[i] = mask[i] ? dOut[i] / (1 - p) : 0;
  },
};
