/** `mosaicbert bench accuracy`: fp32 / INT8 / sparse backends on a fine-tuned classifier's GLUE dev predictions. */
import type { Command } from 'commander';
import { runAccuracyBench } from '../bench/accuracy.js';
import { intOpt } from './options.js';

/** Parses `--sparsities` ('0.9', '0.8,0.9', or '' for none); throws naming the flag. */
function sparsities(s: string): number[] {
  const v = s.split(',').map((x) => x.trim()).filter(Boolean).map(Number);
  for (const x of v) if (!(x > 0 && x < 1)) throw new Error(`--sparsities: values must be in (0, 1), got '${s}'`);
  return v;
}

/** Registers `accuracy` under the `bench` command. */
export function registerBenchAccuracy(bench: Command): void {
  bench
    .command('accuracy')
    .description('A fine-tuned classifier on a GLUE dev set (default SST-2) in fp32 prepared and INT8: accuracy of ' +
      'each, difference in points, max logit difference, flipped predictions; and magnitude-pruned copies (unstructured ' +
      'and 4-block) in fp32 sparse vs dense-with-zeros and q8 sparse; writes JSON and bench/RESULTS.md')
    .requiredOption('--model <dir>', 'fine-tuned classifier folder (e.g. <finetune --out>/model)')
    .option('--task <name>', 'GLUE task whose dev split is read', 'sst2')
    .option('--data-dir <dir>', 'GLUE data folder', '../shared/data/glue')
    .option('--sparsities <list>', "sparsities of the gmp-pruned copies ('' for none)", '0.9')
    .option('--threads <n>', 'kernel threads (default MOSAICBERT_NUM_THREADS or all cores)')
    .option('--batch-size <n>', 'examples per forward', '32')
    .option('--json <file>', 'results JSON', 'bench/accuracy.json')
    .option('--out <file>', 'results file', 'bench/RESULTS.md')
    .action(async (o: { model: string; task: string; dataDir: string; sparsities: string; threads?: string; batchSize: string;
      json: string; out: string }) => {
      const command = ['node bin/mosaicbert.js bench accuracy', `--model ${o.model}`, o.task !== 'sst2' ? `--task ${o.task}` : '',
        o.sparsities !== '0.9' ? `--sparsities '${o.sparsities}'` : '', o.threads ? `--threads ${o.threads}` : '']
        .filter(Boolean).join(' ');
      await runAccuracyBench({ model: o.model, task: o.task, dataDir: o.dataDir, sparsities: sparsities(o.sparsities),
        threads: intOpt(o.threads, '--threads', 1, 1024), batchSize: intOpt(o.batchSize, '--batch-size')!, json: o.json,
        out: o.out, command });
    });
}
