/**
 * `mosaicbert bench onnx`: our encoder forward against ONNX Runtime (onnxruntime-node, CPU provider) on the same
 * model and weights: MosaicBERT-base shapes (hidden 768, 12 layers, 12 heads, GeGLU intermediate 3072, vocab 30528,
 * random init with a fixed seed), exported with {@link exportEncoderOnnx}.
 *
 * Cases: (a) batch 1 x 128; (b) batch 32 of mixed lengths (half 128, half uniform in [20, 128], seeded). ORT gets
 * the batch padded to 128 (as an exported HF model runs); we run it unpadded. Both engines use the same thread
 * count (ORT `intraOpNumThreads`, ours the native pool). Each repetition runs both engines back to back, so slow
 * phases of a shared machine hit both. Reported: median and min ms, non-pad tokens/s, and ours/ORT time ratio.
 */
import { cpus, loadavg } from 'node:os';
import { getKernelPath, getNumThreads, setNumThreads } from '../kernels/native.js';
import { MOSAIC_BERT_BASE } from '../model/config.js';
import { MosaicBertForMaskedLM } from '../model/mlm.js';
import { padRows, unpadBatch, type PaddedBatch } from '../model/batch.js';
import { exportEncoderOnnx } from '../interop/onnx_export.js';
import { cpuSessionOptions, loadOnnxRuntime, onnxFeeds, runEncoderSession } from '../interop/onnx/runtime.js';
import { writeSection } from './kernels.js';
import { mulberry32 } from '../data/mulberry32.js';

/** Options of {@link runOnnxBench}. */
export interface OnnxBenchOptions {
  /** Threads for both engines (default: ours' default, MOSAICBERT_NUM_THREADS or all cores). */
  threads?: number;
  /** Timed repetitions for batch 1 (default 7) and batch 32 (default 3), after one warm-up each. */
  repsSmall?: number;
  repsLarge?: number;
  /** Our weights: 'fp32' pre-packed once (what the pipelines run; default), 'q8' INT8, 'dense' the training path. */
  dtype?: 'fp32' | 'q8' | 'dense';
  /** Results file (section 'onnx'). */
  out: string;
  /** The command line to print in the results. */
  command: string;
}

/** One measured line. */
export interface OnnxBenchRow {
  case: string;
  batch: number;
  nonPad: number;
  engine: 'ours' | 'ORT';
  runs: number;
  msMedian: number;
  msMin: number;
  tokPerSec: number;
  /** ours median / ORT median (on the ours line). */
  ratio?: number;
  /** max |ours - ORT| over valid positions of the last run. */
  maxDiff?: number;
}

/**
 * A right-padded batch of `lengths` in `S` columns: [CLS] random word pieces [SEP], type ids 0.
 */
export function benchBatch(lengths: number[], S: number, seed: number): PaddedBatch {
  const r = mulberry32(seed), B = lengths.length;
  const ids = new Int32Array(B * S), mask = new Int32Array(B * S);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < lengths[b]; s++) {
      ids[b * S + s] = s === 0 ? 101 : s === lengths[b] - 1 ? 102 : 1000 + Math.floor(r() * 29000);
      mask[b * S + s] = 1;
    }
  }
  return { batch: B, seqlen: S, input_ids: ids, attention_mask: mask, token_type_ids: new Int32Array(B * S) };
}

/** Lengths of the mixed batch: half S, half uniform in [lo, S], seeded. */
export function mixedLengths(B: number, S: number, lo: number, seed: number): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: B }, (_, i) => (i < B / 2 ? S : lo + Math.floor(r() * (S - lo + 1))));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function fmt(x: number | undefined, d: number): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d);
}

/** Markdown table of the rows. */
export function onnxTable(rows: OnnxBenchRow[]): string {
  return '| case | batch x 128 | non-pad tokens | engine | runs | ms (median) | ms (min) | non-pad tok/s | ours/ORT time | max abs diff |\n' +
    '|---|---|---|---|---|---|---|---|---|---|\n' +
    rows.map((r) => `| ${r.case} | ${r.batch} | ${r.nonPad} | ${r.engine} | ${r.runs} | ${fmt(r.msMedian, 0)} | ` +
      `${fmt(r.msMin, 0)} | ${fmt(r.tokPerSec, 0)} | ${fmt(r.ratio, 2)} | ${r.maxDiff === undefined ? '' : r.maxDiff.toExponential(1)} |`).join('\n');
}

/**
 * Runs the benchmark, prints the table and writes it with the command and machine to `opts.out` (section 'onnx').
 * Throws an Error when onnxruntime-node is not installed.
 */
export async function runOnnxBench(opts: OnnxBenchOptions): Promise<OnnxBenchRow[]> {
  const ort = await loadOnnxRuntime();
  if (!ort) throw new Error('bench onnx: onnxruntime-node is not installed (npm install -D onnxruntime-node@1.24.3)');
  if (opts.threads) setNumThreads(opts.threads);
  const threads = getNumThreads();
  const load0 = loadavg();
  const cfg = { ...MOSAIC_BERT_BASE };
  const H = cfg.hidden_size, nh = cfg.num_attention_heads, S = 128;
  console.log(`building MosaicBERT-base (seed 1234), ${threads} threads, kernel path ${getKernelPath()}`);
  const model = new MosaicBertForMaskedLM(cfg, { initSeed: 1234 });
  let t = performance.now();
  let bytes: Uint8Array | null = exportEncoderOnnx(cfg, model.params);
  const modelMiB = bytes.length / 2 ** 20;
  console.log(`exported ONNX encoder: ${modelMiB.toFixed(0)} MiB in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  const session = await ort.InferenceSession.create(bytes, cpuSessionOptions(threads));
  bytes = null;
  const dtype = opts.dtype ?? 'fp32';
  if (dtype !== 'dense') model.prepareInference(dtype);
  console.log(`ours: ${dtype === 'dense' ? 'the training path (SGEMM re-packs weights per call)' : `encoder projections prepared as ${dtype}`}`);
  const sessionS = (performance.now() - t) / 1000;
  console.log(`ORT ${ort.env.versions?.node ?? '?'} session created in ${sessionS.toFixed(1)} s`);

  const cases = [
    { name: '(a) 1 x 128', batch: benchBatch([S], S, 1), reps: opts.repsSmall ?? 7 },
    { name: '(b) 32 mixed', batch: benchBatch(mixedLengths(32, S, 20, 1234), S, 2), reps: opts.repsLarge ?? 3 },
  ];
  const rows: OnnxBenchRow[] = [];
  try {
    for (const c of cases) {
      const b = c.batch, nonPad = b.attention_mask!.reduce((a, x) => a + x, 0);
      const feeds = onnxFeeds(ort, b, nh);
      const ours = (): Float32Array => {
        const u = unpadBatch(b);
        return padRows(model.encode(u), u, H);
      };
      // Warm-up (one each), then alternate.
      let o = ours();
      let e = await runEncoderSession(session, feeds);
      const tOurs: number[] = [], tOrt: number[] = [];
      for (let i = 0; i < c.reps; i++) {
        let t0 = performance.now();
        o = ours();
        tOurs.push(performance.now() - t0);
        t0 = performance.now();
        e = await runEncoderSession(session, feeds);
        tOrt.push(performance.now() - t0);
        console.log(`${c.name} rep ${i + 1}/${c.reps}: ours ${tOurs[i].toFixed(0)} ms, ORT ${tOrt[i].toFixed(0)} ms`);
      }
      let maxDiff = 0;
      for (let p = 0; p < b.batch * S; p++) {
        if (b.attention_mask![p] !== 1) continue;
        for (let j = p * H; j < (p + 1) * H; j++) maxDiff = Math.max(maxDiff, Math.abs(o[j] - e[j]));
      }
      const mo = median(tOurs), me = median(tOrt);
      rows.push({ case: c.name, batch: b.batch, nonPad, engine: 'ours', runs: c.reps, msMedian: mo,
        msMin: Math.min(...tOurs), tokPerSec: nonPad / mo * 1000, ratio: mo / me, maxDiff });
      rows.push({ case: c.name, batch: b.batch, nonPad, engine: 'ORT', runs: c.reps, msMedian: me,
        msMin: Math.min(...tOrt), tokPerSec: nonPad / me * 1000 });
    }
  } finally {
    await session.release();
  }
  const load1 = loadavg();
  const table = onnxTable(rows);
  console.log(table);
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(', ');
  const body = `## Inference vs ONNX Runtime (${new Date().toISOString().slice(0, 10)})\n\n` +
    `Command: \`${opts.command}\` (after \`npm ci\`; onnxruntime-node ${ort.env.versions?.node ?? '?'}, a dev dependency).\n\n` +
    `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; ${threads} threads for both engines ` +
    `(ORT intraOpNumThreads ${threads}, interOpNumThreads 1, sequential, all graph optimizations; ours kernel path ` +
    `\`${getKernelPath()}\`). Load average (1, 5, 15 min) before: ${la(load0)}; after: ${la(load1)}.\n\n` +
    `Model: MosaicBERT-base encoder (hidden 768, 12 layers, 12 heads, GeGLU intermediate 3072, vocab 30528), random ` +
    `init seed 1234, no head; the same weights exported to ONNX (opset 17, ${modelMiB.toFixed(0)} MiB, ORT session ` +
    `creation ${sessionS.toFixed(1)} s). ORT gets the batch padded to 128 (padded computation, as an exported HF model); ` +
    `ours runs unpadded (inference-mode buffers) and pads the output back. (b): half the rows 128 tokens, half uniform ` +
    `in [20, 128] (seed 1234). One warm-up run each, then the engines alternate run by run; ms includes building ` +
    `inputs on our side only (ORT tensors, including the ALiBi bias, are built once per shape). "ours/ORT time" ` +
    `> 1 means ours is slower. "max abs diff": ours vs ORT on valid positions.\n\n${table}\n`;
  writeSection(opts.out, 'onnx', body);
  console.log(`wrote ${opts.out}`);
  return rows;
}
