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
  const require = createRequire(import.meta.url);
  cached = require(path) as NativeAddon;
  return cached;
}

const KERNEL_METHODS = [
  'sgemm', 'addBias', 'biasGrad', 'attentionForward', 'attentionBackward', 'layerNormForward', 'layerNormBackward',
  'geluForward', 'geluBackward', 'gegluForward', 'gegluBackward', 'tanhForward', 'tanhBackward', 'dropoutForward',
  'dropoutBackward', 'embeddingForward', 'embeddingBackward', 'crossEntropyForward', 'crossEntropyBackward',
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
