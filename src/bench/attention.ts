/**
 * Attention benchmark: the fused FlashAttention-style kernel (`attentionForward` / `attentionBackward`) against a
 * materialized peer measured in the same run (`attentionMaterializedForward/Backward`: per (sequence, head) an SxS
 * score matrix from our SGEMM, ALiBi + softmax in place, P@V by SGEMM; backward by SGEMM products too), at
 * MosaicBERT-base shapes H = 12, d = 64 (the reference's `configuration_bert.py`): batch 32 x 128 tokens and
 * batch 4 x 1024 tokens, no dropout (the pretraining recipe's attention dropout is 0).
 *
 * FLOP convention (useful work, counted the same for both kernels): forward 4 * L^2 * d per (sequence, head)
 * (QK^T and PV, 2 * L^2 * d each); backward 8 * L^2 * d (dV, dP, dQ, dK), not counting the recomputation of QK^T
 * that both kernels do; fwd+bwd = 12 * L^2 * d. Softmax/exp work is not counted.
 */
import { native } from '../kernels/native.js';
import { alibiSlopes } from '../kernels/reference/attention.js';
import type { Kernels } from '../kernels/types.js';
import { timeMedian, type BenchRow } from './types.js';

type Fwd = Kernels['attentionForward'];
type Bwd = Kernels['attentionBackward'];

/** Deterministic N(0,1)-ish data (sum of uniforms), so runs are comparable. */
function fill(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let k = 0; k < 4; k++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; acc += s / 4294967296; }
    a[i] = (acc - 2) * 1.7;
  }
  return a;
}

/**
 * Runs the benchmark. `quick` shortens the timing loops (same shapes). `peak` is the machine's fp32 peak in
 * GFLOP/s for `pctPeak` (default 195: the fp32 FMA peak the project brief gives for the 2-core
 * reference machine; `bench kernels` passes the peak it measures).
 */
export async function benchAttention(opts: { quick?: boolean; peak?: number } = {}): Promise<BenchRow[]> {
  const peakGflops = opts.peak ?? 195;
  const addon = native();
  const fused = { fwd: addon.attentionForward, bwd: addon.attentionBackward };
  const matFwd: Fwd = addon.attentionMaterializedForward;
  const matBwd: Bwd = addon.attentionMaterializedBackward;
  const timing = opts.quick ? { warmup: 1, minReps: 3, minMs: 150 } : { warmup: 2, minReps: 5, minMs: 600 };
  const rounds = opts.quick ? 1 : 3;
  const H = 12, d = 64;
  const rows: BenchRow[] = [];
  for (const [B, L] of [[32, 128], [4, 1024]] as const) {
    const nnz = B * L;
    const cu = Int32Array.from({ length: B + 1 }, (_, b) => b * L);
    const qkv = fill(nnz * 3 * H * d, 1), dOut = fill(nnz * H * d, 2), slopes = alibiSlopes(H);
    const out = new Float32Array(nnz * H * d), lse = new Float32Array(H * nnz), dqkv = new Float32Array(qkv.length);
    const shape = `B=${B} S=${L} H=${H} d=${d}`;
    const flopFwd = 4 * L * L * d * H * B, flopBwd = 8 * L * L * d * H * B;
    const fwdOf = (f: Fwd) => () => f(qkv, cu, B, H, d, slopes, 0, 0, 0, out, lse);
    const fwdBwdOf = (f: Fwd, g: Bwd) => () => {
      f(qkv, cu, B, H, d, slopes, 0, 0, 0, out, lse);
      g(qkv, cu, B, H, d, slopes, 0, 0, 0, out, lse, dOut, dqkv);
    };
    for (const kind of ['fwd', 'fwd+bwd'] as const) {
      const flop = kind === 'fwd' ? flopFwd : flopFwd + flopBwd;
      const ours = kind === 'fwd' ? fwdOf(fused.fwd) : fwdBwdOf(fused.fwd, fused.bwd);
      const peer = kind === 'fwd' ? fwdOf(matFwd) : fwdBwdOf(matFwd, matBwd);
      // Rounds alternate ours / peer and keep each one's best median, so a burst of load from other processes
      // on a shared machine does not land on one side only.
      let ms = Infinity, pms = Infinity;
      for (let round = 0; round < rounds; round++) {
        ms = Math.min(ms, timeMedian(ours, timing));
        pms = Math.min(pms, timeMedian(peer, timing));
      }
      const gflops = flop / ms / 1e6;
      const row: BenchRow = {
        kernel: `attention ${kind} (fused)`, shape, ms, gflops, pctPeak: (100 * gflops) / peakGflops,
        note: `FLOPs: fwd 4*L^2*d, bwd 8*L^2*d per (sequence, head); ` +
          `${kind === 'fwd' ? 'forward only' : 'forward then backward'}; best median of ${rounds} alternating rounds`,
        peer: 'materialized SxS attention (our sgemm)', peerGflops: flop / pms / 1e6, ratio: pms / ms,
      };
      rows.push(row);
      await new Promise((r) => setImmediate(r));  // let the event loop breathe between rows
    }
  }
  return rows;
}
