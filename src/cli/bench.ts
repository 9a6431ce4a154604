/** `mosaicbert bench kernels`: kernel GFLOP/s against the machine's peak and peers; writes bench/RESULTS.md. */
import type { Command } from 'commander';
import { KERNEL_BENCH_FAMILIES, type KernelBenchFamily, runKernelBench } from '../bench/kernels.js';
import { registerBenchLong } from './bench_long.js';
import { runOnnxBench } from '../bench/onnx.js';
import { intOpt } from './options.js';
import { registerBenchServe } from './bench_serve.js';
import { registerBenchAccuracy } from './bench_accuracy.js';

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('Benchmarks (results written to bench/RESULTS.md)');
  bench
    .command('kernels')
    .description('SGEMM at MosaicBERT-base training shapes vs OpenBLAS, fused attention vs materialized SxS, ' +
      'inference linears (pre-packed dense, sparse, INT8) vs SGEMM with the dense/sparse crossovers')
    .option('--quick', 'fewer shapes and repetitions (smoke test)', false)
    .option('--threads <n>', 'kernel threads (default MOSAICBERT_NUM_THREADS or all cores)')
    .option('--out <file>', 'results file', 'bench/RESULTS.md')
    .option('--only <families>', `comma-separated subset of ${KERNEL_BENCH_FAMILIES.join(', ')} (default: all)`)
    .action(async (o: { quick: boolean; threads?: string; out: string; only?: string }) => {
      let only: KernelBenchFamily[] | undefined;
      if (o.only !== undefined) {
        only = o.only.split(',').map((f) => f.trim()) as KernelBenchFamily[];
        const bad = only.filter((f) => !KERNEL_BENCH_FAMILIES.includes(f));
        if (bad.length > 0) program.error(`--only: unknown kernel family '${bad.join(', ')}' (known: ${KERNEL_BENCH_FAMILIES.join(', ')})`);
      }
      await runKernelBench({ quick: o.quick, threads: intOpt(o.threads, '--threads', 1, 1024), out: o.out, only });
    });
  registerBenchLong(bench);
  registerBenchServe(bench);
  registerBenchAccuracy(bench);
  bench
    .command('onnx')
    .description('Base-sized encoder inference vs ONNX Runtime (onnxruntime-node dev dependency), same weights: ' +
      'batch 1 x 128 and batch 32 mixed lengths')
    .option('--threads <n>', 'threads for both engines (default MOSAICBERT_NUM_THREADS or all cores)')
    .option('--reps-small <n>', 'timed runs of batch 1', '7')
    .option('--reps-large <n>', 'timed runs of batch 32', '3')
    .option('--dtype <d>', "our weights: fp32 (pre-packed once, as the pipelines), q8 (INT8) or dense (the training path)", 'fp32')
    .option('--out <file>', 'results file', 'bench/RESULTS.md')
    .action(async (o: { threads?: string; repsSmall: string; repsLarge: string; out: string; dtype: string }) => {
      if (!['fp32', 'q8', 'dense'].includes(o.dtype)) throw new Error(`--dtype: expected fp32, q8 or dense, got '${o.dtype}'`);
      const command = ['node bin/mosaicbert.js bench onnx', o.threads ? `--threads ${o.threads}` : '', o.dtype !== 'fp32' ? `--dtype ${o.dtype}` : '',
        o.repsSmall !== '7' ? `--reps-small ${o.repsSmall}` : '', o.repsLarge !== '3' ? `--reps-large ${o.repsLarge}` : '']
        .filter(Boolean).join(' ');
      await runOnnxBench({ threads: intOpt(o.threads, '--threads', 1, 1024), repsSmall: intOpt(o.repsSmall, '--reps-small')!,
        repsLarge: intOpt(o.repsLarge, '--reps-large')!, out: o.out, command, dtype: o.dtype as 'fp32' | 'q8' | 'dense' });
    });
}
