/**
 * The long-input benchmark behind `mosaicbert bench long-input`: a base-sized MosaicBERT (hidden 768, 12 layers,
 * 12 heads, GeGLU intermediate 3072, vocab 30528, random init) runs the encoder forward (inference mode, no MLM
 * head) over ONE sequence of each length, far past the 512 training length (ALiBi extrapolates). Each length runs in
 * a fresh child process so the peak resident set (VmHWM from /proc/self/status, else `resourceUsage().maxRSS`) is
 * that length's alone. Prints ms, tokens/s and peak RSS and writes the table, with its command, to a section of
 * bench/RESULTS.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getKernelPath, getNumThreads, setNumThreads } from '../kernels/native.js';
import { MOSAIC_BERT_BASE } from '../model/config.js';
import { MosaicBertForMaskedLM } from '../model/mlm.js';
import { unpadBatch } from '../model/batch.js';
import { writeSection } from './kernels.js';

/** One measured length. */
export interface LongInputRow {
  tokens: number;
  /** Wall time of the forward, ms. */
  ms: number;
  tokensPerSec: number;
  /** Peak resident set of the child process, MiB. */
  peakRssMiB: number;
  /** Resident set after building the model, before the forward, MiB. */
  modelRssMiB: number;
  /** Workspace (activation) bytes held after the forward, MiB. */
  workspaceMiB: number;
  /** Encoder mode ('inference-prepared-*': projections prepared once by `prepareInference(dtype)`). */
  mode: 'inference' | 'training-buffers' | 'inference-prepared-fp32' | 'inference-prepared-q8';
}

function rssMiB(): { now: number; peak: number } {
  if (existsSync('/proc/self/status')) {
    const s = readFileSync('/proc/self/status', 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  }
  const r = process.resourceUsage().maxRSS / 1024;
  return { now: process.memoryUsage().rss / 2 ** 20, peak: r };
}

/**
 * Runs one length in this process (the child side); returns its row. `dtype` prepares the projections first
 * (`prepareInference`, inference mode only); without it the projections run the training path's SGEMM.
 */
export function measureLongInput(tokens: number, opts: { inference?: boolean; threads?: number; dtype?: 'fp32' | 'q8' } = {}): LongInputRow {
  if (opts.threads) setNumThreads(opts.threads);
  const inference = opts.inference ?? true;
  const model = new MosaicBertForMaskedLM({ ...MOSAIC_BERT_BASE }, { initSeed: 1 });
  if (opts.dtype && !inference) throw new Error('long-input: --dtype needs inference mode (not --training-buffers)');
  if (opts.dtype) model.prepareInference(opts.dtype);
  const ids = new Int32Array(tokens);
  let x = 12345;
  for (let i = 0; i < tokens; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; ids[i] = 1000 + (x % 29000); }
  ids[0] = 101; ids[tokens - 1] = 102;
  const u = unpadBatch({ batch: 1, seqlen: tokens, input_ids: ids });
  const modelRss = rssMiB().now;
  const t0 = performance.now();
  const h = model.encode(u, { training: false, inference });
  const ms = performance.now() - t0;
  if (!Number.isFinite(h[0]) || !Number.isFinite(h[h.length - 1])) throw new Error(`long-input ${tokens}: non-finite output`);
  return { tokens, ms, tokensPerSec: tokens / (ms / 1000), peakRssMiB: rssMiB().peak, modelRssMiB: modelRss,
    workspaceMiB: model.activationBytes() / 2 ** 20,
    mode: opts.dtype ? `inference-prepared-${opts.dtype}` : inference ? 'inference' : 'training-buffers' };
}

/** Markdown table of rows. */
export function longInputTable(rows: LongInputRow[]): string {
  return '| tokens | encoder mode | ms | tokens/s | peak RSS MiB | RSS before forward MiB | workspace MiB |\n|---|---|---|---|---|---|---|\n' +
    rows.map((r) => `| ${r.tokens} | ${r.mode} | ${r.ms.toFixed(0)} | ${r.tokensPerSec.toFixed(1)} | ${r.peakRssMiB.toFixed(0)} | ` +
      `${r.modelRssMiB.toFixed(0)} | ${r.workspaceMiB.toFixed(0)} |`).join('\n');
}

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'mosaicbert.js');

/**
 * Runs every length in its own child process (`mosaicbert bench long-input --child N`), prints the table and
 * writes it to `out` (section 'long-input'). `compare` also measures the given lengths with per-layer (training)
 * buffers, to show what inference mode saves.
 */
export function runLongInputBench(opts: { lengths: number[]; out: string; threads?: number; compare?: number[];
  command?: string }): LongInputRow[] {
  const threads = opts.threads ?? getNumThreads();
  const jobs: Array<[number, boolean]> = [...opts.lengths.map((n) => [n, true] as [number, boolean]),
    ...(opts.compare ?? []).map((n) => [n, false] as [number, boolean])];
  const rows: LongInputRow[] = [];
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${threads} threads, kernel path ${getKernelPath()}`);
  for (const [n, inf] of jobs) {
    const args = [BIN, 'bench', 'long-input', '--child', String(n), '--threads', String(threads), ...(inf ? [] : ['--training-buffers'])];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`long-input ${n}: child failed (status ${r.status}): ${r.stderr.trim().slice(-500)}`);
    const line = r.stdout.trim().split('\n').pop() ?? '';
    const row = JSON.parse(line) as LongInputRow;
    rows.push(row);
    console.log(`${row.tokens} tokens (${row.mode}): ${row.ms.toFixed(0)} ms, ${row.tokensPerSec.toFixed(1)} tokens/s, ` +
      `peak RSS ${row.peakRssMiB.toFixed(0)} MiB`);
  }
  const table = longInputTable(rows);
  console.log(table);
  const cmd = opts.command ?? `node bin/mosaicbert.js bench long-input --lengths ${opts.lengths.join(',')}`;
  const body = `## Long inputs: ALiBi extrapolation (${new Date().toISOString().slice(0, 10)})\n\n` +
    `Command: \`${cmd}\`.\n\n` +
    `MosaicBERT-base shapes (hidden 768, 12 layers, 12 heads, GeGLU intermediate 3072, vocab 30528, random init), ` +
    `encoder forward (no MLM head) over ONE sequence per length, each length in a fresh child process so peak RSS ` +
    `(VmHWM) is that length's alone. Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${threads} threads, kernel path ` +
    `\`${getKernelPath()}\`. The attention kernel is tiled (no SxS matrix); in inference mode the encoder reuses one ` +
    `layer's [nnz, *] buffers across layers, so activation memory is linear in length and independent of depth.\n\n${table}\n`;
  writeSection(opts.out, 'long-input', body);
  console.log(`wrote ${opts.out}`);
  return rows;
}
