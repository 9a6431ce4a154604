/**
 * Generic classification / regression data from CSV, TSV or JSONL files with named columns: a text column, an
 * optional second text column (for pairs) and a label column. CSV follows RFC 4180 (double-quoted fields, `""`
 * escapes, newlines inside quotes); TSV is read with quoting off, as GLUE; JSONL has one object per line.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseTsv, type GlueExample } from './tasks.js';

/** File format; 'auto' picks from the extension (.csv, .tsv/.txt, .jsonl/.json). */
export type TableFormat = 'auto' | 'csv' | 'tsv' | 'jsonl';

/** Options of {@link readLabelledFile}. */
export interface LabelledFileOptions {
  textColumn: string;
  textPairColumn?: string;
  labelColumn: string;
  /** Float targets (num_labels 1) instead of classes. */
  regression?: boolean;
  /**
   * Class names in id order. When absent: labels that are all non-negative integers are used as ids (names '0',
   * '1', ...); otherwise the sorted distinct label strings of this file become the classes.
   */
  labels?: string[];
  format?: TableFormat;
}

/** What {@link readLabelledFile} returns. */
export interface LabelledData {
  examples: GlueExample[];
  /** Class names in id order (['score'] for regression). */
  labels: string[];
}

/** Parses RFC 4180 CSV into rows of fields, each with the 1-based line where it starts. */
export function parseCsv(text: string, path = 'csv'): Array<{ line: number; cells: string[] }> {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows: Array<{ line: number; cells: string[] }> = [];
  let cells: string[] = [], field = '', i = 0, line = 1, rowLine = 1, quoted = false, any = false;
  const endRow = () => {
    cells.push(field);
    if (!(cells.length === 1 && cells[0] === '' && !any)) rows.push({ line: rowLine, cells });
    cells = []; field = ''; any = false;
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      if (c === '\n') line++;
      field += c; i++; continue;
    }
    if (c === '"' && field === '') { quoted = true; any = true; i++; continue; }
    if (c === ',') { cells.push(field); field = ''; any = true; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { i++; continue; }
    if (c === '\n') { endRow(); line++; rowLine = line; i++; continue; }
    field += c; i++;
  }
  if (quoted) throw new Error(`${path}:${rowLine}: unterminated quoted field`);
  if (field !== '' || cells.length || any) endRow();
  return rows;
}

function formatOf(path: string, f: TableFormat): Exclude<TableFormat, 'auto'> {
  if (f !== 'auto') return f;
  const e = extname(path).toLowerCase();
  if (e === '.csv') return 'csv';
  if (e === '.jsonl' || e === '.json' || e === '.ndjson') return 'jsonl';
  if (e === '.tsv' || e === '.txt') return 'tsv';
  throw new Error(`${path}: cannot tell the format from the extension; pass a format (csv, tsv or jsonl)`);
}

/** Rows as records keyed by column name, with line numbers. */
function readRecords(path: string, format: TableFormat): Array<{ line: number; rec: Record<string, unknown> }> {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new Error(`${path}: cannot read (${(e as Error).message})`); }
  const fmt = formatOf(path, format);
  if (fmt === 'jsonl') {
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const out: Array<{ line: number; rec: Record<string, unknown> }> = [];
    text.split('\n').forEach((l, i) => {
      if (l.trim() === '') return;
      let v: unknown;
      try { v = JSON.parse(l); } catch (e) { throw new Error(`${path}:${i + 1}: invalid JSON (${(e as Error).message})`); }
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${path}:${i + 1}: not a JSON object`);
      out.push({ line: i + 1, rec: v as Record<string, unknown> });
    });
    return out;
  }
  const rows = fmt === 'csv' ? parseCsv(text, path) : (() => { const t = parseTsv(text, path, false); return t.rows; })();
  if (!rows.length) throw new Error(`${path}: empty file (expected a header line)`);
  const header = rows[0].cells;
  return rows.slice(1).map((r) => {
    if (r.cells.length !== header.length) {
      throw new Error(`${path}:${r.line}: ${r.cells.length} columns, the header has ${header.length}`);
    }
    return { line: r.line, rec: Object.fromEntries(header.map((h, i) => [h, r.cells[i]])) };
  });
}

/**
 * Reads a labelled CSV/TSV/JSONL file with named columns.
 * @throws Error naming the file and line on a missing column, a non-numeric regression target or an unknown label.
 */
export function readLabelledFile(path: string, opts: LabelledFileOptions): LabelledData {
  const recs = readRecords(path, opts.format ?? 'auto');
  const str = (r: { line: number; rec: Record<string, unknown> }, k: string): string => {
    const v = r.rec[k];
    if (v === undefined || v === null) throw new Error(`${path}:${r.line}: no '${k}' column/field`);
    return typeof v === 'string' ? v : String(v);
  };
  const raw = recs.map((r) => ({ r, text: str(r, opts.textColumn),
    pair: opts.textPairColumn ? str(r, opts.textPairColumn) : undefined, label: str(r, opts.labelColumn).trim() }));
  if (opts.regression) {
    return {
      labels: ['score'],
      examples: raw.map(({ r, text, pair, label }) => {
        const x = Number(label);
        if (label === '' || !Number.isFinite(x)) throw new Error(`${path}:${r.line}: '${opts.labelColumn}' = '${label}' is not a number`);
        return { text, text_pair: pair, label: x };
      }),
    };
  }
  let labels = opts.labels;
  if (!labels) {
    const distinct = [...new Set(raw.map((x) => x.label))];
    if (distinct.every((l) => /^[0-9]+$/.test(l))) {
      const max = Math.max(1, ...distinct.map(Number));
      labels = Array.from({ length: max + 1 }, (_, i) => String(i));
    } else {
      labels = distinct.sort();
    }
  }
  const ids = new Map(labels.map((l, i) => [l, i]));
  return {
    labels,
    examples: raw.map(({ r, text, pair, label }) => {
      const id = ids.get(label);
      if (id === undefined) throw new Error(`${path}:${r.line}: label '${label}' is not one of ${labels!.join(', ')}`);
      return { text, text_pair: pair, label: id };
    }),
  };
}
