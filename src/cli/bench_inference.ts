/** `mosaicbert bench inference`: dense / sparse, fp32 / INT8 encoder inference vs ONNX Runtime fp32 and INT8. */
import type { Command } from 'commander';
import { runInferenceBench } from '../bench/inference.js';
import { intOpt } from './options.js';

function parseCases(s: string): Array<'a' | 'b'> {
  const v = s.split(',').map((x) => x.trim()).filter(Boolean);
  for (const c of v) if (c !== 'a' && c !== 'b') throw new Error(`--cases: expected a comma-separated subset of a, b, got '${s}'`);
  if (v.length === 0) throw new Error('--cases: empty list');
  return v as Array<'a' | 'b'>;
}

function parseSparsities(s: string): number[] {
  const v = s.split(',').map((x) => x.trim()).filter(Boolean).map(Number);
  for (const x of v) if (!(x > 0 && x < 1)) throw new Error(`--sparsities: each must be a number in (0, 1), got '${s}'`);
  return v;
}

/** Registers `inference` under the `bench` command. */
export function registerBenchInference(bench: Command): void {
  bench
    .command('inference')
    .description('Base-sized encoder inference: ours dense / sparse (unstructured and 1x4 block, by magnitude) in fp32 ' +
      'and INT8 vs ONNX Runtime fp32 and ONNX Runtime dynamic INT8 on the same weights, engines alternating; ' +
      'batch 1 x 128 and batch 32 mixed lengths (a superset of `bench onnx`)')
    .option('--threads <n>', 'threads for every engine (default MOSAICBERT_NUM_THREADS or all cores)')
    .option('--cases <list>', 'a (1 x 128) and/or b (32 mixed)', 'a,b')
    .option('--sparsities <list>', 'pruned states, each unstructured and block4', '0.8,0.9,0.97')
    .option('--reps-small <n>', 'timed runs of every engine for case a', '7')
    .option('--reps-large <n>', 'timed runs of every engine for case b', '3')
    .option('--long <tokens>', 'also one sequence of this many tokens, dense prepared fp32, in a child process (0: skip)', '0')
    .option('--long-compare', 'with --long: also the unprepared path, as the ratio\'s peer', false)
    .option('--quick', 'smoke run: 90% only, 3 runs of (a) and 1 of (b), no long input (about 3 min)', false)
    .option('--out <file>', 'results file', 'bench/RESULTS.md')
    .action(async (o: { threads?: string; cases: string; sparsities: string; repsSmall: string; repsLarge: string;
      long: string; longCompare: boolean; quick: boolean; out: string }) => {
      const threads = intOpt(o.threads, '--threads', 1, 1024);
      const cases = parseCases(o.cases);
      const sparsities = o.quick ? [0.9] : parseSparsities(o.sparsities);
      const repsSmall = o.quick ? 3 : intOpt(o.repsSmall, '--reps-small', 1)!;
      const repsLarge = o.quick ? 1 : intOpt(o.repsLarge, '--reps-large', 1)!;
      const long = o.quick ? 0 : intOpt(o.long, '--long', 0)!;
      const command = ['node bin/mosaicbert.js bench inference', o.quick ? '--quick' : '', o.threads ? `--threads ${o.threads}` : '',
        o.cases !== 'a,b' ? `--cases ${o.cases}` : '', !o.quick && o.sparsities !== '0.8,0.9,0.97' ? `--sparsities ${o.sparsities}` : '',
        !o.quick && o.repsSmall !== '7' ? `--reps-small ${o.repsSmall}` : '', !o.quick && o.repsLarge !== '3' ? `--reps-large ${o.repsLarge}` : '',
        long ? `--long ${long}` : '', long && o.longCompare ? '--long-compare' : ''].filter(Boolean).join(' ');
      await runInferenceBench({ threads, cases, sparsities, repsSmall, repsLarge, long, longCompare: o.longCompare, out: o.out, command });
    });
}
