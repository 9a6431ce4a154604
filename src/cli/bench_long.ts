/** `mosaicbert bench long-input`: base-sized encoder forward over 1024..8192-token inputs, time and peak RSS. */
import type { Command } from 'commander';
import { measureLongInput, runLongInputBench } from '../bench/long_input.js';
import { intOpt } from './options.js';

function lengths(s: string, flag: string): number[] {
  const v = s.split(',').filter(Boolean).map(Number);
  for (const n of v) if (!Number.isInteger(n) || n < 2) throw new Error(`${flag}: lengths must be integers >= 2, got '${s}'`);
  return v;
}

/** Registers `long-input` under the `bench` command. */
export function registerBenchLong(bench: Command): void {
  bench
    .command('long-input')
    .description('Base-sized MosaicBERT forward over ONE sequence of each length (ALiBi past 512), each in a fresh ' +
      'process: ms, tokens/s, peak RSS; writes bench/RESULTS.md')
    .option('--lengths <list>', 'comma-separated token counts', '1024,2048,4096,8192')
    .option('--compare <list>', 'also run these lengths with per-layer (training) buffers', '')
    .option('--threads <n>', 'kernel threads (default MOSAICBERT_NUM_THREADS or all cores)')
    .option('--out <file>', 'results file', 'bench/RESULTS.md')
    .option('--child <tokens>', '(internal) measure one length in this process and print JSON')
    .option('--training-buffers', '(internal, with --child) per-layer buffers instead of inference mode', false)
    .option('--dtype <d>', '(internal, with --child) prepare the projections first: fp32 or q8')
    .action((o: { lengths: string; compare: string; threads?: string; out: string; child?: string; trainingBuffers: boolean; dtype?: string }) => {
      const threads = intOpt(o.threads, '--threads', 1, 1024);
      if (o.dtype !== undefined && o.dtype !== 'fp32' && o.dtype !== 'q8') throw new Error(`--dtype: expected fp32 or q8, got '${o.dtype}'`);
      if (o.child) {
        console.log(JSON.stringify(measureLongInput(intOpt(o.child, '--child', 2)!, { inference: !o.trainingBuffers, threads,
          dtype: o.dtype as 'fp32' | 'q8' | undefined })));
        return;
      }
      const cmd = ['node bin/mosaicbert.js bench long-input', `--lengths ${o.lengths}`,
        o.compare ? `--compare ${o.compare}` : '', o.threads ? `--threads ${o.threads}` : ''].filter(Boolean).join(' ');
      runLongInputBench({ lengths: lengths(o.lengths, '--lengths'), compare: o.compare ? lengths(o.compare, '--compare') : [],
        threads, out: o.out, command: cmd });
    });
}
