/**
 * `mosaicbert glue --model <dir>`: every GLUE task found in the data folder over its reference seeds, then the
 * paper-style table (per task the mean over metrics and seeds; the average) as text, Markdown and JSON.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { setNumThreads } from '../kernels/native.js';
import { formatGlueTable, runGlue } from '../glue/suite.js';
import { endDistributed, parseZeroStage, startDistributed, ZERO_OPTION } from './distributed.js';
import { finetuneProgress } from '../glue/progress.js';
import { intOpt } from './options.js';
import { formatDuration } from '../train/time.js';

interface GlueCliOptions {
  model: string; dataDir: string; tasks?: string[]; seeds?: string[]; outputRoot: string; randomInit: boolean; allowMissingWeights: boolean;
  shuffle: boolean; maxSteps?: string; maxTrainExamples?: string; maxEvalExamples?: string; saveAll: boolean;
  mnliCheckpoint?: string; mnli: boolean; threads?: string; progress: boolean; zero?: string;
}

export function registerGlue(program: Command): void {
  program
    .command('glue')
    .description('Run the GLUE fine-tuning suite (reference protocol and seeds) and print the paper-style table')
    .requiredOption('--model <dir>', 'starting model: HF folder, pretraining run folder, checkpoint, or preset:<name>')
    .option('--data-dir <dir>', 'GLUE data folder', '../shared/data/glue')
    .option('--tasks <names...>', 'tasks to run (default: all found, WNLI excluded as in the reference)')
    .option('--seeds <n...>', "seeds for every task (default: each task's reference seeds)")
    .option('--output-root <dir>', 'runs go to <root>/<task>/seed<seed>/, the table to <root>/glue.{txt,md,json}', 'runs/glue')
    .option('--random-init', "use only --model's config; random weights (baseline)", false)
    .option('--allow-missing-weights', 'start from a model that lacks encoder/embedding weights (randomly initialised)', false)
    .option('--shuffle', 'shuffle the train sets (the reference does not)', false)
    .option('--max-steps <n>', 'cap every run at N steps (smoke)')
    .option('--max-train-examples <n>', 'use only the first N train examples of each task')
    .option('--max-eval-examples <n>', 'use only the first N dev examples of each task')
    .option('--save-all', 'save every fine-tuned model (default: only MNLI, which RTE/MRPC/STS-B start from)', false)
    .option('--mnli-checkpoint <dir>', 'MNLI model for round 2 (default: this suite\'s MNLI run, if any)')
    .option('--no-mnli', 'start RTE/MRPC/STS-B from --model')
    .option('--threads <n>', 'native kernel threads')
    .option(...ZERO_OPTION)
    .option('--no-progress', 'no progress bar')
    .action(async (o: GlueCliOptions) => {
      if (o.threads) setNumThreads(intOpt(o.threads, '--threads', 1, 1024)!);
      const zeroStage = parseZeroStage(o.zero);
      // Under `mpirun -np N`: every fine-tuning run is data-parallel; rank 0 alone prints and writes the tables.
      const coll = startDistributed(!!o.threads);
      const isRoot = !coll || coll.rank === 0;
      const root = resolve(o.outputRoot);
      const pb = finetuneProgress(o.progress && isRoot, '', 100);
      let res;
      try {
        res = await runGlue({
          model: o.model, dataDir: o.dataDir, tasks: o.tasks, seeds: o.seeds?.map((s) => intOpt(s, '--seeds', 0)!),
          outputRoot: root, randomInit: o.randomInit, allowMissingWeights: o.allowMissingWeights, shuffle: o.shuffle, maxSteps: intOpt(o.maxSteps, '--max-steps'),
          maxTrainExamples: intOpt(o.maxTrainExamples, '--max-train-examples'),
          maxEvalExamples: intOpt(o.maxEvalExamples, '--max-eval-examples'), saveAll: o.saveAll,
          mnliCheckpoint: o.mnli ? o.mnliCheckpoint : null,
          onRun: (t, seed, i, n) => { if (isRoot) console.error(`== [${i + 1}/${n}] ${t} seed ${seed}`); },
          onEvent: pb.onEvent, warn: (m) => { if (isRoot) console.error(`warning: ${m}`); },
          extra: coll || zeroStage ? { collectives: coll, zeroStage } : undefined,
        });
      } finally {
        pb.stop();
      }
      endDistributed();
      if (!isRoot) return;
      for (const [t, why] of Object.entries(res.skipped)) console.error(`skipped ${t}: ${why}`);
      console.log(formatGlueTable(res, 'text'));
      console.log(`table: ${root}/glue.txt, ${root}/glue.md, ${root}/glue.json (${formatDuration(res.wall_time_s)})`);
    });
}
