/**
 * Loads the C++ addon (`build/Release/mosaicbert.node`, built by `npm install`) and exposes it as a {@link Kernels}
 * implementation plus the runtime controls (thread count, kernel path).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernels } from './types.js';

/** The addon's raw exports: every {@link Kernels} method under the same name, plus runtime controls. */
export interface NativeAddon extends Omit<Kernels, 'name'> {
  numThreads(): number;
  setNumThreads(n: number): number;
  kernelPath(): 'avx2' | 'portable';
  setKernelPath(path: 'avx2' | 'portable' | 'auto'): string;
  hasAvx2(): boolean;
  /** `out[i] = uniform(seed, stream, start + i)` from Philox4x32-10 (see native/common/philox.h). */
  philoxUniform(out: Float32Array, seed: number, stream: number, start: number): void;
  /** Measured fp32 FMA peak of the machine in GFLOP/s: independent FMA chains on every pool thread for ~ms. */
  measurePeakGflops(ms: number): number;
  /** Numbered SGEMM versions (benchmarks and tests): v1 blocked baseline, v2 packed + AVX2 micro-kernel. */
  sgemmV1: Kernels['sgemm'];
  sgemmV2: Kernels['sgemm'];
  /** The materialized SxS attention peer (benchmark), same contract as the fused kernel. */
  attentionMaterializedForward: Kernels['attentionForward'];
  attentionMaterializedBackward: Kernels['attentionBackward'];
  /** The float32 erf of the GELU kernels (accuracy tests). */
  erfFloat32(x: Float32Array, n: number, out: Float32Array): void;
  /**
   * Test hook (native/common/test_hooks.cc): one parallel job of `ntasks` tasks that throw `kind` ('bad_alloc';
   * 'error': a std::runtime_error; 'scratch': a real 4 EiB `thread_scratch` request; 'nonstd': a non-std C++
   * exception; 'none': nothing) in the task(s) chosen by `at`: a task index, 'caller' (the calling thread's first
   * task), 'worker' (every task a pool worker runs) or 'every'. With 2+ threads and `ntasks >= numThreads()`, the
   * first task of each thread waits (up to 10 s, then throws) until the calling thread and a worker have both
   * started one, so both always take part. Throws an Error "mosaicbert native _testPoolThrow: <cause> in task T of N on <thread>";
   * otherwise returns how many tasks ran and on how many distinct threads.
   */
  _testPoolThrow(kind: 'none' | 'bad_alloc' | 'error' | 'scratch' | 'nonstd', ntasks: number,
    at: number | 'caller' | 'worker' | 'every'): { tasks: number; threads: number };
  /**
   * Test hook: the next `n` checked aligned allocations (thread scratch, SGEMM pack buffers), on any thread, fail
   * with std::bad_alloc; 0 cancels. Returns how many injected failures were still pending.
   */
  _testFailNextAllocs(n: number): number;
  /** Elements of `buf` to skip so that `buf.subarray(n)` starts on a 64-byte boundary. */
  alignOffset64(buf: Float32Array | Uint8Array | Int8Array): number;
  /** Floats of W [out, in] packed into the current path's SGEMM v2 B panels (native/kernels/gemm/sgemm_prepacked.h). */
  linearPackedSize(out: number, inFeatures: number): number;
  /** Packs W [out, in] into `packed` (64-byte aligned, linearPackedSize floats); returns the path it is laid out for. */
  linearPack(W: Float32Array, out: number, inFeatures: number, packed: Float32Array): 'avx2' | 'portable';
  /** Y[rows, out] = X[rows, in] W^T + bias on packed W; bit-identical to sgemm(false, true) + addBias. */
  linearPackedForward(packed: Float32Array, path: string, out: number, inFeatures: number, bias: Float32Array | null,
    X: Float32Array, rows: number, Y: Float32Array): void;
  linearPackedForwardV1: NativeAddon['linearPackedForward'];
  linearPackedForwardV2: NativeAddon['linearPackedForward'];
  /**
   * Y[rows, out] = X[rows, in] W^T + bias for row-stored weights (native/kernels/sparse/sparse_linear.h): 'csr',
   * 'bsr4' (1x4 blocks along K, idx = block column), 'q8-bsr4', 'q8-dense' (int8 bytes in a Uint8Array view,
   * per-row scales `wscale`; rowptr/idx null for q8-dense, whose rows are padded to a multiple of 4 columns).
   */
  sparseLinearForward(kind: 'csr' | 'bsr4' | 'q8-bsr4' | 'q8-dense', out: number, inFeatures: number,
    rowptr: Int32Array | null, idx: Int32Array | null, vals: Float32Array | Uint8Array, wscale: Float32Array | null,
    bias: Float32Array | null, X: Float32Array, rows: number, Y: Float32Array): void;
  /** Numbered versions of the AVX2 sparse/int8 kernels (fp32: v1 row walk, v2 K-blocked, v3 K-blocked with chunk
   * tasks and weight prefetch, v4 row walk with a one-line Xt prefetch, the winner; int8: v1 vpmaddubsw sign trick,
   * v2 AVX-512 VNNI when the CPU has it, v3 and v4 as q8LinearForwardV3 with rowCorr null); the portable path has
   * one version. */
  sparseLinearForwardV1: NativeAddon['sparseLinearForward'];
  sparseLinearForwardV2: NativeAddon['sparseLinearForward'];
  sparseLinearForwardV3: NativeAddon['sparseLinearForward'];
  sparseLinearForwardV4: NativeAddon['sparseLinearForward'];
  /**
   * Version 3 of the int8 kinds only ('q8-dense', 'q8-bsr4'; native/kernels/quant/qlinear_v3_avx2.cc): AVX-512
   * VNNI on zmm, dense rows register-blocked 8 at a time, when the CPU has VNNI, else v1; bit-identical to v1/v2.
   * Arguments as {@link sparseLinearForward}, plus `rowCorr`: Int32Array[out], 128 * (sum of row o's int8 weights)
   * wrapped to int32 (the correction of the kernel's q + 128 activation offset, computed once by the caller), or
   * null to have the kernel compute it on every call.
   */
  q8LinearForwardV3(kind: 'q8-bsr4' | 'q8-dense', out: number, inFeatures: number, rowptr: Int32Array | null,
    idx: Int32Array | null, vals: Uint8Array, wscale: Float32Array, bias: Float32Array | null, X: Float32Array,
    rows: number, Y: Float32Array, rowCorr: Int32Array | null): void;
  /**
   * Pruning (native/kernels/pruning/, contract and shapes in src/pruning/kernels.ts `PruningKernels`): rank-1
   * Woodbury updates of a block Fisher inverse `finv [ceil(d/B), B, B]` with `nGrads` gradients `grads [nGrads, d]`.
   */
  fisherInverseUpdate(finv: Float32Array, grads: Float32Array, nGrads: number, d: number, blockSize: number, m: number): void;
  /** OBS saliencies: `out [d]` (unstructured) or `[d/4]` (block4); mask 0 gives -inf. */
  obsScores(finv: Float32Array, weight: Float32Array, mask: Uint8Array | null, d: number, blockSize: number,
    block4: boolean, out: Float32Array): void;
  /** OBS weight update of the newly pruned weights (`pruned [d]`, 1 = pruned now), then exact zeros there. */
  obsUpdate(finv: Float32Array, weight: Float32Array, pruned: Uint8Array, d: number, blockSize: number, block4: boolean): void;
  /** Marks the k smallest scores (ties: lower index first) with keep 0, the rest 1; returns the k-th smallest. */
  selectSmallest(scores: Float32Array, n: number, k: number, keep: Uint8Array): number;
}

export function packageRoot(): string {
  // dist/src/kernels/native.js -> package root is three levels up; src/kernels/native.ts (ts-node style) two.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('mosaicbert: cannot locate the package root (binding.gyp) from ' + fileURLToPath(import.meta.url));
}

let cached: NativeAddon | null = null;

/**
 * Checks the environment variables the addon reads when it loads (native/common/pool.cc, cpu.cc), which would
 * otherwise fall back silently (`MOSAICBERT_NUM_THREADS=abc` -> all cores, `MOSAICBERT_KERNEL=bogus` -> auto).
 * @throws Error naming the variable, its value and the accepted values.
 */
export function checkKernelEnv(env: NodeJS.ProcessEnv = process.env): void {
  const t = env.MOSAICBERT_NUM_THREADS;
  if (t !== undefined && !(/^\s*\d+\s*$/.test(t) && Number(t) >= 1 && Number(t) <= 1024)) {
    throw new Error(`MOSAICBERT_NUM_THREADS: expected a kernel thread count, an integer in [1, 1024], got '${t}' (unset it for all cores)`);
  }
  const k = env.MOSAICBERT_KERNEL;
  if (k !== undefined && !['auto', 'avx2', 'portable'].includes(k)) {
    throw new Error(`MOSAICBERT_KERNEL: expected the kernel path 'auto', 'avx2' or 'portable', got '${k}'`);
  }
}

/**
 * The addon, loaded once. Throws an Error naming the expected path and the fix (`npm rebuild mosaicbert` or
 * `npm run build:native`) when it was not built.
 */
export function native(): NativeAddon {
  if (cached) return cached;
  const root = packageRoot();
  const path = join(root, 'build', 'Release', 'mosaicbert.node');
  if (!existsSync(path)) {
    throw new Error(`mosaicbert: native addon not found at ${path}. Build it with 'npm run build:native' ` +
      `(needs g++ and Node's headers).`);
  }
  checkKernelEnv();
  const require = createRequire(import.meta.url);
  const addon = require(path) as NativeAddon;
  if (process.env.MOSAICBERT_KERNEL === 'avx2') {
    if (!addon.hasAvx2()) throw new Error("MOSAICBERT_KERNEL=avx2: this CPU lacks AVX2+FMA; use 'auto' or 'portable'");
    addon.setKernelPath('avx2');
  }
  cached = addon;
  return cached;
}

const KERNEL_METHODS = [
  'sgemm', 'addBias', 'biasGrad', 'attentionForward', 'attentionBackward', 'layerNormForward', 'layerNormBackward',
  'geluForward', 'geluBackward', 'gegluForward', 'gegluBackward', 'tanhForward', 'tanhBackward', 'dropoutForward',
  'dropoutBackward', 'embeddingForward', 'embeddingBackward', 'crossEntropyForward', 'crossEntropyBackward', 'distillationLoss',
  'gatherRows', 'scatterRows', 'scatterAddRows', 'axpby', 'sumSquares', 'adamwStep',
] as const satisfies readonly (keyof Kernels)[];

let kernels: Kernels | null = null;

/** The native {@link Kernels}: the addon's functions, called directly (no wrapper per call). */
export function nativeKernels(): Kernels {
  if (kernels) return kernels;
  const addon = native();
  const k: Record<string, unknown> = { name: 'native' };
  for (const m of KERNEL_METHODS) {
    const fn = (addon as unknown as Record<string, unknown>)[m];
    k[m] = typeof fn === 'function' ? fn : () => {
      throw new Error(`mosaicbert: native kernel '${m}' is not in this build`);
    };
  }
  kernels = k as unknown as Kernels;
  return kernels;
}

/** Threads the kernels use (`MOSAICBERT_NUM_THREADS`, default all cores). */
export function getNumThreads(): number {
  return native().numThreads();
}

/** Resizes the kernel thread pool; 0 restores the default. Returns the new size. */
export function setNumThreads(n: number): number {
  return native().setNumThreads(n);
}

/** Which SIMD path the kernels take now: 'avx2' (AVX2+FMA) or 'portable'. */
export function getKernelPath(): 'avx2' | 'portable' {
  return native().kernelPath();
}

/** Forces a kernel path ('auto' = AVX2 when the CPU has it). Throws if 'avx2' is not available. */
export function setKernelPath(path: 'avx2' | 'portable' | 'auto'): void {
  native().setKernelPath(path);
}
