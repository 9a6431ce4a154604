/**
 * The GLUE suite: every task found in the data folder over its reference seeds (or given ones), round 1 (MNLI,
 * QNLI, QQP, SST-2, CoLA) before round 2 (RTE, MRPC, STS-B, which start from the MNLI checkpoint), then the
 * paper-style table: per task the mean over its metric values and seeds, and the unweighted average.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { finetune, type FinetuneEvent, type FinetuneOptions, type FinetuneResult } from './finetune.js';
import { formatDuration } from '../train/time.js';
import { mean } from './metrics.js';
import { findGlueTasks, glueTask, GLUE_TASK_ORDER, taskName } from './tasks.js';

/** Options of {@link runGlue}. */
export interface GlueSuiteOptions {
  model: string;
  dataDir?: string;
  /** Tasks to run (default: all found except WNLI, which the reference excludes). */
  tasks?: string[];
  /** Seeds for every task (default: each task's reference seeds). */
  seeds?: number[];
  /** Output root: runs go to `<root>/<task>/seed<seed>/`, the table to `<root>/glue.{txt,md,json}`. */
  outputRoot: string;
  randomInit?: boolean;
  /** Start from a model that lacks encoder/embedding weights (randomly initialised). */
  allowMissingWeights?: boolean;
  shuffle?: boolean;
  maxSteps?: number;
  maxTrainExamples?: number;
  maxEvalExamples?: number;
  /** Save every fine-tuned model (default: only MNLI's, which round 2 needs). */
  saveAll?: boolean;
  mnliCheckpoint?: string | null;
  /** Called before each run. */
  onRun?: (task: string, seed: number, index: number, count: number) => void;
  onEvent?: (e: FinetuneEvent) => void;
  warn?: (message: string) => void;
  /** Extra finetune options (kernels, eval batch size). */
  extra?: Partial<FinetuneOptions>;
}

/** One task's row of the table. */
export interface GlueTaskRow {
  task: string;
  metrics: string[];
  seeds: number[];
  /** Per seed: metric name (split-qualified when several splits) -> value, and the seed's score. */
  runs: Array<{ seed: number; metrics: Record<string, number>; score: number; wall_time_s: number; init: string }>;
  /** Mean over all metric values and seeds. */
  score: number;
  in_average: boolean;
}

/** The suite's result (also written as JSON). */
export interface GlueSuiteResult {
  model: string;
  random_init: boolean;
  rows: GlueTaskRow[];
  /** Unweighted mean of the scores of the tasks in the average that ran. */
  average: number;
  skipped: Record<string, string>;
  wall_time_s: number;
  /**
   * Departures from the reference protocol that this suite ran with (seeds other than the reference's, a cap on
   * the train examples or steps, shuffling); empty when it ran the protocol as it is.
   */
  deviations?: string[];
}

/** Human-readable departures from the reference protocol in `o` (shown under the table). */
export function protocolDeviations(o: Pick<GlueSuiteOptions, 'seeds' | 'maxSteps' | 'maxTrainExamples' | 'maxEvalExamples' | 'shuffle'>,
  rows: GlueTaskRow[] = []): string[] {
  const d: string[] = [];
  const notFromMnli = rows.filter((r) => glueTask(r.task).from_mnli && r.runs.some((x) => x.init !== 'mnli')).map((r) => DISPLAY[r.task] ?? r.task);
  if (notFromMnli.length) d.push(`${notFromMnli.join(', ')} started from the model, not from an MNLI checkpoint`);
  if (o.seeds) d.push(`seeds ${o.seeds.join(', ')} for every task (reference: 3-5 seeds per task)`);
  if (o.maxTrainExamples !== undefined) d.push(`first ${o.maxTrainExamples} train examples of each task`);
  if (o.maxEvalExamples !== undefined) d.push(`first ${o.maxEvalExamples} dev examples of each task`);
  if (o.maxSteps !== undefined) d.push(`at most ${o.maxSteps} steps per run`);
  if (o.shuffle) d.push('train sets shuffled (the reference keeps their order)');
  return d;
}



function flatMetrics(r: FinetuneResult): Record<string, number> {
  const splits = Object.entries(r.final.metrics);
  const out: Record<string, number> = {};
  for (const [split, m] of splits) for (const [k, v] of Object.entries(m)) out[splits.length > 1 ? `${split}/${k}` : k] = v;
  return out;
}

/** Builds a table row from the runs of one task. */
export function taskRow(task: string, results: FinetuneResult[]): GlueTaskRow {
  const spec = glueTask(task);
  const runs = results.map((r) => ({ seed: r.seed, metrics: flatMetrics(r), score: r.final.score, wall_time_s: r.wall_time_s, init: r.init }));
  return { task: spec.name, metrics: spec.metrics, seeds: runs.map((r) => r.seed), runs,
    score: mean(runs.flatMap((r) => Object.values(r.metrics))), in_average: spec.in_average };
}

const DISPLAY: Record<string, string> = { mnli: 'MNLI (m/mm)', qnli: 'QNLI', qqp: 'QQP', sst2: 'SST-2', cola: 'CoLA',
  rte: 'RTE', mrpc: 'MRPC', stsb: 'STS-B', wnli: 'WNLI' };

/** The table as Markdown (`md`) or aligned text. Scores are shown ×100 with 2 decimals, as the paper does. */
export function formatGlueTable(res: GlueSuiteResult, style: 'md' | 'text'): string {
  const rows = res.rows;
  const head = [...rows.map((r) => DISPLAY[r.task] ?? r.task), 'Avg'];
  const vals = [...rows.map((r) => (100 * r.score).toFixed(2) + (r.in_average ? '' : '*')), (100 * res.average).toFixed(2)];
  const detail = rows.map((r) => `${DISPLAY[r.task] ?? r.task}: ${r.runs.map((x) => `seed ${x.seed} ` +
    Object.entries(x.metrics).map(([k, v]) => `${k} ${(100 * v).toFixed(2)}`).join(' ') +
    ` (${formatDuration(x.wall_time_s)})`).join('; ')}`);
  const notes = [`model: ${res.model}${res.random_init ? ' (random init)' : ''}`,
    'task score = mean over its metrics and seeds (last evaluation); Avg = unweighted mean over tasks' +
    (rows.some((r) => !r.in_average) ? ' (* = not in the average)' : ''),
    ...(res.deviations?.length ? [`departures from the reference protocol: ${res.deviations.join('; ')}`] : []),
    ...Object.entries(res.skipped).map(([t, why]) => `skipped ${t}: ${why}`),
    `wall time ${formatDuration(res.wall_time_s)}`];
  if (style === 'md') {
    return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, `| ${vals.join(' | ')} |`, '',
      ...detail.map((d) => `- ${d}`), '', ...notes.map((n) => `_${n}_`)].join('\n') + '\n';
  }
  const w = head.map((h, i) => Math.max(h.length, vals[i].length));
  return [head.map((h, i) => h.padStart(w[i])).join('  '), vals.map((v, i) => v.padStart(w[i])).join('  '), '',
    ...detail, '', ...notes].join('\n') + '\n';
}

/**
 * Runs the suite and writes `<outputRoot>/glue.txt`, `glue.md` and `glue.json`.
 * @returns the table data.
 */
export async function runGlue(o: GlueSuiteOptions): Promise<GlueSuiteResult> {
  const t0 = performance.now();
  const dataDir = o.dataDir ?? '../shared/data/glue';
  const root = resolve(o.outputRoot);
  const { found, missing } = findGlueTasks(dataDir);
  const skipped: Record<string, string> = {};
  const wanted = o.tasks ? o.tasks.map(taskName) : GLUE_TASK_ORDER.filter((t) => t !== 'wnli');
  for (const t of wanted) if (!found.includes(t)) skipped[t] = `missing ${missing[t]?.join(', ')}`;
  if (!o.tasks && found.includes('wnli')) skipped.wnli = 'excluded by the reference protocol (pass --tasks wnli to run it)';
  const tasks = GLUE_TASK_ORDER.filter((t) => wanted.includes(t) && found.includes(t));
  if (!tasks.length) throw new Error(`${dataDir}: none of the tasks ${wanted.join(', ')} has its train and dev files`);
  const plan = tasks.flatMap((t) => (o.seeds ?? glueTask(t).seeds).map((seed) => ({ task: t, seed })));
  // Data-parallel (o.extra.collectives): every rank runs every fine-tuning; only rank 0 has the metrics and writes.
  const isRoot = !o.extra?.collectives || o.extra.collectives.rank === 0;
  const rows: GlueTaskRow[] = [];
  let i = 0;
  for (const t of tasks) {
    const results: FinetuneResult[] = [];
    for (const { seed } of plan.filter((p) => p.task === t)) {
      o.onRun?.(t, seed, i++, plan.length);
      results.push(await finetune({
        ...o.extra, task: t, model: o.model, dataDir, seed, outDir: join(root, t, `seed${seed}`), outputRoot: root,
        randomInit: o.randomInit, allowMissingWeights: o.allowMissingWeights, shuffle: o.shuffle, maxSteps: o.maxSteps, maxTrainExamples: o.maxTrainExamples,
        maxEvalExamples: o.maxEvalExamples, mnliCheckpoint: o.mnliCheckpoint,
        save: o.saveAll || t === 'mnli', onEvent: o.onEvent, warn: o.warn,
      }));
    }
    if (isRoot) rows.push(taskRow(t, results));
  }
  if (!isRoot) {
    return { model: o.model, random_init: !!o.randomInit, rows, average: NaN, skipped, wall_time_s: (performance.now() - t0) / 1000,
      deviations: [] };
  }
  const res: GlueSuiteResult = { model: o.model, random_init: !!o.randomInit, rows,
    average: mean(rows.filter((r) => r.in_average).map((r) => r.score)), skipped, wall_time_s: (performance.now() - t0) / 1000,
    deviations: protocolDeviations(o, rows) };
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'glue.txt'), formatGlueTable(res, 'text'));
  writeFileSync(join(root, 'glue.md'), formatGlueTable(res, 'md'));
  writeFileSync(join(root, 'glue.json'), JSON.stringify(res, null, 2) + '\n');
  return res;
}
