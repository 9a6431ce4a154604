/**
 * Float64 oracle of the softmax cross-entropy (MosaicBERT MLM head, the reference's `BertForMaskedLM`: PyTorch
 * `CrossEntropyLoss` = `log_softmax` + `nll_loss` over the masked rows, V = 30528; also the classification head).
 * Shapes and semantics: `Kernels.crossEntropyForward` / `crossEntropyBackward` in ../types.ts.
 */
import type { Kernels } from '../types.js';

function need(fn: string, name: string, a: ArrayLike<number>, len: number): void {
  if (a.length < len) {
    throw new RangeError(`mosaicbert reference ${fn}: argument '${name}' has ${a.length} elements, needs at least ${len}`);
  }
}

function checkTargets(fn: string, targets: Int32Array, rows: number, V: number): void {
  for (let r = 0; r < rows; r++) {
    if (targets[r] < 0 || targets[r] >= V) {
      throw new RangeError(`mosaicbert reference ${fn}: targets[${r}] = ${targets[r]} is outside [0, ${V}) (row ${r})`);
    }
  }
}

export const lossReference: Pick<Kernels, 'crossEntropyForward' | 'crossEntropyBackward' | 'distillationLoss'> = {
  /**
   * For each row r of `logits: [rows, V]` (float32): `lse_r = m + log(sum_j exp(x_j - m))` with `m = max_j x_j`,
   * all in float64; writes `lse[r] = float32(lse_r)` and returns `sum_r (lse_r - x[r, targets[r]])` (float64, rows
   * in order). RangeError on a short buffer or a target outside [0, V).
   */
  crossEntropyForward(logits, targets, rows, V, lse) {
    const fn = 'crossEntropyForward';
    need(fn, 'logits', logits, rows * V); need(fn, 'targets', targets, rows); need(fn, 'lse', lse, rows);
    checkTargets(fn, targets, rows, V);
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const o = r * V;
      let m = -Infinity;
      for (let j = 0; j < V; j++) if (logits[o + j] > m) m = logits[o + j];
      const shift = Number.isFinite(m) ? m : 0;
      let s = 0;
      for (let j = 0; j < V; j++) s += Math.exp(logits[o + j] - shift);
      const l = Number.isFinite(m) ? shift + Math.log(s) : m;
      lse[r] = l;
      total += l - logits[o + targets[r]];
    }
    return total;
  },

  /**
   * `dLogits[r, j] = scale * (exp(x[r, j] - lse[r]) - [j == targets[r]])` in float64 from the float32 `lse`,
   * rounded to float32 (dLogits may alias logits).
   */
  crossEntropyBackward(logits, targets, lse, rows, V, scale, dLogits) {
    const fn = 'crossEntropyBackward';
    need(fn, 'logits', logits, rows * V); need(fn, 'targets', targets, rows); need(fn, 'lse', lse, rows);
    need(fn, 'dLogits', dLogits, rows * V);
    checkTargets(fn, targets, rows, V);
    for (let r = 0; r < rows; r++) {
      const o = r * V, t = targets[r], l = lse[r];
      const xt = logits[o + t];
      for (let j = 0; j < V; j++) dLogits[o + j] = scale * Math.exp(logits[o + j] - l);
      dLogits[o + t] = scale * (Math.exp(xt - l) - 1);
    }
  },

  /**
   * Per row, in float64: log p = s invT - logsumexp(s invT), log q = t invT - logsumexp(t invT); returns
   * `sum_r sum_c q (log q - log p)` (rows in order); `grad = scale * (p - q)` rounded to float32. RangeError on a
   * short buffer or invT not > 0.
   */
  distillationLoss(student, teacher, rows, C, invT, grad, scale) {
    const fn = 'distillationLoss';
    need(fn, 'student', student, rows * C); need(fn, 'teacher', teacher, rows * C);
    if (grad) need(fn, 'grad', grad, rows * C);
    if (!(invT > 0 && Number.isFinite(invT))) throw new RangeError(`mosaicbert reference ${fn}: invT must be a finite number > 0`);
    const lp = new Float64Array(C), lq = new Float64Array(C);
    const logSoftmax = (x: Float32Array, o: number, out: Float64Array) => {
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, x[o + c] * invT);
      let z = 0;
      for (let c = 0; c < C; c++) z += Math.exp(x[o + c] * invT - m);
      const l = m + Math.log(z);
      for (let c = 0; c < C; c++) out[c] = x[o + c] * invT - l;
    };
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const o = r * C;
      logSoftmax(student, o, lp);
      logSoftmax(teacher, o, lq);
      let kl = 0;
      for (let c = 0; c < C; c++) {
        const q = Math.exp(lq[c]);
        if (q > 0) kl += q * (lq[c] - lp[c]);
        if (grad) grad[o + c] = scale * (Math.exp(lp[c]) - q);
      }
      total += kl;
    }
    return total;
  },
};
