/**
 * Child-process side of test/kernels/pool.test.ts (not a test file itself): runs one failure scenario against the
 * native thread pool and prints one JSON line for the parent to check. A child process keeps a crash
 * (std::terminate on a worker) or a hang from taking the test runner down; it also starts with empty per-thread
 * scratch and pack buffers, so injected allocation failures fire where the scenario expects them.
 *
 *   node pool_child.js tasks <threads>            throwing tasks of every kind and place (the `_testPoolThrow` hook),
 *                                                 each followed by a liveness check of the pool
 *   node pool_child.js allocs <threads> <0|1>     sgemm (both kernel paths) and attention forward/backward; with 1,
 *                                                 the first call of each fails by an injected allocation failure
 *                                                 (`_testFailNextAllocs`) and is retried
 */
import { createHash } from 'node:crypto';
import { native, type NativeAddon } from '../../src/kernels/native.js';
import { alibiSlopes } from '../../src/kernels/reference/attention.js';
import { randn, rng } from '../helpers.js';

type Kind = Parameters<NativeAddon['_testPoolThrow']>[0];
type At = Parameters<NativeAddon['_testPoolThrow']>[2];

/** One `_testPoolThrow` case: what the hook threw (or returned), then the pool's state right after. */
export interface TaskCase {
  kind: Kind;
  at: At;
  message: string | null;
  /** `_testPoolThrow('none', 64, 'worker')` right after the failure: every thread must still take part. */
  after: { tasks: number; threads: number };
}

export interface TasksReport { threads: number; cases: TaskCase[]; axpbyOk: boolean }

export interface AllocsReport {
  threads: number;
  /** The message of each injected failure (null: the call did not throw), in call order. */
  errors: Array<{ call: string; message: string | null; pending: number }>;
  /** sha256 of each retried call's outputs (bit-level), keyed by call. */
  digests: Record<string, string>;
  /** Max |sgemm - exact| over the integer-valued products (must be 0, see pool.test.ts). */
  sgemmMaxErr: Record<string, number>;
}

const m = native();

function digest(...arrays: Float32Array[]): string {
  const h = createHash('sha256');
  for (const a of arrays) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
}

function tasks(): TasksReport {
  const cases: TaskCase[] = [];
  const kinds: Kind[] = ['bad_alloc', 'error', 'scratch', 'nonstd'];
  const ats: At[] = [5, 'caller', 'every', 'worker'];
  for (const kind of kinds) {
    for (const at of ats) {
      let message: string | null = null;
      try {
        m._testPoolThrow(kind, 64, at);
      } catch (e) {
        message = (e as Error).message;
      }
      cases.push({ kind, at, message, after: m._testPoolThrow('none', 64, 'worker') });
    }
  }
  // A real kernel after all of that: y = x + y over fixed parallel chunks, then the sum of squares.
  const n = 64 * 1024, x = new Float32Array(n).fill(1), y = new Float32Array(n);
  let axpbyOk = true;
  for (let it = 0; it < 50; it++) {
    y.fill(0);
    m.axpby(n, 1, x, 1, y);
    if (m.sumSquares(y, n) !== n) axpbyOk = false;
  }
  return { threads: m.numThreads(), cases, axpbyOk };
}

function allocs(inject: boolean): AllocsReport {
  const errors: AllocsReport['errors'] = [];
  const digests: Record<string, string> = {};
  const sgemmMaxErr: Record<string, number> = {};
  // Runs `fn` once; with `inject`, first makes its next checked allocation fail and expects it to throw.
  const call = (name: string, fn: () => Float32Array[]): Float32Array[] => {
    if (inject) {
      m._testFailNextAllocs(1);
      let message: string | null = null;
      try {
        fn();
      } catch (e) {
        message = (e as Error).message;
      }
      errors.push({ call: name, message, pending: m._testFailNextAllocs(0) });
    }
    const out = fn();
    digests[name] = digest(...out);
    return out;
  };

  // SGEMM on integer data in [-2, 2]: every product and partial sum is an integer of magnitude <= 4 * K = 1024,
  // exact in float32, so the result is exact whatever the order of operations.
  const r = rng(7);
  const K = 256, N = 256;
  const ints = (n: number) => Float32Array.from({ length: n }, () => Math.floor(r() * 5) - 2);
  const B = ints(K * N);
  const paths: Array<'portable' | 'avx2'> = m.hasAvx2() ? ['portable', 'avx2'] : ['portable'];
  for (const path of paths) {
    m.setKernelPath(path);
    // Warm-up with 6 rows: the shared B panel buffer reaches its full size, the per-thread A block buffers stay
    // small, so the next call's first allocation is an A block buffer grown inside a pool task.
    const A6 = ints(6 * K);
    m.sgemm(false, false, 6, N, K, 1, A6, K, B, N, 0, new Float32Array(6 * N), N);
    const M = 300, A = ints(M * K);
    const [C] = call(`sgemm/${path}`, () => {
      const out = new Float32Array(M * N);
      m.sgemm(false, false, M, N, K, 1, A, K, B, N, 0, out, N);
      return [out];
    });
    let err = 0;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
        err = Math.max(err, Math.abs(C[i * N + j] - s));
      }
    }
    sgemmMaxErr[path] = err;
  }
  m.setKernelPath('auto');

  // Attention (per-thread scratch from mb::thread_scratch): forward, then backward (a larger scratch).
  const lengths = [40, 17, 64], H = 4, d = 16;
  const cu = new Int32Array(lengths.length + 1);
  lengths.forEach((L, i) => { cu[i + 1] = cu[i] + L; });
  const nnz = cu[lengths.length];
  const qkv = randn(nnz * 3 * H * d, r), dOut = randn(nnz * H * d, r), slopes = alibiSlopes(H);
  const [out, lse] = call('attentionForward', () => {
    const o = new Float32Array(nnz * H * d), l = new Float32Array(H * nnz);
    m.attentionForward(qkv, cu, lengths.length, H, d, slopes, 0.1, 3, 1, o, l);
    return [o, l];
  });
  call('attentionBackward', () => {
    const dqkv = new Float32Array(nnz * 3 * H * d);
    m.attentionBackward(qkv, cu, lengths.length, H, d, slopes, 0.1, 3, 1, out, lse, dOut, dqkv);
    return [dqkv];
  });
  return { threads: m.numThreads(), errors, digests, sgemmMaxErr };
}

const [mode, threadsArg, injectArg] = process.argv.slice(2);
m.setNumThreads(Number(threadsArg));
if (mode === 'tasks') console.log(JSON.stringify(tasks()));
else if (mode === 'allocs') console.log(JSON.stringify(allocs(injectArg === '1')));
else throw new Error(`pool_child: unknown mode '${mode}' (expected 'tasks' or 'allocs')`);
