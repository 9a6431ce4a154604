/**
 * Float64 oracle for the activation kernels: exact GELU, GeGLU, tanh (forward and backward).
 *
 * Sources: Hendrycks & Gimpel 2016, "Gaussian Error Linear Units (GELUs)" (exact form
 * `gelu(x) = x/2 (1 + erf(x/sqrt2))`, PyTorch `nn.GELU(approximate='none')`); Shazeer 2020, "GLU Variants Improve
 * Transformer" (GeGLU); the reference's `BertGatedLinearUnitMLP` ( for
 * `x: [rows, 2I]`, GELU on the FIRST I columns times the SECOND I columns, `out: [rows, I]`); tanh of the pooler (`BertPooler`).
 *
 * Inputs and outputs are float32 arrays; every intermediate is float64, rounded once on store. `1 + erf(z)` is
 * computed as `erfc(-z)` so that GELU keeps full relative accuracy for negative x.
 */
import type { Kernels } from '../types.js';

const TWO_OVER_SQRT_PI = 1.1283791670955126;  // 2/sqrt(pi)
const INV_SQRT_PI = 0.5641895835477563;
const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327;

/** erf(x) for |x| < 2 by the series 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)) (positive terms). */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x, sum = x;
  for (let n = 1; n < 200; n++) {
    term *= 2 * x2 / (2 * n + 1);
    sum += term;
    if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/**
 * erfc(x) for x >= 2 by the continued fraction erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
 * evaluated bottom-up from a fixed depth (enough for ~1e-16 relative at x = 2; fewer terms are needed for larger x).
 */
function erfcCF(x: number): number {
  const depth = x < 3 ? 200 : x < 6 ? 80 : 30;
  let f = x;
  for (let k = depth; k >= 1; k--) f = x + (k / 2) / f;
  return Math.exp(-x * x) * INV_SQRT_PI / f;
}

/**
 * erf(x) in float64, absolute error ~1e-16 (positive-term series below |x| = 2, continued fraction above; verified
 * against mpmath in test/kernels/activations.test.ts).
 */
export function erf64(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  const r = a < 2 ? erfSeries(a) : 1 - erfcCF(a);
  return x < 0 ? -r : r;
}

/**
 * erfc(x) = 1 - erf(x) in float64: relative error ~1e-16 for x >= 2 (continued fraction) and <= ~5e-14 for x < 2
 * (1 - erf, which loses at most log10(1/erfc(2)) ~ 2.3 digits).
 */
export function erfc64(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= 2) return erfcCF(x);
  if (x > -2) return 1 - (x < 0 ? -erfSeries(-x) : erfSeries(x));
  return 2 - erfcCF(-x);
}

/** Exact GELU in float64. */
export function gelu64(x: number): number {
  return 0.5 * x * erfc64(-x * INV_SQRT2);
}

/** d gelu / dx = (1 + erf(x/sqrt2))/2 + x exp(-x^2/2)/sqrt(2 pi), float64. */
export function geluGrad64(x: number): number {
  return 0.5 * erfc64(-x * INV_SQRT2) + x * Math.exp(-0.5 * x * x) * INV_SQRT_2PI;
}

function need(fn: string, name: string, buf: ArrayLike<number>, n: number): void {
  if (buf.length < n) {
    throw new RangeError(`mosaicbert reference ${fn}: argument '${name}' has ${buf.length} elements, needs at least ${n}`);
  }
}

export const activationsReference: Pick<Kernels, 'geluForward' | 'geluBackward' | 'gegluForward' | 'gegluBackward' |
  'tanhForward' | 'tanhBackward'> = {
  /** `out[i] = gelu(x[i])`, x and out float32 `[n]` (out may alias x). */
  geluForward(x, n, out) {
    need('geluForward', 'x', x, n); need('geluForward', 'out', out, n);
    for (let i = 0; i < n; i++) out[i] = gelu64(x[i]);
  },

  /** `dX[i] = dOut[i] * gelu'(x[i])` (dX may alias dOut). */
  geluBackward(x, dOut, n, dX) {
    need('geluBackward', 'x', x, n); need('geluBackward', 'dOut', dOut, n); need('geluBackward', 'dX', dX, n);
    for (let i = 0; i < n; i++) dX[i] = dOut[i] * geluGrad64(x[i]);
  },

  /** `out[r, c] = gelu(x[r, c]) * x[r, I + c]`, x `[rows, 2I]`, out `[rows, I]`. */
  gegluForward(x, rows, I, out) {
    need('gegluForward', 'x', x, rows * 2 * I); need('gegluForward', 'out', out, rows * I);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < I; c++) out[r * I + c] = gelu64(x[r * 2 * I + c]) * x[r * 2 * I + I + c];
    }
  },

  /** `dX[r, c] = dOut[r, c] * x[r, I + c] * gelu'(x[r, c])`, `dX[r, I + c] = dOut[r, c] * gelu(x[r, c])`. */
  gegluBackward(x, dOut, rows, I, dX) {
    need('gegluBackward', 'x', x, rows * 2 * I); need('gegluBackward', 'dOut', dOut, rows * I);
    need('gegluBackward', 'dX', dX, rows * 2 * I);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < I; c++) {
        const a = x[r * 2 * I + c], b = x[r * 2 * I + I + c], d = dOut[r * I + c];
        dX[r * 2 * I + c] = d * b * geluGrad64(a);
        dX[r * 2 * I + I + c] = d * gelu64(a);
      }
    }
  },

  /** `out[i] = tanh(x[i])`. */
  tanhForward(x, n, out) {
    need('tanhForward', 'x', x, n); need('tanhForward', 'out', out, n);
    for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]);
  },

  /** `dX[i] = dOut[i] * (1 - y[i]^2)` from the forward output y. */
  tanhBackward(y, dOut, n, dX) {
    need('tanhBackward', 'y', y, n); need('tanhBackward', 'dOut', dOut, n); need('tanhBackward', 'dX', dX, n);
    for (let i = 0; i < n; i++) dX[i] = dOut[i] * (1 - y[i] * y[i]);
  },
};
