/**
 * The command line's side of data-parallel runs: `mpirun -np N mosaicbert pretrain|finetune ...` is detected from
 * the launcher's environment (src/distributed/mpi.ts); the job's collectives are started once, each rank defaults
 * to cores / ranks-per-machine kernel threads, and a failing rank prints its error with its rank and ends the whole
 * job (MPI_Abort) instead of leaving the others waiting.
 */
import { availableParallelism } from 'node:os';
import { getNumThreads, setNumThreads } from '../kernels/native.js';
import { collectivesFromEnv, launchEnvironment, type MpiCollectives } from '../distributed/mpi.js';

export { parseZeroStage } from '../distributed/zero.js';

/** The `--zero <stage>` option of pretrain, finetune and glue (commander's flags and description). */
export const ZERO_OPTION = ['--zero <stage>', 'ZeRO stage under mpirun: 1 shards the AdamW moments over the ranks (prints ' +
  'the bytes per rank; a single process warns and ignores it), 0 every rank holds them all (default: 0)'] as const;

let job: MpiCollectives | null = null;

/**
 * Starts MPI when this process runs under mpirun with more than one rank; null otherwise (a single process,
 * unchanged). Sets the kernel threads to cores / local ranks unless `threadsSet` (--threads or the config's threads)
 * or MOSAICBERT_NUM_THREADS chose them.
 * @throws Error with the install line when launched by mpirun but built without Open MPI.
 */
export function startDistributed(threadsSet: boolean): MpiCollectives | null {
  job = collectivesFromEnv();
  const env = launchEnvironment();
  if (job && env && !threadsSet && process.env.MOSAICBERT_NUM_THREADS === undefined) {
    setNumThreads(Math.max(1, Math.floor(availableParallelism() / env.localSize)));
  }
  if (job && job.rank === 0) {
    console.error(`distributed: ${job.size} ranks (Open MPI), ${getNumThreads()} kernel threads per rank; rank 0 logs, ` +
      'evaluates and writes checkpoints');
  }
  return job;
}

/** Ends MPI at the end of a successful command (no-op in a single process). */
export function endDistributed(): void {
  job?.finalize();
  job = null;
}

/** After an error: in a distributed job, prints it with the rank and aborts every rank with `code`; else returns. */
export function abortDistributed(message: string, code: number): void {
  if (!job) return;
  console.error(`mosaicbert (rank ${job.rank} of ${job.size}): ${message}; ending the job`);
  job.abort(code);
}
