/**
 * GLUE task readers and the reference fine-tuning protocol per task (the reference's `glue.py` and `yamls/finetuning/glue/mosaic-bert-base-uncased.yaml`).
 *
 * Files are read in the official GLUE layout (`download_glue_data.py` output): tab-separated, UTF-8 (a leading
 * BOM is stripped), LF or CRLF line endings, **quoting off** (a `"` is an ordinary character; rows are split on
 * tabs only). Text labels are mapped to ids as the Hugging Face `glue` dataset (which the reference uses) does:
 * MNLI entailment 0 / neutral 1 / contradiction 2; QNLI and RTE entailment 0 / not_entailment 1; the others are
 * already 0/1 (STS-B is a float score in [0, 5]). Every parse error names the file and the 1-based line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One example: a text (and optionally a second text) with its label (class id, or the score for regression). */
export interface GlueExample {
  text: string;
  text_pair?: string;
  label: number;
}

/** Metric names understood by {@link computeMetrics} in metrics.ts. */
export type MetricName = 'accuracy' | 'f1' | 'matthews' | 'pearson' | 'spearman';

/** A labelled dataset split. */
export interface GlueSplit {
  /** Split name, e.g. 'train', 'dev', 'dev_matched'. */
  name: string;
  /** File it was read from. */
  path: string;
  examples: GlueExample[];
}

/** Fine-tuning hyperparameters of one task (the reference's `yamls/finetuning/glue` table). */
export interface TaskHyperparameters {
  lr: number;
  weight_decay: number;
  epochs: number;
  batch_size: number;
  /** Evaluate every this many batches (and at the end). */
  eval_interval: number;
  seeds: number[];
}

/** Static description of a GLUE task. */
export interface GlueTaskSpec extends TaskHyperparameters {
  /** Canonical name: mnli, qnli, qqp, sst2, cola, rte, mrpc, stsb, wnli. */
  name: string;
  /** Folder name in the GLUE layout (e.g. 'SST-2'). */
  dir: string;
  /** Label names in id order; a single entry means regression. */
  labels: string[];
  /** 1 for regression (STS-B), else the number of classes. */
  num_labels: number;
  metrics: MetricName[];
  /** Train file name inside `dir`. */
  train: string;
  /** Evaluation files inside `dir`: split name -> file name (MNLI has matched and mismatched). */
  eval: Record<string, string>;
  /** Round 2 of the reference: start from the MNLI fine-tuned checkpoint (RTE, MRPC, STS-B). */
  from_mnli: boolean;
  /** Part of the reference's GLUE average (WNLI is not). */
  in_average: boolean;
}

const S5 = [19, 8364, 717, 10536, 90166];

/** The GLUE tasks with the reference hyperparameters (mosaicml/examples `yamls/finetuning/glue`). */
export const GLUE_TASKS: Record<string, GlueTaskSpec> = {
  mnli: { name: 'mnli', dir: 'MNLI', labels: ['entailment', 'neutral', 'contradiction'], num_labels: 3,
    metrics: ['accuracy'], train: 'train.tsv', eval: { dev_matched: 'dev_matched.tsv', dev_mismatched: 'dev_mismatched.tsv' },
    lr: 5e-5, weight_decay: 5e-6, epochs: 3, batch_size: 48, eval_interval: 2300, seeds: [19], from_mnli: false, in_average: true },
  qnli: { name: 'qnli', dir: 'QNLI', labels: ['entailment', 'not_entailment'], num_labels: 2, metrics: ['accuracy'],
    train: 'train.tsv', eval: { dev: 'dev.tsv' },
    lr: 1e-5, weight_decay: 1e-6, epochs: 10, batch_size: 16, eval_interval: 1000, seeds: [19], from_mnli: false, in_average: true },
  qqp: { name: 'qqp', dir: 'QQP', labels: ['not_duplicate', 'duplicate'], num_labels: 2, metrics: ['accuracy', 'f1'],
    train: 'train.tsv', eval: { dev: 'dev.tsv' },
    lr: 3e-5, weight_decay: 3e-6, epochs: 5, batch_size: 16, eval_interval: 2000, seeds: [19], from_mnli: false, in_average: true },
  sst2: { name: 'sst2', dir: 'SST-2', labels: ['negative', 'positive'], num_labels: 2, metrics: ['accuracy'],
    train: 'train.tsv', eval: { dev: 'dev.tsv' },
    lr: 3e-5, weight_decay: 3e-6, epochs: 3, batch_size: 16, eval_interval: 500, seeds: [19, 8364, 717], from_mnli: false, in_average: true },
  cola: { name: 'cola', dir: 'CoLA', labels: ['unacceptable', 'acceptable'], num_labels: 2, metrics: ['matthews'],
    train: 'train.tsv', eval: { dev: 'dev.tsv' },
    lr: 5e-5, weight_decay: 5e-6, epochs: 10, batch_size: 32, eval_interval: 250, seeds: [19, 8364, 717, 10536], from_mnli: false, in_average: true },
  rte: { name: 'rte', dir: 'RTE', labels: ['entailment', 'not_entailment'], num_labels: 2, metrics: ['accuracy'],
    train: 'train.tsv', eval: { dev: 'dev.tsv' },
    lr: 1e-5, weight_decay: 1e-5, epochs: 3, batch_size: 16, eval_interval: 100, seeds: S5, from_mnli: true, in_average: true },
  mrpc: { name: 'mrpc', dir: 'MRPC', labels: ['not_equivalent', 'equivalent'], num_labels: 2, metrics: ['accuracy', 'f1'],
    train: 'train.tsv', eval: { dev: 'dev.tsv' },
    lr: 8e-5, weight_decay: 8e-6, epochs: 10, batch_size: 32, eval_interval: 100, seeds: S5, from_mnli: true, in_average: true },
  stsb: { name: 'stsb', dir: 'STS-B', labels: ['score'], num_labels: 1, metrics: ['spearman'],
    train: 'train.tsv', eval: { dev: 'dev.tsv' },
    lr: 3e-5, weight_decay: 3e-6, epochs: 10, batch_size: 32, eval_interval: 200, seeds: S5, from_mnli: true, in_average: true },
  // Not in the reference protocol (excluded from the average); hyperparameters as RTE.
  wnli: { name: 'wnli', dir: 'WNLI', labels: ['not_entailment', 'entailment'], num_labels: 2, metrics: ['accuracy'],
    train: 'train.tsv', eval: { dev: 'dev.tsv' },
    lr: 1e-5, weight_decay: 1e-5, epochs: 3, batch_size: 16, eval_interval: 100, seeds: S5, from_mnli: false, in_average: false },
};

/** Reference order: round 1 (from the pretrained model), then round 2 (from the MNLI checkpoint), then WNLI. */
export const GLUE_TASK_ORDER = ['mnli', 'qnli', 'qqp', 'sst2', 'cola', 'rte', 'mrpc', 'stsb', 'wnli'];

/**
 * The canonical task name of `name` ('SST-2', 'sst2', 'STS-B', 'MNLI', ...).
 * @throws Error listing the known tasks when `name` is not one.
 */
export function taskName(name: string): string {
  const n = name.toLowerCase().replace(/[-_ ]/g, '');
  if (GLUE_TASKS[n]) return n;
  throw new Error(`unknown GLUE task '${name}'; expected one of ${GLUE_TASK_ORDER.join(', ')}`);
}

/** The spec of task `name` (any spelling accepted by {@link taskName}). */
export function glueTask(name: string): GlueTaskSpec {
  return GLUE_TASKS[taskName(name)];
}

/** A table read with quoting off: rows of cells with their 1-based line numbers. */
export interface TsvTable {
  path: string;
  header: string[] | null;
  rows: Array<{ line: number; cells: string[] }>;
}

/**
 * Reads a tab-separated file with quoting off: strips a UTF-8 BOM, splits on LF (a trailing CR is dropped), skips
 * empty lines, splits each line on tabs only.
 * @param hasHeader whether the first line is a header.
 */
export function readTsv(path: string, hasHeader: boolean): TsvTable {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new Error(`${path}: cannot read (${(e as Error).message})`); }
  return parseTsv(text, path, hasHeader);
}

/** {@link readTsv} on a string (for tests and in-memory data). */
export function parseTsv(text: string, path: string, hasHeader: boolean): TsvTable {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n');
  let header: string[] | null = null;
  const rows: TsvTable['rows'] = [];
  for (let i = 0; i < lines.length; i++) {
    let l = lines[i];
    if (l.endsWith('\r')) l = l.slice(0, -1);
    if (l === '') continue;
    const cells = l.split('\t');
    if (hasHeader && header === null) header = cells;
    else rows.push({ line: i + 1, cells });
  }
  if (hasHeader && header === null) throw new Error(`${path}: empty file (expected a header line)`);
  return { path, header, rows };
}

function col(t: TsvTable, name: string): number {
  const i = t.header ? t.header.indexOf(name) : -1;
  if (i < 0) throw new Error(`${t.path}:1: no column '${name}' in the header [${(t.header ?? []).join(', ')}]`);
  return i;
}

function cell(t: TsvTable, r: { line: number; cells: string[] }, i: number, what: string): string {
  const v = i < 0 ? r.cells[r.cells.length + i] : r.cells[i];
  if (v === undefined || r.cells.length <= (i < 0 ? -i - 1 : i)) {
    throw new Error(`${t.path}:${r.line}: ${r.cells.length} columns, no ${what} (column ${i < 0 ? 'last' : i + 1})`);
  }
  return v;
}

function labelId(t: TsvTable, r: { line: number }, v: string, labels: string[], numeric: boolean): number {
  if (numeric) {
    if (!/^[0-9]+$/.test(v) || Number(v) >= labels.length) {
      throw new Error(`${t.path}:${r.line}: label '${v}' is not one of 0..${labels.length - 1}`);
    }
    return Number(v);
  }
  const id = labels.indexOf(v);
  if (id < 0) throw new Error(`${t.path}:${r.line}: label '${v}' is not one of ${labels.join(', ')}`);
  return id;
}

/** Options of {@link readGlueSplit}. */
export interface ReadSplitOptions {
  /** QQP's official train file has a few malformed rows; skip rows with too few columns instead of throwing. */
  skipMalformed?: boolean;
  /** Receives a warning when rows were skipped. */
  warn?: (message: string) => void;
}

/**
 * Reads one labelled split of a GLUE task from `path` (the official layout of that task).
 * @throws Error naming the file and line on a missing column or an unknown label.
 */
export function readGlueSplit(task: string, path: string, opts: ReadSplitOptions = {}): GlueExample[] {
  const spec = glueTask(task);
  const out: GlueExample[] = [];
  const t = readTsv(path, spec.name !== 'cola');
  let skipped = 0;
  let get: (r: { line: number; cells: string[] }) => GlueExample;
  switch (spec.name) {
    case 'cola': // no header: source, label, original label, sentence
      get = (r) => ({ text: cell(t, r, 3, 'sentence'), label: labelId(t, r, cell(t, r, 1, 'label'), spec.labels, true) });
      break;
    case 'sst2': {
      const s = col(t, 'sentence'), l = col(t, 'label');
      get = (r) => ({ text: cell(t, r, s, 'sentence'), label: labelId(t, r, cell(t, r, l, 'label'), spec.labels, true) });
      break;
    }
    case 'mrpc': {
      const q = col(t, 'Quality'), a = col(t, '#1 String'), b = col(t, '#2 String');
      get = (r) => ({ text: cell(t, r, a, '#1 String'), text_pair: cell(t, r, b, '#2 String'),
        label: labelId(t, r, cell(t, r, q, 'Quality'), spec.labels, true) });
      break;
    }
    case 'stsb': {
      const a = col(t, 'sentence1'), b = col(t, 'sentence2');
      col(t, 'score');
      get = (r) => {
        const v = cell(t, r, -1, 'score');
        const x = Number(v);
        if (v.trim() === '' || !Number.isFinite(x) || x < 0 || x > 5) throw new Error(`${t.path}:${r.line}: score '${v}' is not a number in [0, 5]`);
        return { text: cell(t, r, a, 'sentence1'), text_pair: cell(t, r, b, 'sentence2'), label: x };
      };
      break;
    }
    case 'qnli': {
      const a = col(t, 'question'), b = col(t, 'sentence'), l = col(t, 'label');
      get = (r) => ({ text: cell(t, r, a, 'question'), text_pair: cell(t, r, b, 'sentence'),
        label: labelId(t, r, cell(t, r, l, 'label'), spec.labels, false) });
      break;
    }
    case 'rte': {
      const a = col(t, 'sentence1'), b = col(t, 'sentence2'), l = col(t, 'label');
      get = (r) => ({ text: cell(t, r, a, 'sentence1'), text_pair: cell(t, r, b, 'sentence2'),
        label: labelId(t, r, cell(t, r, l, 'label'), spec.labels, false) });
      break;
    }
    case 'wnli': {
      const a = col(t, 'sentence1'), b = col(t, 'sentence2'), l = col(t, 'label');
      get = (r) => ({ text: cell(t, r, a, 'sentence1'), text_pair: cell(t, r, b, 'sentence2'),
        label: labelId(t, r, cell(t, r, l, 'label'), spec.labels, true) });
      break;
    }
    case 'mnli': { // gold_label is the last column (dev files have label1..label5 before it)
      const a = col(t, 'sentence1'), b = col(t, 'sentence2');
      col(t, 'gold_label');
      get = (r) => ({ text: cell(t, r, a, 'sentence1'), text_pair: cell(t, r, b, 'sentence2'),
        label: labelId(t, r, cell(t, r, -1, 'gold_label'), spec.labels, false) });
      break;
    }
    case 'qqp': {
      const a = col(t, 'question1'), b = col(t, 'question2'), l = col(t, 'is_duplicate');
      const n = t.header!.length;
      get = (r) => {
        if (r.cells.length !== n) throw new Error(`${t.path}:${r.line}: ${r.cells.length} columns, expected ${n}`);
        return { text: cell(t, r, a, 'question1'), text_pair: cell(t, r, b, 'question2'),
          label: labelId(t, r, cell(t, r, l, 'is_duplicate'), spec.labels, true) };
      };
      break;
    }
    default:
      throw new Error(`no reader for task '${spec.name}'`);
  }
  for (const r of t.rows) {
    try {
      out.push(get(r));
    } catch (e) {
      if (!opts.skipMalformed) throw e;
      skipped++;
    }
  }
  if (skipped) (opts.warn ?? console.warn)(`${path}: skipped ${skipped} malformed rows`);
  return out;
}

/** A task's train and evaluation splits. */
export interface GlueTaskData {
  spec: GlueTaskSpec;
  train: GlueSplit;
  eval: GlueSplit[];
}

/** Paths of a task's files under `dataDir`, and whether they all exist. */
export function taskFiles(task: string, dataDir: string): { train: string; eval: Record<string, string>; missing: string[] } {
  const spec = glueTask(task);
  const train = join(dataDir, spec.dir, spec.train);
  const ev = Object.fromEntries(Object.entries(spec.eval).map(([k, f]) => [k, join(dataDir, spec.dir, f)]));
  const missing = [train, ...Object.values(ev)].filter((p) => !existsSync(p));
  return { train, eval: ev, missing };
}

/**
 * Reads a task's train and dev split(s) from a GLUE data folder (`<dataDir>/<TASK>/train.tsv`, ...).
 * @throws Error listing the missing files, or a parse error naming file and line.
 */
export function loadGlueTask(task: string, dataDir: string, opts: ReadSplitOptions = {}): GlueTaskData {
  const spec = glueTask(task);
  const f = taskFiles(task, dataDir);
  if (f.missing.length) throw new Error(`${spec.name}: missing ${f.missing.join(', ')}`);
  const ro = { ...opts, skipMalformed: opts.skipMalformed ?? spec.name === 'qqp' };
  return {
    spec,
    train: { name: 'train', path: f.train, examples: readGlueSplit(spec.name, f.train, ro) },
    eval: Object.entries(f.eval).map(([name, p]) => ({ name, path: p, examples: readGlueSplit(spec.name, p, ro) })),
  };
}

/** The tasks of {@link GLUE_TASK_ORDER} whose train and dev files all exist under `dataDir`. */
export function findGlueTasks(dataDir: string): { found: string[]; missing: Record<string, string[]> } {
  const found: string[] = [], missing: Record<string, string[]> = {};
  for (const t of GLUE_TASK_ORDER) {
    const f = taskFiles(t, dataDir);
    if (f.missing.length) missing[t] = f.missing; else found.push(t);
  }
  return { found, missing };
}
