/**
 * `mosaicbert finetune --task <name> --model <dir>`: fine-tunes one GLUE task (or a CSV/TSV/JSONL dataset) with
 * the reference protocol (the reference's `glue.py` and `yamls/finetuning/glue/mosaic-bert-base-uncased.yaml`) and writes `<out>/model/` and `<out>/metrics.json`.
 */
import { resolve, join } from 'node:path';
import type { Command } from 'commander';
import { setNumThreads } from '../kernels/native.js';
import { finetune, type FinetuneOptions } from '../glue/finetune.js';
import { finetuneProgress, formatEvalMetrics } from '../glue/progress.js';
import { glueTask } from '../glue/tasks.js';
import { distillationFlags, intOpt, numOpt } from './options.js';
import { endDistributed, parseZeroStage, startDistributed, ZERO_OPTION } from './distributed.js';


interface FinetuneCliOptions {
  task?: string; model: string; dataDir: string; seed?: string; shuffle: boolean; maxSteps?: string; out?: string;
  outputRoot: string; mnliCheckpoint?: string; mnli: boolean; randomInit: boolean; lr?: string; weightDecay?: string;
  epochs?: string; batchSize?: string; evalInterval?: string; maxTrainExamples?: string; maxEvalExamples?: string;
  threads?: string; progress: boolean; save: boolean; resume: boolean; allowResumeMismatch: boolean; allowMissingWeights: boolean;
  saveInterval?: string; microbatchSize?: string; recipe?: string; teacher?: string; hardness?: string; temperature?: string; zero?: string;
  train?: string; dev?: string; textColumn?: string; textPairColumn?: string; labelColumn?: string; regression: boolean; format?: string;
}

export function registerFinetune(program: Command): void {
  program
    .command('finetune')
    .description('Fine-tune a sequence classifier on a GLUE task with the reference protocol (per-task lr/wd/epochs/batch, ' +
      'max_seq_len 256, 6% warmup then linear to 0, no shuffling, eval every eval_interval and at the end)')
    .option('--task <name>', 'mnli | qnli | qqp | sst2 | cola | rte | mrpc | stsb | wnli (or custom with --train/--dev)')
    .requiredOption('--model <dir>', 'starting model: HF folder, pretraining run folder, checkpoint ba<step>/, or preset:<name> (random init)')
    .option('--data-dir <dir>', 'GLUE data folder', '../shared/data/glue')
    .option('--seed <n>', "seed (default: the task's first reference seed, 19)")
    .option('--shuffle', 'shuffle the train set every epoch (the reference does not)', false)
    .option('--max-steps <n>', 'stop after N steps (the schedule spans them): smoke runs')
    .option('--out <dir>', 'run folder (default <output-root>/<task>/seed<seed>)')
    .option('--output-root <dir>', 'root of GLUE runs (MNLI checkpoints are looked up under <root>/mnli/)', 'runs/glue')
    .option('--mnli-checkpoint <dir>', 'MNLI fine-tuned model for RTE/MRPC/STS-B (default: found under the output root)')
    .option('--no-mnli', 'start RTE/MRPC/STS-B from --model, not from an MNLI checkpoint')
    .option('--random-init', "use only --model's config; initialise all weights randomly (baseline)", false)
    .option('--lr <x>', 'override the learning rate')
    .option('--weight-decay <x>', 'override the weight decay')
    .option('--epochs <n>', 'override the epochs')
    .option('--batch-size <n>', 'override the batch size')
    .option('--eval-interval <n>', 'override the eval interval (batches)')
    .option('--max-train-examples <n>', 'use only the first N train examples')
    .option('--max-eval-examples <n>', 'use only the first N dev examples')
    .option('--train <file>', 'custom task: train file (.csv, .tsv, .jsonl)')
    .option('--dev <file>', 'custom task: dev file')
    .option('--text-column <name>', 'custom task: text column', 'text')
    .option('--text-pair-column <name>', 'custom task: second text column')
    .option('--label-column <name>', 'custom task: label column', 'label')
    .option('--regression', 'custom task: float targets (MSE, Pearson/Spearman)', false)
    .option('--format <f>', 'custom task: csv | tsv | jsonl (default from the extension)')
    .option('--threads <n>', 'native kernel threads')
    .option('--no-save', 'do not write the fine-tuned model')
    .option('--resume', 'continue from the newest checkpoint in <out>/checkpoints (bit-identical)', false)
    .option('--allow-missing-weights', 'start from a model that lacks encoder/embedding weights (randomly initialised)', false)
    .option('--allow-resume-mismatch', 'resume even if the seed, batch size or data order differ from the checkpoint', false)
    .option('--save-interval <n>', 'checkpoint every N steps (default: the eval interval; 0: never)')
    .option('--microbatch-size <n>', 'rows per microbatch (default: the whole batch; same gradient)')
    .option('--recipe <file>', 'SparseML recipe YAML: gradual oBERT/GMP pruning, LR rewinding, epochs, distillation settings')
    .option('--teacher <dir>', 'distillation teacher: a fine-tuned classifier folder for the same task')
    .option('--hardness <x>', "distillation weight in [0, 1] (default: the recipe's, else 1.0)")
    .option('--temperature <x>', "distillation temperature (default: the recipe's, else 2.0)")
    .option(...ZERO_OPTION)
    .option('--no-progress', 'no progress bar')
    .action(async (o: FinetuneCliOptions) => {
      if (o.threads) setNumThreads(intOpt(o.threads, '--threads', 1, 1024)!);
      const zeroStage = parseZeroStage(o.zero);
      // Under `mpirun -np N`: data-parallel ranks; rank 0 alone prints, evaluates and saves.
      const coll = startDistributed(!!o.threads);
      const isRoot = !coll || coll.rank === 0;
      const custom = o.train || o.dev;
      if (custom && !(o.train && o.dev)) throw new Error('a custom task needs both --train and --dev');
      if (!custom && !o.task) throw new Error('--task is required (or --train/--dev for a custom dataset)');
      const name = custom ? (o.task ?? 'custom') : glueTask(o.task!).name;
      const seed = intOpt(o.seed, '--seed', 0) ?? (custom ? 19 : glueTask(name).seeds[0]);
      const hparams: FinetuneOptions['hparams'] = {};
      const set = <K extends keyof NonNullable<FinetuneOptions['hparams']>>(k: K, v: number | undefined) => { if (v !== undefined) hparams[k] = v; };
      set('lr', numOpt(o.lr, '--lr', true)); set('weight_decay', numOpt(o.weightDecay, '--weight-decay'));
      set('epochs', intOpt(o.epochs, '--epochs')); set('batch_size', intOpt(o.batchSize, '--batch-size'));
      set('eval_interval', intOpt(o.evalInterval, '--eval-interval'));
      const outDir = resolve(o.out ?? join(o.outputRoot, name, `seed${seed}`));
      const pb = finetuneProgress(o.progress && isRoot);
      try {
        const r = await finetune({
          task: custom ? undefined : name, custom: custom ? { name, train: o.train!, dev: o.dev!, textColumn: o.textColumn!,
            textPairColumn: o.textPairColumn, labelColumn: o.labelColumn!, regression: o.regression,
            format: o.format as 'csv' | 'tsv' | 'jsonl' | undefined } : undefined,
          model: o.model, dataDir: o.dataDir, seed, shuffle: o.shuffle, maxSteps: intOpt(o.maxSteps, '--max-steps'),
          maxTrainExamples: intOpt(o.maxTrainExamples, '--max-train-examples'),
          maxEvalExamples: intOpt(o.maxEvalExamples, '--max-eval-examples'), outDir, outputRoot: resolve(o.outputRoot),
          mnliCheckpoint: o.mnli ? o.mnliCheckpoint : null, randomInit: o.randomInit, hparams, save: o.save,
          resume: o.resume, allowResumeMismatch: o.allowResumeMismatch, allowMissingWeights: o.allowMissingWeights, saveInterval: intOpt(o.saveInterval, '--save-interval', 0),
          microbatchSize: intOpt(o.microbatchSize, '--microbatch-size'),
          recipe: o.recipe, teacher: o.teacher,
          distillation: distillationFlags(o),
          onEvent: pb.onEvent, warn: (m) => { if (isRoot) console.error(`warning: ${m}`); }, collectives: coll, zeroStage,
        });
        pb.stop();
        endDistributed();
        if (!isRoot) return;
        console.log(`${r.task} seed ${r.seed}: ${formatEvalMetrics(r.final.metrics)} (score ${(100 * r.final.score).toFixed(2)}) ` +
          `after ${r.total_steps} steps, ${r.wall_time_s.toFixed(1)} s`);
        if (r.pruning) console.log(`sparsity of the pruned weights: ${(100 * r.pruning.final_sparsity).toFixed(2)}% (${r.pruning.events.length} pruning steps)`);
        console.log(`metrics: ${join(outDir, 'metrics.json')}${r.model_dir ? `\nmodel: ${r.model_dir}` : ''}`);
      } finally {
        pb.stop();
      }
    });
}
