/**
 * Data-parallel training on Open MPI: the launch environment (`mpirun -np N ...` sets OMPI_COMM_WORLD_SIZE / _RANK),
 * the optional MPI addon (`build/Release/mosaicbert_mpi.node`, built by `npm run build:native` only when Open MPI's
 * mpicxx and headers are installed) and {@link MpiCollectives}, the {@link Collectives} it provides.
 *
 * All MPI calls run on the JS thread (MPI_THREAD_FUNNELED). Every collective is waited on until a deadline
 * (`MOSAICBERT_MPI_TIMEOUT` seconds, default 900: it must exceed rank 0's evaluation and checkpoint time), after
 * which the rank throws instead of hanging; {@link abortJob} then ends the whole job.
 */
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../kernels/native.js';
import type { Collectives } from './collectives.js';

/** The raw exports of the MPI addon (native/mpi/mpi.cc). */
interface MpiAddon {
  mpiInit(): { rank: number; size: number; library: string };
  mpiBarrier(timeoutMs: number): void;
  mpiBroadcast(buf: Float32Array, root: number, timeoutMs: number): void;
  mpiAllreduceSum(buf: Float32Array, timeoutMs: number): void;
  mpiAllgatherF64(send: Float64Array, timeoutMs: number): Float64Array;
  mpiAllgatherv(buf: Float32Array, bounds: Float64Array, timeoutMs: number): void;
  mpiGatherv(send: Float32Array, recv: Float32Array | null, bounds: Float64Array, root: number, timeoutMs: number): void;
  mpiAbort(code: number): void;
  mpiFinalize(): void;
}

/** The install line of the error messages and the README. */
export const MPI_INSTALL_HINT = "install Open MPI (Debian/Ubuntu: 'apt-get install -y libopenmpi-dev openmpi-bin'), " +
  "then rebuild the addon with 'npm run build:native' (or 'npm rebuild mosaicbert')";

/** The job this process belongs to according to the launcher's environment, or null when not under mpirun. */
export function launchEnvironment(env: NodeJS.ProcessEnv = process.env): { rank: number; size: number; localSize: number } | null {
  const size = Number(env.OMPI_COMM_WORLD_SIZE ?? NaN);
  if (!Number.isInteger(size) || size < 1) return null;
  const rank = Number(env.OMPI_COMM_WORLD_RANK ?? 0);
  const localSize = Number(env.OMPI_COMM_WORLD_LOCAL_SIZE ?? size);
  return { rank, size, localSize: Number.isInteger(localSize) && localSize >= 1 ? localSize : size };
}

let addon: MpiAddon | null = null;

/**
 * Loads the MPI addon (with RTLD_GLOBAL, as Open MPI's plugins need libmpi's symbols).
 * @param path the addon file (default `build/Release/mosaicbert_mpi.node` of the package).
 * @throws Error saying what to install and how to rebuild when the package was built without Open MPI.
 */
export function mpiAddon(path = join(packageRoot(), 'build', 'Release', 'mosaicbert_mpi.node')): MpiAddon {
  if (addon) return addon;
  if (!existsSync(path)) {
    throw new Error(`distributed training needs the MPI addon (${path}), which was not built because Open MPI was ` +
      `not found when the package was built: ${MPI_INSTALL_HINT}`);
  }
  const mod = { exports: {} as MpiAddon };
  try {
    process.dlopen(mod, path, constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL);
  } catch (e) {
    throw new Error(`cannot load the MPI addon ${path}: ${(e as Error).message}; ${MPI_INSTALL_HINT}`);
  }
  addon = mod.exports;
  return addon;
}

/** The deadline of every collective, from MOSAICBERT_MPI_TIMEOUT (seconds, default 900). */
export function collectiveTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const s = env.MOSAICBERT_MPI_TIMEOUT === undefined ? 900 : Number(env.MOSAICBERT_MPI_TIMEOUT);
  if (!(Number.isFinite(s) && s > 0)) throw new Error(`MOSAICBERT_MPI_TIMEOUT: expected seconds > 0, got '${env.MOSAICBERT_MPI_TIMEOUT}'`);
  return Math.round(s * 1000);
}

/** {@link Collectives} over MPI_COMM_WORLD. */
export class MpiCollectives implements Collectives {
  readonly rank: number;
  readonly size: number;
  readonly library: string;
  seconds = 0;
  private readonly a: MpiAddon;

  /** Initialises MPI (MPI_Init_thread, FUNNELED; errors return). */
  constructor(readonly timeoutMs = collectiveTimeoutMs()) {
    this.a = mpiAddon();
    const i = this.a.mpiInit();
    this.rank = i.rank; this.size = i.size; this.library = i.library;
  }

  private timed<T>(f: () => T): T {
    const t0 = performance.now();
    try { return f(); } finally { this.seconds += (performance.now() - t0) / 1000; }
  }

  allreduceSum(g: Float32Array): void { this.timed(() => this.a.mpiAllreduceSum(g, this.timeoutMs)); }

  sumF64(v: Float64Array): Float64Array {
    const all = this.timed(() => this.a.mpiAllgatherF64(v, this.timeoutMs));
    const out = new Float64Array(v.length);
    for (let r = 0; r < this.size; r++) for (let i = 0; i < v.length; i++) out[i] += all[r * v.length + i];
    return out;
  }

  allgather(buf: Float32Array, bounds: Float64Array): void { this.timed(() => this.a.mpiAllgatherv(buf, bounds, this.timeoutMs)); }

  gather(send: Float32Array, recv: Float32Array | null, bounds: Float64Array, root: number): void {
    this.timed(() => this.a.mpiGatherv(send, recv, bounds, root, this.timeoutMs));
  }

  broadcast(buf: Float32Array, root: number): void { this.timed(() => this.a.mpiBroadcast(buf, root, this.timeoutMs)); }

  barrier(): void { this.timed(() => this.a.mpiBarrier(this.timeoutMs)); }

  finalize(): void { this.a.mpiFinalize(); }

  /** MPI_Abort: ends every rank of the job with `code` (mpirun reports it). */
  abort(code: number): never {
    this.a.mpiAbort(code);
    process.exit(code);
  }
}

/**
 * The collectives of this process when it runs under mpirun with more than one rank, else null (single process).
 * @throws Error with the install line when launched by mpirun with N > 1 but built without Open MPI.
 */
export function collectivesFromEnv(): MpiCollectives | null {
  const env = launchEnvironment();
  if (!env || env.size === 1) return null;
  try {
    return new MpiCollectives();
  } catch (e) {
    throw new Error(`this process is rank ${env.rank} of ${env.size} under mpirun, but ${(e as Error).message}`);
  }
}
