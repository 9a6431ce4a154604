/** One measured benchmark line: our kernel and, where one was measured in the same run, a peer. */
export interface BenchRow {
  /** Kernel family and version, e.g. 'sgemm v2' or 'attention fwd+bwd (fused)'. */
  kernel: string;
  /** Human-readable shape, e.g. 'NT 4096x768 -> 2304' or 'B=32 S=128 H=12 d=64'. */
  shape: string;
  /** Median milliseconds per call. */
  ms: number;
  /** Useful GFLOP/s (analytic FLOPs / median time). */
  gflops: number;
  /** gflops / machine peak * 100. */
  pctPeak: number;
  /** Peer name (e.g. 'OpenBLAS sgemm', 'materialized SxS attention (our sgemm)'), when measured. */
  peer?: string;
  peerGflops?: number;
  /** ours / peer (>1: we are faster). */
  ratio?: number;
  note?: string;
}

/** Times `fn` (after `warmup` calls) until `minMs` elapsed and at least `minReps` calls; returns the median ms. */
export function timeMedian(fn: () => void, opts: { warmup?: number; minReps?: number; minMs?: number } = {}): number {
  const warmup = opts.warmup ?? 2, minReps = opts.minReps ?? 5, minMs = opts.minMs ?? 500;
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < minReps || performance.now() - t0 < minMs) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
    if (times.length > 10000) break;
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
