/**
 * `mosaicbert report <run>`: a self-contained HTML page (inline CSS and SVG, no JavaScript, no external files)
 * from a run's `log.jsonl`: summary table, training loss with evaluation loss, evaluation accuracy, learning rate,
 * throughput (non-pad tokens/s) and MFU curves.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { assertOutputFilePath, writeFileAtomic } from '../data/atomic.js';
import { join } from 'node:path';

type Pt = [number, number];
interface Series { name: string; color: string; points: Pt[]; dots?: boolean }

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]!));
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12 * step; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** An SVG line chart (inline, 640x260) of several series over a shared x axis. */
export function lineChart(title: string, xLabel: string, series: Series[]): string {
  const W = 640, Hh = 260, L = 60, R = 15, T = 28, B = 40;
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (!all.length) return `<figure><figcaption>${esc(title)}</figcaption><p class="empty">no data</p></figure>`;
  let x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]));
  let y0 = Math.min(...all.map((p) => p[1])), y1 = Math.max(...all.map((p) => p[1]));
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
  const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (Hh - T - B);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${Hh}" width="${W}" height="${Hh}" role="img" aria-label="${esc(title)}">`);
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" class="t">${esc(title)}</text>`);
  for (const y of niceTicks(y0, y1)) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" class="g"/>`);
    parts.push(`<text x="${L - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end">${fmt(y)}</text>`);
  }
  for (const x of niceTicks(x0, x1, 6)) {
    parts.push(`<text x="${sx(x).toFixed(1)}" y="${Hh - B + 16}" text-anchor="middle">${fmt(x)}</text>`);
  }
  parts.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${Hh - T - B}" class="f"/>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${Hh - 6}" text-anchor="middle">${esc(xLabel)}</text>`);
  series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (!pts.length) return;
    if (s.dots || pts.length === 1) {
      for (const [x, y] of pts) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="${s.color}"/>`);
    }
    if (!s.dots && pts.length > 1) {
      const d = pts.map(([x, y], k) => `${k ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
    }
    parts.push(`<rect x="${L + 10 + i * 150}" y="${T + 6}" width="10" height="10" fill="${s.color}"/>` +
      `<text x="${L + 24 + i * 150}" y="${T + 15}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `<figure>${parts.join('')}</figure>`;
}

/** Events of a run log, the last one kept per step (a resumed run re-logs the steps after its checkpoint). */
export interface RunLog {
  steps: Array<Record<string, number>>;
  evals: Array<Record<string, number>>;
  checkpoints: Array<Record<string, unknown>>;
  start: Record<string, unknown> | null;
  end: Record<string, unknown> | null;
  diverged: Record<string, unknown> | null;
  /**
   * Lines that are not JSON, skipped: `file:line: ...` each. A kill in the middle of a write leaves a torn last line
   * (or, from versions before run_log.ts repaired logs on resume, a torn line glued to the next record).
   */
  skipped: string[];
}

/**
 * Reads `log.jsonl` (a file, or a run folder holding one). A line that is not JSON (a torn write) is skipped and
 * listed in `skipped` with its file and line, instead of failing the whole report.
 * @throws Error naming the file when there is no log.
 */
export function readRunLog(path: string): RunLog {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'log.jsonl') : path;
  if (!existsSync(file)) throw new Error(`${file}: no run log (expected a run folder with log.jsonl)`);
  const steps = new Map<number, Record<string, number>>(), evals = new Map<number, Record<string, number>>();
  const out: RunLog = { steps: [], evals: [], checkpoints: [], start: null, end: null, diverged: null, skipped: [] };
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line);
      if (!e || typeof e !== 'object') throw new Error('not an object');
    } catch {
      out.skipped.push(`${file}:${i + 1}: not a JSON line (a torn write?), skipped: ${JSON.stringify(line.length > 60 ? line.slice(0, 57) + '...' : line)}`);
      return;
    }
    if (e.type === 'step') steps.set(e.step as number, e as Record<string, number>);
    else if (e.type === 'eval') evals.set(e.step as number, e as Record<string, number>);
    else if (e.type === 'checkpoint') out.checkpoints.push(e);
    else if (e.type === 'start') { if (!out.start) out.start = e; }
    else if (e.type === 'end') out.end = e;
    else if (e.type === 'diverged') out.diverged = e;
  });
  out.steps = [...steps.values()].sort((a, b) => a.step - b.step);
  out.evals = [...evals.values()].sort((a, b) => a.step - b.step);
  return out;
}

/** Smoothed copy (trailing mean over `w` points). */
function smooth(p: Pt[], w: number): Pt[] {
  const out: Pt[] = [];
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    s += p[i][1];
    if (i >= w) s -= p[i - w][1];
    out.push([p[i][0], s / Math.min(i + 1, w)]);
  }
  return out;
}

/** The report page's HTML for a run log. */
export function renderReport(log: RunLog, title: string): string {
  const st = log.steps;
  const lossPts: Pt[] = st.map((e) => [e.step, e.loss]);
  const w = Math.max(1, Math.round(st.length / 50));
  const rows: Array<[string, string]> = [];
  const start = log.start ?? {}, end = log.end ?? {};
  rows.push(['run', String(start.run_name ?? title)], ['parameters', String(start.params ?? '?')],
    ['global batch / microbatch', `${start.global_batch ?? '?'} / ${start.microbatch ?? '?'}`],
    ['steps', String(st.length ? st[st.length - 1].step : 0)]);
  if (st.length) {
    const last = st[st.length - 1];
    rows.push(['samples / non-pad tokens', `${last.samples} / ${last.tokens}`],
      ['final train loss (mean of last ' + w + ')', fmt(smooth(lossPts, w)[lossPts.length - 1][1])],
      ['tokens/s (last window)', fmt(last.tokens_per_s)], ['MFU (last window)', `${fmt(100 * last.mfu)}%`],
      ['wall time', `${fmt(last.elapsed_s)} s`]);
    if (last.sparsity !== undefined) rows.push(['sparsity of the pruned weights', `${fmt(100 * last.sparsity)}%`]);
  }
  if (log.evals.length) {
    const e = log.evals[log.evals.length - 1];
    if (log.start?.kind === 'finetune') rows.push(['final eval score', `${fmt(100 * e.score)} (step ${e.step})`]);
    else rows.push(['final eval loss / accuracy', `${fmt(e.loss)} / ${fmt(100 * e.accuracy)}% (step ${e.step}, ${e.num_targets} targets)`]);
  }
  if (log.diverged) rows.push(['diverged', `at step ${log.diverged.step} (loss ${log.diverged.loss})`]);
  rows.push(['finished', end.type ? 'yes' : 'no (running or interrupted)']);
  for (const sk of log.skipped) rows.push(['skipped log line', sk]);
  const css = 'body{font-family:system-ui,sans-serif;max-width:1340px;margin:2em auto;color:#222}' +
    'table{border-collapse:collapse}td{border-bottom:1px solid #ddd;padding:3px 10px}' +
    'figure{display:inline-block;margin:8px}' + SVG_CSS.replace(/(^|})(?=[^}])/g, '$1svg ') + '.empty{color:#999}';
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${css}</style></head><body>\n` +
    `<h1>${esc(title)}</h1>\n<table>${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</table>\n` +
    reportCharts(log).map((c) => c.svg).join('') + '\n</body></html>\n';
}

/** Styles of the chart SVGs (inlined into each standalone SVG file; scoped to `svg` in the HTML page). */
const SVG_CSS = 'text{font-size:11px;fill:#333}.t{font-size:13px;font-weight:600}.g{stroke:#eee}.f{fill:none;stroke:#999}';

/**
 * The report's charts, in page order: MLM loss, eval accuracy, lr, throughput, MFU, gradient norm; with distillation the
 * task and KD terms, with gradual pruning the sparsity.
 */
export function reportCharts(log: RunLog): Array<{ title: string; svg: string }> {
  const st = log.steps;
  const lossPts: Pt[] = st.map((e) => [e.step, e.loss]);
  const w = Math.max(1, Math.round(st.length / 50));
  // Fine-tuning runs log a task score per evaluation instead of an MLM loss and accuracy.
  const finetune = log.start?.kind === 'finetune';
  const dots = log.evals.length < 3;
  const charts: Array<[string, Series[]]> = [
    [finetune ? 'training loss' : 'MLM loss (nats)', [
      { name: 'train', color: '#9bb7d4', points: lossPts },
      { name: `train (mean of ${w})`, color: '#1f4e89', points: smooth(lossPts, w) },
      ...(finetune ? [] : [{ name: 'eval', color: '#d62728', points: log.evals.map((e): Pt => [e.step, e.loss]), dots }]),
    ]],
    finetune ? ['eval score (mean of the task metrics)', [{ name: 'score', color: '#2ca02c', points: log.evals.map((e) => [e.step, e.score]), dots }]]
      : ['eval masked-token accuracy', [{ name: 'accuracy', color: '#2ca02c', points: log.evals.map((e) => [e.step, e.accuracy]), dots }]],
    ['learning rate', [{ name: 'lr', color: '#ff7f0e', points: st.map((e) => [e.step, e.lr]) }]],
    ['throughput (non-pad tokens/s, window)', [{ name: 'tokens/s', color: '#9467bd', points: st.map((e) => [e.step, e.tokens_per_s]) }]],
    ['MFU (%)', [{ name: 'MFU', color: '#8c564b', points: st.map((e) => [e.step, 100 * e.mfu]) }]],
    ['gradient norm', [{ name: '|g|', color: '#7f7f7f', points: st.map((e) => [e.step, e.grad_norm]) }]],
  ];
  // Distillation and gradual pruning runs (docs/pruning.md): the two loss terms and the sparsity of the pruned weights.
  const kd = st.filter((e) => e.distill_loss !== undefined);
  if (kd.length) {
    charts.push(['loss terms (distillation)', [
      { name: 'task loss', color: '#1f4e89', points: smooth(kd.map((e): Pt => [e.step, e.task_loss]), w) },
      { name: 'KD (T²·KL)', color: '#d62728', points: smooth(kd.map((e): Pt => [e.step, e.distill_loss]), w) },
    ]]);
  }
  const sp = st.filter((e) => e.sparsity !== undefined);
  if (sp.length) charts.push(['sparsity of the pruned weights (%)', [{ name: 'sparsity', color: '#17becf', points: sp.map((e) => [e.step, 100 * e.sparsity]) }]]);
  return charts.map(([title, series]) => ({ title, svg: lineChart(title, 'step', series) }));
}

/**
 * Writes each chart of the report as a standalone SVG file (own styles, white background) into `dir`, named
 * `<index>-<slug of the title>.svg` (e.g. `0-mlm-loss-nats.svg`); charts without data are skipped.
 * @returns the paths written.
 */
export function writeReportSvgs(run: string, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  reportCharts(readRunLog(run)).forEach((c, i) => {
    const m = /<svg[^>]*>[\s\S]*<\/svg>/.exec(c.svg);
    if (!m) return;
    const slug = c.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    const svg = m[0].replace(/^(<svg[^>]*>)/, `$1<style>${SVG_CSS}</style><rect width="100%" height="100%" fill="white"/>`);
    const path = join(dir, `${i}-${slug}.svg`);
    writeFileAtomic(path, `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`);
    out.push(path);
  });
  return out;
}

/**
 * Writes `<run>/report.html` (or `out`) from `<run>/log.jsonl`, atomically (a temporary file renamed into place).
 * @returns the path written.
 * @throws Error naming the output path when it is a folder or its folder does not exist.
 */
export function writeReport(run: string, out?: string): string {
  const log = readRunLog(run);
  const isDir = existsSync(run) && statSync(run).isDirectory();
  const dst = out ?? (isDir ? join(run, 'report.html') : run.replace(/\.jsonl$/, '') + '.html');
  assertOutputFilePath(dst, out !== undefined ? `--out ${out}` : dst);
  writeFileAtomic(dst, renderReport(log, `mosaicbert run ${String(log.start?.run_name ?? run)}`));
  return dst;
}
