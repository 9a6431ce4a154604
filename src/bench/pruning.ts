/**
 * `bench kernels` rows of the pruning kernels (native/kernels/pruning/), each with a peer measured in the same run:
 * - the Woodbury update of the block Fisher inverse (4·d·B flops per gradient: the B x B mat-vec and the rank-1
 *   update of every block), AVX2+FMA path against the portable path;
 * - the selection of the k smallest scores (nth_element + one pass for ties) against a full sort of the same
 *   scores (V8's Float32Array.prototype.sort), at mosaic-bert-mini's 4.19M encoder weights.
 */
import { native, setKernelPath, getKernelPath } from '../kernels/native.js';
import { mulberry32 } from '../data/mulberry32.js';
import { timeMedian, type BenchRow } from './types.js';

function randn(n: number, seed: number, scale: number): Float32Array {
  const r = mulberry32(seed), out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
  return out;
}

export function benchPruning(opts: { quick?: boolean; peak: number }): BenchRow[] {
  const a = native(), rows: BenchRow[] = [];
  const minMs = opts.quick ? 100 : 1000;
  // Fisher: one 1024x256 FFN matrix of mosaic-bert-mini (d = 262144), B = 50, 8 gradients per call.
  const d = opts.quick ? 65536 : 262144, B = 50, n = 8, nb = Math.ceil(d / B);
  const G = randn(n * d, 1, 1e-3), F = new Float32Array(nb * B * B);
  const reset = () => { F.fill(0); for (let b = 0; b < nb; b++) for (let i = 0; i < B; i++) F[b * B * B + i * B + i] = 1e7; };
  const flops = 4 * d * B * n;
  const timePath = (p: 'avx2' | 'portable') => {
    setKernelPath(p);
    try { reset(); return timeMedian(() => a.fisherInverseUpdate(F, G, n, d, B, 1024), { minMs, minReps: 3 }); } finally { setKernelPath('auto'); }
  };
  if (a.hasAvx2()) {
    const msA = timePath('avx2'), msP = timePath('portable');
    rows.push({ kernel: 'fisherInverseUpdate (avx2)', shape: `d=${d} B=${B} ${n} grads`, ms: msA, gflops: flops / msA / 1e6,
      pctPeak: 100 * flops / msA / 1e6 / opts.peak, peer: 'portable path', peerGflops: flops / msP / 1e6, ratio: msP / msA,
      note: 'float64 arithmetic (4 lanes): % peak is of the fp32 peak' });
  } else {
    const ms = timePath('portable');
    rows.push({ kernel: `fisherInverseUpdate (${getKernelPath()})`, shape: `d=${d} B=${B} ${n} grads`, ms, gflops: flops / ms / 1e6,
      pctPeak: 100 * flops / ms / 1e6 / opts.peak });
  }
  // Selection at 30% pruned-first (k = 0.8 N) over N scores.
  const N = opts.quick ? 1 << 20 : 4_194_304, k = Math.round(0.8 * N);
  const s = randn(N, 2, 1), keep = new Uint8Array(N);
  const msSel = timeMedian(() => a.selectSmallest(s, N, k, keep), { minMs, minReps: 3 });
  const msSort = timeMedian(() => { s.slice().sort(); }, { minMs, minReps: 3 });
  rows.push({ kernel: 'selectSmallest (nth_element)', shape: `N=${N} k=0.8N`, ms: msSel, gflops: NaN, pctPeak: NaN,
    peer: 'full sort (Float32Array.sort)', ratio: msSort / msSel, note: `${(N / msSel / 1e3).toFixed(0)} M scores/s; sort ${msSort.toFixed(1)} ms` });
  return rows;
}
