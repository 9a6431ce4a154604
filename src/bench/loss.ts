/**
 * `bench kernels` rows of the loss kernels (native/kernels/loss/) at the MLM head's shape (the masked rows of a
 * microbatch, 30528 classes), each with a peer measured in the same run:
 * - `distillationLoss` (KD forward + gradient: 4 exps an element) on the AVX2 path against its portable path;
 * - the same against the cross-entropy forward + backward on the same rows (2 exps an element), the loss the KD term
 *   is added to, so the ratio is what distillation costs on top of the MLM loss.
 */
import { native, setKernelPath } from '../kernels/native.js';
import { mulberry32 } from '../data/mulberry32.js';
import { timeMedian, type BenchRow } from './types.js';

export function benchLoss(opts: { quick?: boolean; peak: number }): BenchRow[] {
  const a = native(), rows: BenchRow[] = [];
  const minMs = opts.quick ? 100 : 1000;
  const R = opts.quick ? 64 : 600, C = 30528;
  const r = mulberry32(3);
  const s = Float32Array.from({ length: R * C }, () => 6 * r() - 3), t = Float32Array.from({ length: R * C }, () => 6 * r() - 3);
  const g = new Float32Array(R * C), lse = new Float32Array(R), targets = Int32Array.from({ length: R }, (_, i) => (i * 7919) % C);
  const shape = `${R} rows x ${C}`;
  const kd = (p: 'avx2' | 'portable') => {
    setKernelPath(p);
    try { return timeMedian(() => a.distillationLoss(s, t, R, C, 1 / 5.5, g, 1 / R), { minMs, minReps: 3 }); } finally { setKernelPath('auto'); }
  };
  const ce = timeMedian(() => { a.crossEntropyForward(s, targets, R, C, lse); a.crossEntropyBackward(s, targets, lse, R, C, 1 / R, g); },
    { minMs, minReps: 3 });
  const ms = kd(a.hasAvx2() ? 'avx2' : 'portable');
  // Elements per second are the honest unit here (exp-bound, no FLOP count): "GFLOP/s" columns hold G elements/s.
  const rate = (x: number) => R * C / x / 1e6;
  if (a.hasAvx2()) {
    const msP = kd('portable');
    rows.push({ kernel: 'distillationLoss (avx2)', shape, ms, gflops: rate(ms), pctPeak: NaN, peer: 'portable path',
      peerGflops: rate(msP), ratio: msP / ms, note: 'G elements/s, not GFLOP/s (4 exps an element)' });
  }
  rows.push({ kernel: 'distillationLoss', shape, ms, gflops: rate(ms), pctPeak: NaN, peer: 'crossEntropy fwd+bwd (same rows)',
    peerGflops: rate(ce), ratio: ce / ms, note: 'G elements/s; ratio < 1: KD costs more than the MLM loss it joins' });
  return rows;
}
