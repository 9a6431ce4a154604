/**
 * Inference-linear benchmark (part of `mosaicbert bench kernels`; alone with `--only linear`):
 * `Y = X W^T + b` at the BERT-base shapes (out x in = 768x768 attention output, 3072x768 FFN up, 768x3072 FFN
 * down, 2304x768 fused QKV) for batch 1 x 128 tokens and ~3,000 tokens (3072), with
 * - the pre-packed dense kernel (v1, v2) against the dense SGEMM v2 + addBias measured in the same run,
 * - INT8 dense (v3, the winner: AVX-512 VNNI register-blocked on zmm when the CPU has it; v2: VNNI one row at a
 *   time; v1: AVX2 sign trick) against the pre-packed fp32 dense,
 * - at 90% sparsity, every numbered version of the sparse and INT8 1x4 kernels against its dense peer,
 * - a sparsity sweep: fp32 1x4 BSR (random 1x4 block masks) and CSR (random element masks) against pre-packed
 *   dense fp32, INT8 1x4 BSR against INT8 dense, and the crossover (the sparsity at which the sparse kernel
 *   starts to win, interpolated linearly between the two measured sparsities around a speedup of 1).
 * Engines are timed alternately, round by round (every engine of a comparison in every round; the fastest call
 * of each, see timeAlternating), so they see the same machine load; speed is only stated as ratios to a peer of the same run, and as %
 * of the machine's measured fp32 FMA peak (`measurePeakGflops`) counting the useful flops (2 x tokens x stored
 * weights; INT8: the same count of integer multiply-adds).
 */
import { native } from '../kernels/native.js';
import { mulberry32 } from '../data/mulberry32.js';
import { packDense, quantizeInt8, toBsr4, toCsr, type LinearForwardBackend } from '../kernels/linear_backends.js';
import type { BenchRow } from './types.js';

/** [out, in] of the BERT-base encoder linears. */
export const LINEAR_SHAPES: Array<{ name: string; out: number; in: number }> = [
  { name: 'attn out 768x768', out: 768, in: 768 },
  { name: 'FFN up 3072x768', out: 3072, in: 768 },
  { name: 'FFN down 768x3072', out: 768, in: 3072 },
  { name: 'QKV 2304x768', out: 2304, in: 768 },
];

export const SWEEP_SPARSITIES = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97];

/**
 * Times each function alternately: per round, every function runs `reps` times; the result is each function's
 * fastest call over all rounds, in ms (one warm-up call each first). The minimum, not the median: on a shared
 * machine other jobs only ever add time, so the fastest of many alternating calls is the estimate least disturbed
 * by them, and alternating keeps the engines of one comparison under the same conditions.
 */
export function timeAlternating(fns: Array<() => void>, rounds: number, reps: number): number[] {
  for (const f of fns) f();
  const best: number[] = fns.map(() => Infinity);
  for (let r = 0; r < rounds; r++) {
    fns.forEach((f, i) => {
      for (let k = 0; k < reps; k++) {
        const t = performance.now();
        f();
        best[i] = Math.min(best[i], performance.now() - t);
      }
    });
  }
  return best;
}

function uniform(n: number, r: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = 2 * r() - 1;
  return a;
}

/** W with each aligned 1x4 group zeroed with probability s (block mask) or each weight (element mask). */
function masked(W: Float32Array, out: number, inF: number, s: number, blocks: boolean, r: () => number): Float32Array {
  const M = W.slice();
  if (blocks) {
    for (let o = 0; o < out; o++) {
      for (let g = 0; g < Math.ceil(inF / 4); g++) if (r() < s) M.fill(0, o * inF + 4 * g, Math.min(o * inF + 4 * g + 4, (o + 1) * inF));
    }
  } else {
    for (let i = 0; i < M.length; i++) if (r() < s) M[i] = 0;
  }
  return M;
}

/** One point of the sparsity sweep: speedups (>1: the sparse kernel is faster). */
export interface SweepPoint {
  shape: string; tokens: number; sparsity: number;
  bsr4: number; csr: number; q8Bsr4VsQ8: number; q8Bsr4VsFp32: number;
}

/** Crossover sparsities of one shape and token count (null: no crossing in the swept range). */
export interface Crossover {
  shape: string; tokens: number;
  bsr4: string; csr: string; q8Bsr4: string;
}

/** Sparsity where speedup(s) crosses 1, linear between measured points; '< s0' if it already wins at the lowest. */
export function crossing(points: Array<[number, number]>): string {
  if (points.length === 0) return '-';
  if (points[0][1] >= 1) return `< ${points[0][0]}`;
  for (let i = 1; i < points.length; i++) {
    const [s0, r0] = points[i - 1], [s1, r1] = points[i];
    if (r1 >= 1) return (s0 + ((1 - r0) / (r1 - r0)) * (s1 - s0)).toFixed(2);
  }
  return `> ${points[points.length - 1][0]}`;
}

export interface LinearBenchResult {
  rows: BenchRow[]; sweep: SweepPoint[]; crossovers: Crossover[];
  /** The fp32 peak the % peak column uses: the highest of `opts.peak` and the probes taken during the run. */
  peak: number;
}

/**
 * Runs the benchmark with the current thread count and kernel path. `quick`: two shapes, 128 tokens, three
 * sparsities, short timings (CI smoke). `peak`: measured fp32 GFLOP/s of the machine (for % peak).
 */
export function benchLinear(opts: { quick?: boolean; peak: number; log?: (s: string) => void }): LinearBenchResult {
  const addon = native();
  const log = opts.log ?? (() => {});
  const quick = opts.quick ?? false;
  const shapes = quick ? [LINEAR_SHAPES[0], LINEAR_SHAPES[2]] : LINEAR_SHAPES;
  const tokensList = quick ? [128] : [128, 3072];
  const sparsities = quick ? [0.5, 0.7, 0.9] : SWEEP_SPARSITIES;
  const tag = `${addon.numThreads()}T ${addon.kernelPath()}`;
  const rows: BenchRow[] = [], sweep: SweepPoint[] = [], crossovers: Crossover[] = [];
  const r = mulberry32(1234);
  // The peak probe is re-run between shapes and the highest value kept: on a shared machine one 200 ms probe can
  // land in a busy moment and understate the peak (which would overstate % peak).
  let peak = opts.peak;
  const probe = () => { for (let i = 0; i < 3; i++) peak = Math.max(peak, addon.measurePeakGflops(100)); };
  probe();
  for (const tokens of tokensList) {
    const rounds = quick ? 3 : tokens > 1000 ? 5 : 15, reps = tokens > 1000 ? 1 : 3;
    for (const sh of shapes) {
      const { out, in: inF } = sh;
      const W = uniform(out * inF, r), b = uniform(out, r), X = uniform(tokens * inF, r);
      const Y = new Float32Array(tokens * out);
      const flops = 2 * tokens * out * inF;
      const shape = `${tokens} x ${inF} -> ${out} (${sh.name})`;
      const dense = packDense(W, b, out, inF), q8 = quantizeInt8(W, b, out, inF);
      const P = dense.panels();
      const run = (be: LinearForwardBackend) => () => be.forward(X, tokens, Y);
      const [tSg, tV1, tV2, tQ8, tQ8v1, tQ8v2] = timeAlternating([
        () => { addon.sgemm(false, true, tokens, out, inF, 1, X, inF, W, inF, 0, Y, out); addon.addBias(Y, b, tokens, out); },
        () => addon.linearPackedForwardV1(P[0], P[1], out, inF, b, X, tokens, Y),
        () => addon.linearPackedForwardV2(P[0], P[1], out, inF, b, X, tokens, Y),
        run(q8),
        () => q8.forwardVersion(1, X, tokens, Y),
        () => q8.forwardVersion(2, X, tokens, Y),
      ], rounds, reps);
      const row = (kernel: string, ms: number, f: number, peer: string, peerMs: number, peerFlops = f): BenchRow => {
        const gflops = f / ms / 1e6, peerGflops = peerFlops / peerMs / 1e6;
        return { kernel: `${kernel} (${tag})`, shape, ms, gflops, pctPeak: 0, peer, peerGflops,
          ratio: peerMs / ms };
      };
      rows.push(row('linear packed v2', tV2, flops, 'sgemm v2 + addBias', tSg));
      rows.push(row('linear packed v1', tV1, flops, 'sgemm v2 + addBias', tSg));
      rows.push({ ...row('linear q8-dense v3', tQ8, flops, 'linear packed v2', tV2),
        note: `int8 multiply-adds counted as flops; ${(tQ8v2 / tQ8).toFixed(2)}x q8-dense v2` });
      rows.push({ ...row('linear q8-dense v2', tQ8v2, flops, 'linear packed v2', tV2), note: 'int8 multiply-adds counted as flops' });
      rows.push({ ...row('linear q8-dense v1', tQ8v1, flops, 'linear packed v2', tV2),
        note: 'int8 multiply-adds counted as flops; AVX2 sign trick' });
      log(`${shape}: packed v2 ${(tSg / tV2).toFixed(2)}x sgemm+addBias, q8-dense ${(tV2 / tQ8).toFixed(2)}x packed`);
      const pts = { bsr4: [] as Array<[number, number]>, csr: [] as Array<[number, number]>, q8: [] as Array<[number, number]> };
      for (const s of sparsities) {
        const Wb = masked(W, out, inF, s, true, r), Wu = masked(W, out, inF, s, false, r);
        const bsr = toBsr4(Wb, b, out, inF), csr = toCsr(Wu, b, out, inF);
        const qb = quantizeInt8(Wb, b, out, inF, { sparse: 'bsr4' });
        const [td, tq, tb, tc, tqb] = timeAlternating([run(dense), run(q8), run(bsr), run(csr), run(qb)], rounds, reps);
        const p: SweepPoint = { shape: sh.name, tokens, sparsity: s, bsr4: td / tb, csr: td / tc, q8Bsr4VsQ8: tq / tqb,
          q8Bsr4VsFp32: td / tqb };
        sweep.push(p);
        pts.bsr4.push([s, p.bsr4]); pts.csr.push([s, p.csr]); pts.q8.push([s, p.q8Bsr4VsQ8]);
        if (s === 0.9) {
          // The numbered versions at 90%, timed alternately with their dense peers.
          const v = (be: typeof bsr, k: 1 | 2 | 3 | 4) => () => be.forwardVersion(k, X, tokens, Y);
          const vq = (k: 1 | 2 | 3) => () => qb.forwardVersion(k, X, tokens, Y);
          const [td2, tq2, b1, b2, b3, b4, c1, c2, c3, c4, qb1, qb2, qb3] = timeAlternating([run(dense), run(q8),
            v(bsr, 1), v(bsr, 2), v(bsr, 3), v(bsr, 4), v(csr, 1), v(csr, 2), v(csr, 3), v(csr, 4), vq(1), vq(2), vq(3)],
          rounds, reps);
          const sf = flops * bsr.stored * 4 / (out * inF), cf = flops * csr.stored / (out * inF);
          const useful = 'useful flops';
          rows.push({ ...row('linear bsr4 v4 @90% blocks', b4, sf, 'linear packed v2', td2, flops), note: useful });
          rows.push({ ...row('linear bsr4 v3 @90% blocks', b3, sf, 'linear packed v2', td2, flops), note: useful });
          rows.push({ ...row('linear bsr4 v2 @90% blocks', b2, sf, 'linear packed v2', td2, flops), note: useful });
          rows.push({ ...row('linear bsr4 v1 @90% blocks', b1, sf, 'linear packed v2', td2, flops), note: useful });
          rows.push({ ...row('linear csr v4 @90%', c4, cf, 'linear packed v2', td2, flops), note: useful });
          rows.push({ ...row('linear csr v3 @90%', c3, cf, 'linear packed v2', td2, flops), note: useful });
          rows.push({ ...row('linear csr v2 @90%', c2, cf, 'linear packed v2', td2, flops), note: useful });
          rows.push({ ...row('linear csr v1 @90%', c1, cf, 'linear packed v2', td2, flops), note: useful });
          rows.push({ ...row('linear q8-bsr4 v3 @90% blocks', qb3, sf, 'linear q8-dense', tq2, flops),
            note: `useful int8 multiply-adds; ${(td2 / qb3).toFixed(2)}x packed fp32 dense` });
          rows.push({ ...row('linear q8-bsr4 v2 @90% blocks', qb2, sf, 'linear q8-dense', tq2, flops),
            note: `useful int8 multiply-adds; ${(td2 / qb2).toFixed(2)}x packed fp32 dense` });
          rows.push({ ...row('linear q8-bsr4 v1 @90% blocks', qb1, sf, 'linear q8-dense', tq2, flops),
            note: `useful int8 multiply-adds; ${(td2 / qb1).toFixed(2)}x packed fp32 dense` });
        }
        log(`  s=${s}: bsr4 ${p.bsr4.toFixed(2)}x csr ${p.csr.toFixed(2)}x (vs packed fp32), q8-bsr4 ` +
          `${p.q8Bsr4VsQ8.toFixed(2)}x q8-dense, ${p.q8Bsr4VsFp32.toFixed(2)}x packed fp32`);
      }
      crossovers.push({ shape: sh.name, tokens, bsr4: crossing(pts.bsr4), csr: crossing(pts.csr), q8Bsr4: crossing(pts.q8) });
      probe();
    }
  }
  for (const row of rows) row.pctPeak = (row.gflops / peak) * 100;
  return { rows, sweep, crossovers, peak };
}

/** The sweep and crossover tables as Markdown. */
export function linearTables(res: LinearBenchResult): string {
  const sw = '| shape | tokens | sparsity | BSR4 / dense fp32 | CSR / dense fp32 | q8-BSR4 / q8-dense | q8-BSR4 / dense fp32 |\n' +
    '|---|---|---|---|---|---|---|\n' + res.sweep.map((p) => `| ${p.shape} | ${p.tokens} | ${p.sparsity} | ` +
    `${p.bsr4.toFixed(2)} | ${p.csr.toFixed(2)} | ${p.q8Bsr4VsQ8.toFixed(2)} | ${p.q8Bsr4VsFp32.toFixed(2)} |`).join('\n');
  const cx = '| shape | tokens | BSR4 beats packed dense fp32 at block sparsity | CSR beats it at sparsity | ' +
    'q8-BSR4 beats q8-dense at block sparsity |\n|---|---|---|---|---|\n' +
    res.crossovers.map((c) => `| ${c.shape} | ${c.tokens} | ${c.bsr4} | ${c.csr} | ${c.q8Bsr4} |`).join('\n');
  return `Speedups (time of the dense peer / time of the sparse kernel; > 1: sparse is faster):\n\n${sw}\n\n` +
    `Crossovers (interpolated):\n\n${cx}\n`;
}
