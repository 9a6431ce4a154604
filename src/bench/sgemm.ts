/**
 * SGEMM benchmark: our native sgemm (the winner, and each numbered version on a couple of shapes) against
 * OpenBLAS `cblas_sgemm` measured in the same run with the same thread count.
 *
 * Shapes are the GEMMs of MosaicBERT-base training on 4096 tokens (hidden 768, GeGLU intermediate 3072, so the
 * fused gate+up projection is 768 -> 6144), row-major with our `sgemm(transA, transB, M, N, K, ...)` convention:
 * - forward `Y = X W^T` (NT): Wqkv 768 -> 2304, GeGLU up 768 -> 6144, down 3072 -> 768, attention out 768 -> 768;
 * - backward `dX = dY W` (NN): from 2304, from 6144, and dX of the down projection (M=4096, N=3072, K=768);
 * - backward `dW += dY^T X` (TN, K = 4096 tokens): Wqkv [2304, 768], GeGLU up [6144, 768], down [768, 3072].
 * GFLOP/s = 2 M N K / median time; % of peak uses {@link measurePeak} (the native FMA probe, same threads).
 *
 * The OpenBLAS peer is bench/peers/openblas_sgemm.c, compiled at bench time into .tmp/ with
 * `cc -O2 ... -lopenblas` and run with OPENBLAS_NUM_THREADS = our thread count; if cc or libopenblas is missing,
 * numpy (`/usr/bin/python3`, whose matmul is OpenBLAS on Debian) is tried; if neither works the peer columns say
 * 'not available'. OpenBLAS is never linked into the package.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native } from '../kernels/native.js';
import { type BenchRow, timeMedian } from './types.js';

type SgemmFn = (transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number) => void;

interface Shape { name: string; tA: boolean; tB: boolean; M: number; N: number; K: number; }

const T = 4096, H = 768, I = 3072;

/** The benchmark shapes (MosaicBERT-base, 4096 tokens). */
export const SGEMM_SHAPES: Shape[] = [
  { name: `NT ${T}x${H} -> ${3 * H} (Wqkv fwd)`, tA: false, tB: true, M: T, N: 3 * H, K: H },
  { name: `NT ${T}x${H} -> ${2 * I} (GeGLU up fwd)`, tA: false, tB: true, M: T, N: 2 * I, K: H },
  { name: `NT ${T}x${I} -> ${H} (down fwd)`, tA: false, tB: true, M: T, N: H, K: I },
  { name: `NT ${T}x${H} -> ${H} (attn out fwd)`, tA: false, tB: true, M: T, N: H, K: H },
  { name: `NN dX ${T}x${3 * H} -> ${H}`, tA: false, tB: false, M: T, N: H, K: 3 * H },
  { name: `NN dX ${T}x${2 * I} -> ${H}`, tA: false, tB: false, M: T, N: H, K: 2 * I },
  { name: `NN dX ${T}x${H} -> ${I}`, tA: false, tB: false, M: T, N: I, K: H },
  { name: `TN dW ${3 * H}x${H} (K=${T})`, tA: true, tB: false, M: 3 * H, N: H, K: T },
  { name: `TN dW ${2 * I}x${H} (K=${T})`, tA: true, tB: false, M: 2 * I, N: H, K: T },
  { name: `TN dW ${H}x${I} (K=${T})`, tA: true, tB: false, M: H, N: I, K: T },
];

const shapeArg = (s: Shape) => `${s.tA ? 'T' : 'N'},${s.tB ? 'T' : 'N'},${s.M},${s.N},${s.K}`;

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/** Compiles the OpenBLAS harness into .tmp/peers (once; rebuilt when the source is newer). Null on failure. */
function buildOpenblasPeer(): string | null {
  const root = packageRoot();
  const src = join(root, 'bench', 'peers', 'openblas_sgemm.c');
  if (!existsSync(src)) return null;
  const outDir = join(root, '.tmp', 'peers');
  const exe = join(outDir, 'openblas_sgemm');
  try {
    if (existsSync(exe) && statSync(exe).mtimeMs >= statSync(src).mtimeMs) return exe;
    mkdirSync(outDir, { recursive: true });
    const r = spawnSync('cc', ['-O2', src, '-o', exe, '-I/usr/include/x86_64-linux-gnu', '-lopenblas'],
      { encoding: 'utf8' });
    return r.status === 0 && existsSync(exe) ? exe : null;
  } catch {
    return null;
  }
}

const NUMPY_PEER = `
import json, sys, time
import numpy as np
min_ms = float(sys.argv[1]); min_reps = int(sys.argv[2]); out = []
rng = np.random.default_rng(0)
for s in sys.argv[3:]:
    ta, tb, M, N, K = s.split(','); M, N, K = int(M), int(N), int(K)
    A = rng.standard_normal((K, M) if ta == 'T' else (M, K), dtype=np.float32)
    B = rng.standard_normal((N, K) if tb == 'T' else (K, N), dtype=np.float32)
    a = A.T if ta == 'T' else A; b = B.T if tb == 'T' else B
    C = np.empty((M, N), dtype=np.float32)
    for _ in range(2): np.matmul(a, b, out=C)
    ts = []; t0 = time.perf_counter()
    while len(ts) < min_reps or (time.perf_counter() - t0) * 1e3 < min_ms:
        t = time.perf_counter(); np.matmul(a, b, out=C); ts.append((time.perf_counter() - t) * 1e3)
    ts.sort(); out.append({'shape': s, 'ms': ts[len(ts) // 2], 'reps': len(ts)})
print(json.dumps(out))
`;

interface PeerResult { name: string; ms: Map<string, number>; }

/** Runs the peer on the shapes with `threads` threads; null when no peer could run. */
function runPeer(shapes: Shape[], threads: number, minMs: number, minReps: number): PeerResult | null {
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
  const args = shapes.map(shapeArg);
  const parse = (stdout: string): Map<string, number> | null => {
    try {
      const rows = JSON.parse(stdout) as Array<{ shape: string; ms: number }>;
      return new Map(rows.map((r) => [r.shape, r.ms]));
    } catch {
      return null;
    }
  };
  const exe = buildOpenblasPeer();
  if (exe) {
    const r = spawnSync(exe, ['--min-ms', String(minMs), '--min-reps', String(minReps), ...args],
      { env, encoding: 'utf8', maxBuffer: 1 << 20 });
    const ms = r.status === 0 ? parse(r.stdout) : null;
    if (ms) return { name: 'OpenBLAS sgemm', ms };
  }
  if (existsSync('/usr/bin/python3')) {
    const r = spawnSync('/usr/bin/python3', ['-c', NUMPY_PEER, String(minMs), String(minReps), ...args],
      { env, encoding: 'utf8', maxBuffer: 1 << 20 });
    const ms = r.status === 0 ? parse(r.stdout) : null;
    if (ms) return { name: 'OpenBLAS sgemm (via numpy)', ms };
  }
  return null;
}

/** Measured fp32 peak of the machine in GFLOP/s with the current thread count (native FMA probe, ~200 ms). */
export function measurePeak(): number {
  return native().measurePeakGflops(200);
}

function randomF32(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = ((s >>> 8) & 0xffff) / 65536 - 0.5;
  }
  return a;
}

function timeShape(fn: SgemmFn, s: Shape, minMs: number, minReps: number, warmup: number): number {
  const A = randomF32(s.M * s.K, 1), B = randomF32(s.K * s.N, 2), C = new Float32Array(s.M * s.N);
  const lda = s.tA ? s.M : s.K, ldb = s.tB ? s.K : s.N;
  return timeMedian(() => fn(s.tA, s.tB, s.M, s.N, s.K, 1, A, lda, B, ldb, 0, C, s.N), { warmup, minReps, minMs });
}

/**
 * Benchmarks the sgemm family. `threads` sets the pool size for the run (restored afterwards; default: current);
 * `quick` uses two shapes and short timings (CI smoke). Rows: one per shape for the winner (`sgemm`) with the
 * OpenBLAS peer, then version rows (v1, v2, ...) on one or two shapes.
 */
export async function benchSgemm(opts: { threads?: number; quick?: boolean } = {}): Promise<BenchRow[]> {
  const addon = native();
  const prevThreads = addon.numThreads();
  if (opts.threads !== undefined && opts.threads !== prevThreads) {
    addon.setNumThreads(opts.threads);
  }
  try {
    const threads = addon.numThreads();
    const quick = opts.quick ?? false;
    const shapes = quick ? [SGEMM_SHAPES[0], SGEMM_SHAPES[7]] : SGEMM_SHAPES;
    const minMs = quick ? 100 : 1000, minReps = quick ? 2 : 5, warmup = quick ? 1 : 2;
    const peak = measurePeak();
    const rows: BenchRow[] = [];
    const tag = `${threads}T ${addon.kernelPath()}`;
    let peerMissing = false;
    for (const s of shapes) {
      const flops = 2 * s.M * s.N * s.K;
      // The peer runs right before ours on each shape, so both see the same machine load (it varies a lot on a
      // shared machine); after a failure it is not retried.
      const peer: PeerResult | null = peerMissing ? null : runPeer([s], threads, minMs, minReps);
      peerMissing = peer === null;
      const ms = timeShape(addon.sgemm, s, minMs, minReps, warmup);
      const gflops = flops / ms / 1e6;
      const row: BenchRow = { kernel: `sgemm (${tag})`, shape: s.name, ms, gflops, pctPeak: (gflops / peak) * 100 };
      const pms = peer?.ms.get(shapeArg(s));
      if (peer && pms !== undefined) {
        row.peer = peer.name;
        row.peerGflops = flops / pms / 1e6;
        row.ratio = gflops / row.peerGflops;
      } else {
        row.peer = 'OpenBLAS sgemm';
        row.note = 'peer not available';
      }
      rows.push(row);
    }
    // Numbered versions on one or two shapes (v1 is slow: short timings).
    const vShapes = quick ? [SGEMM_SHAPES[3]] : [SGEMM_SHAPES[0], SGEMM_SHAPES[7]];
    const versions: Array<[string, SgemmFn | undefined]> = [['v1', addon.sgemmV1], ['v2', addon.sgemmV2]];
    const path = addon.kernelPath();
    for (const s of vShapes) {
      const flops = 2 * s.M * s.N * s.K;
      for (const [v, fn] of versions) {
        if (!fn) continue;
        // v1 has no AVX2 code (one portable implementation); v2+ are also timed on the portable path.
        const paths: Array<'avx2' | 'portable'> = v === 'v1' || path === 'portable' ? [path] : [path, 'portable'];
        for (const p of paths) {
          addon.setKernelPath(p);
          try {
            const slow = v === 'v1' || p === 'portable';
            const ms = timeShape(fn, s, slow ? Math.min(minMs, 300) : minMs, slow ? 1 : minReps, slow ? 0 : warmup);
            const gflops = flops / ms / 1e6;
            rows.push({ kernel: `sgemm ${v} (${threads}T ${v === 'v1' ? 'portable' : p})`, shape: s.name, ms, gflops,
              pctPeak: (gflops / peak) * 100 });
          } finally {
            addon.setKernelPath(path);
          }
        }
      }
    }
    for (const r of rows) r.note = [r.note, `peak ${peak.toFixed(0)} GFLOP/s`].filter(Boolean).join('; ');
    return rows;
  } finally {
    if (opts.threads !== undefined && opts.threads !== prevThreads) {
      addon.setNumThreads(prevThreads);
    }
  }
}
