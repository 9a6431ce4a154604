/**
 * Launching test/distributed/worker.ts under mpirun, for the MPI test files (not a test file itself): whether the
 * tests can run (mpirun and the MPI addon present, else the reason to skip), Open MPI's settings for CI (root, 2
 * cores) and {@link mpirun}.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import type { FinetuneOptions } from '../../src/glue/finetune.js';
import { join } from 'node:path';
import { packageRoot } from '../../src/kernels/native.js';

const root = packageRoot();
const worker = join(root, 'dist', 'test', 'distributed', 'worker.js');
const hasMpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' }).status === 0;
const hasAddon = existsSync(join(root, 'build', 'Release', 'mosaicbert_mpi.node'));
/** false, or why the MPI tests are skipped. */
export const mpiSkip: string | false = !hasMpirun ? 'mpirun not found (apt-get install -y libopenmpi-dev openmpi-bin)'
  : !hasAddon ? 'the MPI addon was not built (Open MPI headers missing at build time; npm run build:native)' : false;
// CI runs as root on 2 cores: Open MPI's run-as-root consent and oversubscription are set here, not in user paths.
const MPI_ENV = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', OMPI_MCA_rmaps_base_oversubscribe: '1' };

/** Runs the worker on `np` ranks with `job` (worker.ts's Job); resolves with the exit code, the time and the output. */
export function mpirun(np: number, job: object, env: Record<string, string> = {}, onSpawn?: (pid: number) => void):
  Promise<{ code: number | null; signal: string | null; seconds: number; stderr: string }> {
  return new Promise((res) => {
    const t0 = Date.now();
    const p = spawn('mpirun', ['-np', String(np), process.execPath, worker],
      { env: { ...MPI_ENV, ...env, MB_WORKER: JSON.stringify(job) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    p.stdout.on('data', (d) => { stderr += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    onSpawn?.(p.pid!);
    p.on('close', (code, signal) => res({ code, signal, seconds: (Date.now() - t0) / 1000, stderr }));
  });
}

/**
 * A toy sentence-classification task (48 rows, two labels) written to `<dir>/ft.tsv`, and the fine-tuning options of
 * a 3-step run of the tiny preset on it (train = dev), for the distributed fine-tuning tests.
 */
export function toyFinetune(dir: string, outDir: string, extra: Partial<FinetuneOptions> = {}): FinetuneOptions {
  const rows = ['sentence\tlabel'];
  const words = ['good', 'bad', 'fine', 'awful', 'great', 'poor', 'nice', 'dull'];
  for (let i = 0; i < 48; i++) rows.push(`${words[i % 8]} ${words[(i * 3) % 8]} film ${words[(i * 5) % 8]}\t${(i % 8) % 2}`);
  writeFileSync(join(dir, 'ft.tsv'), rows.join('\n') + '\n');
  return { model: 'preset:mosaic-bert-tiny', outDir, seed: 7, maxSteps: 3,
    custom: { name: 'toy', train: join(dir, 'ft.tsv'), dev: join(dir, 'ft.tsv'), textColumn: 'sentence', labelColumn: 'label' },
    hparams: { batch_size: 8, lr: 1e-3, eval_interval: 3 }, maxSeqLen: 16, saveInterval: 0, warn: () => {}, ...extra };
}
