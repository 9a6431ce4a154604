/**
 * Oracle of one Composer `DecoupledAdamW` step (the reference's `yamls/main/mosaic-bert-base-uncased.yaml` as Composer runs it; Loshchilov & Hutter, "Decoupled Weight
 * Decay Regularization", ICLR 2019, in Composer's form: the decay multiplier is `1 - (lr_t / lr_0) * wd`, scaled by
 * the schedule factor and NOT by lr). Semantics: `Kernels.adamwStep` in ../types.ts.
 *
 * Unlike the other references this one is NOT float64 throughout: it mirrors the float32 operation order of the
 * PyTorch reference (shared/reference/torch/mosaicbert_ref.py, `DecoupledAdamW.step`, with which the fixtures were
 * made), rounding after every operation with `Math.fround`:
 * ```
 * p = p * f(1 - decayFactor * wd)                       (skipped when wd == 0)
 * m = m * f(b1) + f(1 - b1) * g
 * v = v * f(b2) + (f(1 - b2) * g) * g
 * d = sqrt(v) / f(biasCorrection2Sqrt) + f(eps)
 * p = p + (f(-stepSize) * m) / d
 * ```
 * where f() rounds a float64 scalar to float32 once (as PyTorch does with a Python float). A float32 `+ - * / sqrt`
 * computed in float64 and rounded to float32 is correctly rounded (53 >= 2*24 + 2), so this oracle and the native
 * kernel (which uses the same order, no FMA) agree bit for bit.
 */
import type { Kernels } from '../types.js';

const f = Math.fround;

export const adamwReference: Pick<Kernels, 'adamwStep'> = {
  /**
   * `param, grad, expAvg, expAvgSq: [n]` float32 (param, expAvg, expAvgSq updated in place). `stepSize =
   * lr / (1 - b1^t)` and `biasCorrection2Sqrt = sqrt(1 - b2^t)` are computed by the caller in float64.
   * RangeError on a short buffer.
   */
  adamwStep(param, grad, expAvg, expAvgSq, n, beta1, beta2, eps, weightDecay, decayFactor, stepSize,
    biasCorrection2Sqrt) {
    for (const [name, a] of [['param', param], ['grad', grad], ['expAvg', expAvg], ['expAvgSq', expAvgSq]] as const) {
      if (a.length < n) {
        throw new RangeError(`mosaicbert reference adamwStep: argument '${name}' has ${a.length} elements, needs at least ${n}`);
      }
    }
    const decay = weightDecay !== 0, decayMul = f(1 - decayFactor * weightDecay);
    const b1 = f(beta1), a1 = f(1 - beta1), b2 = f(beta2), a2 = f(1 - beta2);
    const bc2 = f(biasCorrection2Sqrt), e = f(eps), negStep = f(-stepSize);
    for (let i = 0; i < n; i++) {
      let p = param[i];
      if (decay) p = f(p * decayMul);
      const g = grad[i];
      const m = f(f(expAvg[i] * b1) + f(a1 * g));
      const v = f(f(expAvgSq[i] * b2) + f(f(a2 * g) * g));
      const d = f(f(f(Math.sqrt(v)) / bc2) + e);
      param[i] = f(p + f(f(negStep * m) / d));
      expAvg[i] = m;
      expAvgSq[i] = v;
    }
  },
};
