/**
 * GLUE metrics, computed in float64: accuracy, binary F1 (positive class 1), Matthews correlation (the
 * multiclass R_K form, equal to the usual binary formula for two classes), Pearson and Spearman (Pearson of the
 * ranks, ties given their average rank). Degenerate cases return 0 rather than NaN: MCC when a marginal is
 * constant (e.g. every prediction the same class), F1 with no positive predictions and no positive labels,
 * Pearson/Spearman when either side has zero variance. Empty inputs throw.
 */
import type { MetricName } from './tasks.js';

function checkLengths(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} predictions for ${b.length} labels`);
  if (a.length === 0) throw new Error(`${what}: no examples`);
}

/** Fraction of `preds[i] === labels[i]`. */
export function accuracy(preds: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkLengths(preds, labels, 'accuracy');
  let hit = 0;
  for (let i = 0; i < preds.length; i++) if (preds[i] === labels[i]) hit++;
  return hit / preds.length;
}

/** Binary F1 of class 1: 2TP / (2TP + FP + FN); 0 when that denominator is 0. */
export function binaryF1(preds: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkLengths(preds, labels, 'f1');
  let tp = 0, fp = 0, fn = 0;
  for (let i = 0; i < preds.length; i++) {
    const p = preds[i] === 1, y = labels[i] === 1;
    if (p && y) tp++; else if (p) fp++; else if (y) fn++;
  }
  const d = 2 * tp + fp + fn;
  return d === 0 ? 0 : (2 * tp) / d;
}

/**
 * Matthews correlation coefficient over integer classes:
 * (c·s − Σ p_k t_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²)), c correct, s total, p_k / t_k predicted / true counts.
 * 0 when the denominator is 0 (constant predictions or constant labels).
 */
export function matthewsCorrcoef(preds: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkLengths(preds, labels, 'matthews');
  const p = new Map<number, number>(), t = new Map<number, number>();
  let c = 0;
  const s = preds.length;
  for (let i = 0; i < s; i++) {
    p.set(preds[i], (p.get(preds[i]) ?? 0) + 1);
    t.set(labels[i], (t.get(labels[i]) ?? 0) + 1);
    if (preds[i] === labels[i]) c++;
  }
  let pt = 0, pp = 0, tt = 0;
  for (const [k, n] of p) { pp += n * n; pt += n * (t.get(k) ?? 0); }
  for (const n of t.values()) tt += n * n;
  const den = Math.sqrt((s * s - pp) * (s * s - tt));
  return den === 0 ? 0 : (c * s - pt) / den;
}

/** Pearson correlation; 0 when either input has zero variance. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkLengths(x, y, 'pearson');
  const n = x.length;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
  mx /= n; my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i] - mx, b = y[i] - my;
    sxy += a * b; sxx += a * a; syy += b * b;
  }
  if (sxx === 0 || syy === 0) return 0;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** 1-based ranks, tied values sharing their average rank (e.g. [10, 20, 20, 30] -> [1, 2.5, 2.5, 4]). */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && x[idx[j + 1]] === x[idx[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

/** Spearman rank correlation (Pearson of average ranks); 0 when either side is constant. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkLengths(x, y, 'spearman');
  return pearson(averageRanks(x), averageRanks(y));
}

/** Metric functions by name. */
export const METRICS: Record<MetricName, (preds: ArrayLike<number>, labels: ArrayLike<number>) => number> = {
  accuracy, f1: binaryF1, matthews: matthewsCorrcoef, pearson, spearman,
};

/** Class ids (argmax, first maximum on ties) of `[n, numLabels]` logits; the logits themselves when numLabels == 1. */
export function predictionsFromLogits(logits: ArrayLike<number>, n: number, numLabels: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (numLabels === 1) { out[i] = logits[i]; continue; }
    let best = 0;
    for (let k = 1; k < numLabels; k++) if (logits[i * numLabels + k] > logits[i * numLabels + best]) best = k;
    out[i] = best;
  }
  return out;
}

/** Computes the named metrics of predictions against labels. */
export function computeMetrics(names: MetricName[], preds: ArrayLike<number>, labels: ArrayLike<number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of names) {
    const f = METRICS[m];
    if (!f) throw new Error(`unknown metric '${m}'; expected one of ${Object.keys(METRICS).join(', ')}`);
    out[m] = f(preds, labels);
  }
  return out;
}

/** Mean of numbers (NaN for none): a task's score is the mean over its metric values and seeds. */
export function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}
