/**
 * The kernel benchmark behind `mosaicbert bench kernels`: measures the machine's fp32 peak, SGEMM at
 * MosaicBERT-base training shapes against OpenBLAS (same run, same thread count) and fused attention against a
 * materialized SxS attention on our SGEMM; prints a table and writes it, with the command and machine, to a
 * Markdown file (section between markers, so other benchmarks can share the file).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { getKernelPath, getNumThreads, setNumThreads } from '../kernels/native.js';
import type { BenchRow } from './types.js';
import { benchSgemm, measurePeak } from './sgemm.js';
import { benchAttention } from './attention.js';
import { benchLinear, linearTables } from './linear.js';
import { benchPruning } from './pruning.js';
import { benchLoss } from './loss.js';

function fmt(x: number | undefined, d = 1): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d);
}

/** Markdown table of bench rows. */
export function benchTable(rows: BenchRow[]): string {
  const head = '| kernel | shape | ms | GFLOP/s | % peak | peer | peer GFLOP/s | ours/peer | note |\n|---|---|---|---|---|---|---|---|---|';
  return head + '\n' + rows.map((r) => `| ${r.kernel} | ${r.shape} | ${fmt(r.ms, 2)} | ${fmt(r.gflops)} | ${fmt(r.pctPeak)} | ` +
    `${r.peer ?? '-'} | ${fmt(r.peerGflops)} | ${fmt(r.ratio, 2)} | ${r.note ?? ''} |`).join('\n');
}

/** Replaces (or appends) the section between `<!-- name:start -->` and `<!-- name:end -->` in a Markdown file. */
export function writeSection(file: string, name: string, body: string): void {
  const start = `<!-- ${name}:start -->`, end = `<!-- ${name}:end -->`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n\nMeasured in this tree; each section gives the command that reproduces it.\n';
  const block = `${start}\n${body.trim()}\n${end}`;
  const a = text.indexOf(start), b = text.indexOf(end);
  text = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + end.length) : text.trimEnd() + '\n\n' + block + '\n';
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** Kernel families `bench kernels` can run (`--only`). */
export const KERNEL_BENCH_FAMILIES = ['sgemm', 'attention', 'pruning', 'loss', 'linear'] as const;
export type KernelBenchFamily = typeof KERNEL_BENCH_FAMILIES[number];

export async function runKernelBench(opts: { quick?: boolean; threads?: number; out: string; only?: KernelBenchFamily[] }):
  Promise<BenchRow[]> {
  if (opts.threads) setNumThreads(opts.threads);
  const only = new Set<KernelBenchFamily>(opts.only ?? KERNEL_BENCH_FAMILIES);
  const threads = getNumThreads();
  const peak = measurePeak();
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${threads} threads, kernel path ${getKernelPath()}`;
  console.log(`machine: ${machine}, measured fp32 peak ${peak.toFixed(1)} GFLOP/s`);
  const rows: BenchRow[] = [];
  if (only.has('sgemm')) {
    const sg = await benchSgemm({ threads, quick: opts.quick });
    rows.push(...sg);
    console.log(benchTable(sg));
  }
  if (only.has('attention')) {
    const at = await benchAttention({ quick: opts.quick, peak });
    rows.push(...at);
    console.log(benchTable(at));
  }
  if (only.has('pruning')) {
    const pr = benchPruning({ quick: opts.quick, peak });
    rows.push(...pr);
    console.log(benchTable(pr));
  }
  if (only.has('loss')) {
    const ls = benchLoss({ quick: opts.quick, peak });
    rows.push(...ls);
    console.log(benchTable(ls));
  }
  const flags = `${opts.quick ? ' --quick' : ''}${opts.threads ? ` --threads ${opts.threads}` : ''}`;
  if (rows.length > 0) {
    const cmd = `node bin/mosaicbert.js bench kernels${flags}${opts.only ? ` --only ${[...only].filter((f) => f !== 'linear').join(',')}` : ''}`;
    const body = `## Kernels (${new Date().toISOString().slice(0, 10)})\n\nCommand: \`${cmd}\` (after \`npm ci\`).\n\n` +
      `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${threads} threads, kernel path \`${getKernelPath()}\`; ` +
      `measured fp32 FMA peak ${peak.toFixed(1)} GFLOP/s (the % peak column).\n\n${benchTable(rows)}\n`;
    // A subset (--only) gets its own section, so it never replaces the full run's table.
    const families = [...only].filter((f) => f !== 'linear');
    writeSection(opts.out, opts.only ? `kernels-${families.join('-')}` : 'kernels', body);
  }
  if (only.has('linear')) {
    const lin = benchLinear({ quick: opts.quick, peak, log: (s) => console.log(s) });
    rows.push(...lin.rows);
    console.log(benchTable(lin.rows));
    console.log(linearTables(lin));
    const cmd = `node bin/mosaicbert.js bench kernels --only linear${flags}`;
    const body = `## Linear backends: pre-packed dense, sparse, INT8 (${new Date().toISOString().slice(0, 10)})\n\n` +
      `Command: \`${cmd}\` (after \`npm ci\`; src/bench/linear.ts).\n\nMachine: ${machine}; measured fp32 FMA ` +
      `peak ${lin.peak.toFixed(1)} GFLOP/s (highest probe of the run; the % peak column, useful flops). Engines timed alternately, round by round, fastest call ` +
      `of each; ratio = peer time / our time.\n\n${benchTable(lin.rows)}\n\n${linearTables(lin)}`;
    // One section per explicit thread count (--threads 1 next to the default), so the two runs sit side by side.
    writeSection(opts.out, opts.threads ? `linear-${threads}t` : 'linear', body);
  }
  console.log(`wrote ${opts.out}`);
  return rows;
}
