/**
 * `mosaicbert pretrain [config.yaml]`: MLM pretraining with the reference recipe (see src/train/trainer.ts),
 * then a summary: validation MLM loss and accuracy next to the unigram entropy of the validation tokens, mean
 * throughput and MFU, fill-mask on a few sentences, and `<run>/report.html`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { getNumThreads, setNumThreads } from '../kernels/native.js';
import { loadConfig } from '../train/config.js';
import { ensurePrepared, findData } from '../train/data.js';
import { findResumeCheckpoint, listCheckpoints, removeIncompleteCheckpoints } from '../train/checkpoint.js';
import { repairRunLog } from '../train/run_log.js';
import { cleanUpFailedRun, outermostMissing, removeEmptyFoldersUpTo } from '../train/run_cleanup.js';
import { unigramEntropy } from '../train/metrics.js';
import { formatDuration } from '../train/time.js';
import { Trainer, TrainingDivergedError, type TrainEvent } from '../train/trainer.js';
import { fillMaskPipeline } from '../pipelines/fill_mask.js';
import { writeReport } from '../report/html.js';
import { prepareProgressBar } from './prepare.js';
import { distillationFlags, intOpt } from './options.js';
import { loadRecipe } from '../pruning/recipe.js';
import { endDistributed, parseZeroStage, startDistributed, ZERO_OPTION } from './distributed.js';

/** The sentences the summary fills in. */
export const DEMO_SENTENCES = [
  'The capital of France is [MASK].',
  'The war ended in [MASK].',
  'She was a famous [MASK] and writer.',
];

interface PretrainOptions {
  preset?: string;
  data?: string[];
  runDir?: string;
  maxDuration?: string;
  resume?: boolean;
  allowResumeMismatch?: boolean;
  set: string[];
  seed?: string;
  threads?: string;
  lr?: string;
  globalBatchSize?: string;
  microbatchSize?: string;
  evalInterval?: string;
  saveInterval?: string;
  progress: boolean;
  fillMask?: string[];
  recipe?: string;
  teacher?: string;
  hardness?: string;
  temperature?: string;
  zero?: string;
}

export function registerPretrain(program: Command): void {
  program
    .command('pretrain')
    .description('Pretrain a MosaicBERT MLM (the reference recipe: DecoupledAdamW, linear warmup/decay, microbatches, ' +
      'eval at 15% masking, atomic checkpoints, bit-identical --resume)')
    .argument('[config]', 'YAML config (the reference mosaicml/examples keys; the reference YAML loads as it is)')
    .option('--preset <name>', 'mosaic-bert-base | mosaic-bert-small | mosaic-bert-mini | mosaic-bert-tiny (a config file overrides it)')
    .option('--data <paths...>', 'raw text files/folders or a prepared folder (else MOSAICBERT_DATA, data_local, ../shared/data/wikipedia)')
    .option('--run-dir <dir>', 'run folder (default runs/<run_name>)')
    .option('--max-duration <time>', "e.g. 2000ba, 286720000sp, 5000000tok, 1ep, or wall clock '10min' (timed into batches at the start)")
    .option('--resume', 'continue from the newest complete checkpoint of the run (bit-identical)', false)
    .option('--allow-resume-mismatch', 'resume even if the seed, microbatch size or data order differ from the checkpoint (the random streams then differ)', false)
    .option('--set <key=value>', 'override a config key, e.g. --set optimizer.lr=1e-3 (repeatable)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--seed <n>', 'seed')
    .option('--threads <n>', 'native kernel threads (default: MOSAICBERT_NUM_THREADS or all cores)')
    .option('--lr <lr>', 'peak learning rate (optimizer.lr)')
    .option('--global-batch-size <n>', 'global_train_batch_size')
    .option('--microbatch-size <n>', 'device_train_microbatch_size')
    .option('--eval-interval <time>', 'eval_interval')
    .option('--save-interval <time>', 'save_interval')
    .option('--recipe <file>', 'SparseML recipe YAML (upstream oBERT): gradual pruning, LR functions, distillation settings; epochs = epochs of the train split')
    .option('--teacher <dir>', 'distillation teacher: an MLM model folder with the same vocab_size')
    .option('--hardness <x>', "distillation weight in [0, 1] (default: the recipe's, else 1.0)")
    .option('--temperature <x>', "distillation temperature (default: the recipe's, else 5.5)")
    .option('--no-progress', 'no progress bar (one line per console_log_interval instead)')
    .option(...ZERO_OPTION)
    .option('--fill-mask <texts...>', 'sentences with one [MASK] to fill at the end (default: three examples)')
    .action(async (file: string | undefined, o: PretrainOptions) => {
      const overrides = [...o.set];
      const flags: Record<string, string> = {};
      const flag = (key: string, name: string, v: string | undefined) => {
        if (v === undefined) return;
        overrides.push(`${key}=${v}`);
        flags[key] = name;
      };
      intOpt(o.threads, '--threads', 1, 1024);
      const zeroStage = parseZeroStage(o.zero);
      flag('max_duration', '--max-duration', o.maxDuration); flag('seed', '--seed', o.seed); flag('optimizer.lr', '--lr', o.lr);
      flag('global_train_batch_size', '--global-batch-size', o.globalBatchSize);
      flag('device_train_microbatch_size', '--microbatch-size', o.microbatchSize);
      flag('eval_interval', '--eval-interval', o.evalInterval); flag('save_interval', '--save-interval', o.saveInterval);
      flag('threads', '--threads', o.threads);
      const { config: cfg, warnings } = loadConfig({ file, preset: o.preset, overrides, flags });
      for (const w of warnings) console.error(`warning: ${w}`);
      if (cfg.threads > 0) setNumThreads(cfg.threads);
      // Under `mpirun -np N`: data-parallel ranks; rank 0 alone prints, logs, evaluates and writes.
      const coll = startDistributed(cfg.threads > 0);
      const isRoot = !coll || coll.rank === 0;
      const out = (s: string) => { if (isRoot) console.error(s); };
      for (const w of warnings) out(`warning: ${w}`);
      const runDir = resolve(o.runDir ?? join('runs', cfg.run_name));
      const resuming = o.resume || cfg.autoresume || cfg.load_path !== null;
      const ckDir = cfg.save_folder ? resolve(runDir, cfg.save_folder.replaceAll('{run_name}', cfg.run_name)) : join(runDir, 'checkpoints');
      if (isRoot) for (const p of removeIncompleteCheckpoints(ckDir)) console.error(`removed ${p} (left by an interrupted save or removal)`);
      if (!resuming && listCheckpoints(ckDir).length) {
        throw new Error(`${runDir} already holds checkpoints; pass --resume to continue that run, or --run-dir for a new one`);
      }
      // --resume / autoresume: the newest checkpoint that verifies, naming what was wrong with newer ones.
      let resumeFrom: string | undefined;
      if ((o.resume || cfg.autoresume) && cfg.load_path === null) {
        const found = findResumeCheckpoint(ckDir);
        for (const s of found.skipped) out(`warning: skipping checkpoint ${s.dir}: ${s.problem}`);
        if (found.dir) resumeFrom = found.dir;
        else if (o.resume) {
          throw new Error(`--resume: no intact checkpoint in ${ckDir}` + (found.skipped.length ? ` (${found.skipped.length} damaged, named above)` : ''));
        }
      }
      const repaired = isRoot ? repairRunLog(join(runDir, 'log.jsonl')) : null;
      if (repaired?.message) out(`warning: ${repaired.message}`);
      const createdRunDir = !existsSync(runDir);

      // Data: find, prepare into a cache beside the runs (shared by runs with the same data settings).
      const sel = findData(cfg, o.data);
      const key = createHash('sha256').update(JSON.stringify([sel.inputs, cfg.max_seq_len, cfg.data_mode, cfg.val_fraction, cfg.seed])).digest('hex').slice(0, 12);
      const cacheRoot = join(dirname(runDir), '.cache'), cache = join(cacheRoot, `prepared-${key}`);
      const createdTop = outermostMissing(cache);
      out(`data: ${sel.inputs.join(', ')} (from ${sel.source})`);
      const pb = prepareProgressBar(o.progress && isRoot);
      if (coll && !isRoot) coll.barrier();   // rank 0 prepares the cache first; the others then find it ready
      let data;
      try {
        data = await ensurePrepared(sel.inputs, cache, cfg, pb.update);
      } catch (e) {
        // prepare() removed the dataset folder it created; the empty parents this run created (.cache/, runs/) go too.
        if (isRoot) removeEmptyFoldersUpTo(cacheRoot, createdTop);
        throw e;
      } finally {
        pb.stop();
      }
      if (coll && isRoot) coll.barrier();
      out(`data: ${data.dir}${data.prepared ? ' (prepared now)' : ''}: train ${data.train.num_samples} samples` +
        `${data.val ? `, val ${data.val.num_samples}` : ', no validation split (no evaluation)'}`);

      // Progress display.
      const multi = o.progress && cfg.progress_bar && isRoot ? new cliProgress.MultiBar({
        format: '{bar} {percentage}% | step {value}/{total} | loss {loss} | {tps} tok/s | MFU {mfu}% | lr {lr} | ETA {etaf}',
        barsize: 24, hideCursor: true, noTTYOutput: true, notTTYSchedule: 30000, etaBuffer: 50,
      }, cliProgress.Presets.shades_classic) : null;
      let bar: cliProgress.SingleBar | null = null;
      const say = (s: string) => (multi && process.stderr.isTTY ? multi.log(s + '\n') : console.error(s));
      let logEvery = 1, tokUnits = false;
      const onEvent = (e: TrainEvent) => {
        if (e.type === 'warning') {
          say(`warning: ${e.message}`);
        } else if (e.type === 'calibrate') {
          say(`max_duration ${cfg.max_duration.value}${cfg.max_duration.unit}: ${e.seconds_per_step.toFixed(2)} s/step measured -> ${e.total_batches} steps`);
        } else if (e.type === 'start') {
          say(`${e.resumed_from ? `resuming from ${e.resumed_from} at step ${e.step}` : 'training'}: ${cfg.run_name}, ` +
            `${(e.params / 1e6).toFixed(1)}M params, global batch ${e.global_batch} (microbatch ${e.microbatch}), ` +
            `${e.total.value} ${e.total.unit === 'ba' ? 'steps' : 'tokens'}, ${getNumThreads()} threads, run ${runDir}`);
          tokUnits = e.total.unit === 'tok';
          logEvery = e.total.unit === 'ba' ? Math.max(1, Math.round(cfg.console_log_interval.unit === 'ba' ? cfg.console_log_interval.value : 1)) : 1;
          if (multi) bar = multi.create(e.total.unit === 'ba' ? e.total.value : 100, e.total.unit === 'ba' ? e.step : 0,
            { loss: '-', tps: '-', mfu: '-', lr: '-', etaf: '?' });
        } else if (e.type === 'step') {
          const payload = { loss: e.loss.toFixed(4), tps: e.tokens_per_s.toFixed(0), mfu: (100 * e.mfu).toFixed(1),
            lr: e.lr.toExponential(2), etaf: formatDuration(e.eta_s) };
          if (bar) bar.update(tokUnits ? Math.round(100 * e.progress) : e.step, payload);
          else if (cfg.log_to_console && e.step % logEvery === 0) {
            console.error(`step ${e.step}/${e.total} loss ${payload.loss} lr ${payload.lr} ${payload.tps} tok/s MFU ${payload.mfu}% ETA ${payload.etaf}`);
          }
        } else if (e.type === 'eval') {
          say(`eval @ step ${e.step}: loss ${e.loss.toFixed(4)}, accuracy ${(100 * e.accuracy).toFixed(2)}% (${e.num_targets} targets, ${e.seconds.toFixed(1)} s)`);
        } else if (e.type === 'prune') {
          say(`pruned (${e.method}) @ step ${e.step} (epoch ${e.epoch.toFixed(2)}): target ${(100 * e.target).toFixed(1)}%, ` +
            `achieved ${(100 * e.achieved).toFixed(2)}% (${e.gradient_passes} gradient passes, ${e.seconds.toFixed(1)} s)`);
        } else if (e.type === 'prune_progress') {
          if (bar) bar.update({ etaf: `fisher ${e.done}/${e.total}` });
        } else if (e.type === 'checkpoint') {
          say(`checkpoint ${e.dir} (${e.seconds.toFixed(1)} s)${e.removed.length ? `, removed ${e.removed.length} old` : ''}`);
        }
      };
      let trainer: Trainer;
      let result;
      try {
        trainer = new Trainer({ config: cfg, train: data.train, val: data.val, runDir, resume: resumeFrom ?? (o.resume || undefined), onEvent,
          allowResumeMismatch: o.allowResumeMismatch, collectives: coll, zeroStage,
          recipe: o.recipe ? loadRecipe(o.recipe) : null, teacher: o.teacher ?? null, distillation: distillationFlags(o) });
        result = await trainer.fit();
      } catch (e) {
        multi?.stop();
        if (!(e instanceof TrainingDivergedError) && isRoot) {
          for (const p of cleanUpFailedRun(runDir, ckDir, createdRunDir)) console.error(`removed ${p} (the run failed)`);
        }
        if (e instanceof TrainingDivergedError) {
          out(`mosaicbert: ${e.message}`);
          if (isRoot) out(`report: ${writeReport(runDir)}`);
          process.exitCode = 1;
          endDistributed();
          return;
        }
        throw e;
      }
      multi?.stop();
      if (!isRoot) { endDistributed(); return; }
      removeIncompleteCheckpoints(ckDir);

      // Summary.
      const st = result.state;
      console.log(`\n== ${cfg.run_name}: ${st.step} steps, ${st.samples} samples, ${st.tokens} non-pad tokens, ${formatDuration(st.elapsed_s)} of training`);
      const last = Math.max(1, st.elapsed_s);
      console.log(`throughput: ${(st.tokens / last).toFixed(0)} non-pad tokens/s over the run (this process's steps: see log.jsonl); ` +
        `MFU = executed model FLOPs (src/train/metrics.ts) / s / ${(cfg.mfu_peak_flops / 1e9).toFixed(0)} GFLOP/s`);
      if (result.eval && data.val) {
        const h = unigramEntropy(data.val);
        console.log(`validation MLM loss: ${result.eval.loss.toFixed(4)} nats (${(100 * cfg.eval.mlm_probability).toFixed(0)}% masking, ` +
          `${result.eval.num_targets} targets), masked-token accuracy ${(100 * result.eval.accuracy).toFixed(2)}%`);
        console.log(`unigram entropy of the validation tokens: ${h.entropy.toFixed(4)} nats (${h.tokens} tokens; a context-free ` +
          `predictor's loss); the model's loss is ${Math.abs(h.entropy - result.eval.loss).toFixed(3)} nats ${result.eval.loss < h.entropy ? 'below' : 'above'} it`);
      }
      const fm = await fillMaskPipeline(trainer.model);
      for (const text of o.fillMask ?? DEMO_SENTENCES) {
        const r = await fm(text, { top_k: 5 });
        console.log(`fill-mask: ${text}\n${r.map((x) => `  ${x.score.toFixed(4)}  ${x.token_str.padEnd(12)} ${x.sequence}`).join('\n')}`);
      }
      console.log(`model: ${result.modelDir}\nreport: ${writeReport(runDir)}`);
      if (!existsSync(join(runDir, 'log.jsonl'))) console.error('warning: no log.jsonl written');
      endDistributed();
    });
}
