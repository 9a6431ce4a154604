/**
 * `mosaicbert bench serve`: HTTP serving throughput and latency on loopback, with autocannon as the load generator.
 *
 * Model: MosaicBERT-base's shape from the `mosaic-bert-base` train preset (12 layers, hidden 768, 12 heads, GeGLU
 * 3072, vocab 30528), random init (seed 1234), saved with savePretrained to a temp folder, plus the same weights
 * exported to ONNX by src/interop/onnx_export.ts (`onnx/model.onnx`) and a `tokenizer.json` for transformers.js;
 * for the sparse rows, a copy pruned one-shot to 90% by global magnitude in 1x4 blocks (`oneShotPrune`, method gmp,
 * mask block4: what `mosaicbert prune --method gmp --mask-type block4 --sparsity 0.9` does); for the peer's INT8 row,
 * `onnx/model_quantized.onnx` from src/interop/onnx_quantize.ts (ONNX Runtime's dynamic quantization scheme).
 *
 * Servers (src/bench/serve_variants.ts; `variants` picks them, default (a), (b), (c)), each its own process, all
 * started before the first run so every case measures them back to back:
 * (a) `mosaicbert serve` (dynamic unpadded batching, `--max-batch-tokens` from the options, default 2048);
 * (b) `mosaicbert serve --max-batch-requests 1` (one input at a time: no batching);
 * (c) the transformers.js peer (src/bench/serve_peer.ts): the same fastify route, schema and pooling on
 *     `@huggingface/transformers` + onnxruntime-node, one model call per request;
 * (a') (a) with a 4096-token budget; (a'') (a) without the refill wait; (d) (a) with `--dtype q8`; (e) / (f) (a) / (d) on the pruned model;
 * (g) (c) with transformers.js `dtype: 'q8'`; (h) (a) with `--no-worker` (the model on the server's event-loop thread, as
 * before the model worker).
 * Every engine gets the same thread count. Cases: inputs of exactly 16 and 128 tokens ([CLS]/[SEP] included), at
 * 1, 8 and 32 connections, `duration` s each (3x for 128 tokens) (after a 1 s warm-up at one connection per server and length); after
 * each run the bench waits until the server has no request in progress. Latencies are those of the completed 2xx
 * responses (requests still open when a run ends are not counted); requests/s = completed 2xx / duration; GFLOP/s =
 * requests/s x the request's forward FLOPs (serve_variants.ts `requestFlops`); the fp32 peak is the native FMA probe
 * (`measurePeak`, the same threads) taken before and after the cases. Ours: mean inputs per batch over the run, from
 * the server's /metrics.
 *
 * Overload (when (a) runs): a fresh (a) with `--max-concurrent-requests 32` first runs 32 connections of 16-token
 * inputs (its capacity, measured just before since the machine is shared), then is offered 4x that many requests/s
 * (autocannon `overallRate`, 128 connections): counted are 2xx, 429, every other
 * status and socket error / timeout; p50/p99 of the admitted (2xx) requests; the server's resident memory (VmRSS)
 * sampled every 250 ms.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { Tokenizer, WordPiece, bertNormalizer, bertPreTokenizer, bertProcessing, wordPieceDecoder } from 'tokenizers';
import { savePretrained } from '../interop/pretrained.js';
import { writeEncoderOnnx } from '../interop/onnx_export.js';
import { quantizeOnnxDynamic } from '../interop/onnx_quantize.js';
import { MosaicBertForMaskedLM } from '../model/mlm.js';
import { BertTokenizer } from '../tokenizer/bert_tokenizer.js';
import { loadConfig } from '../train/config.js';
import { setNumThreads } from '../kernels/native.js';
import { oneShotPrune } from '../pruning/one_shot.js';
import { writeSection } from './kernels.js';
import { measurePeak } from './sgemm.js';
import { goalChecks, requestFlops, serveVariant, type ServeVariant, type ServeVariantId } from './serve_variants.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Options of {@link runServeBench}. */
export interface ServeBenchOptions {
  /** Measured seconds per 16-token case (default 6); 128-token cases run 3x as long, so that a run holds several
   * of their longer batches. */
  duration: number;
  /** Token budget of (a)'s batches (default 2048). */
  maxBatchTokens: number;
  /** Threads of every engine (default 2). */
  threads: number;
  /** Results file (section 'serve'). */
  out: string;
  /** The command line to print in the results. */
  command: string;
  /** Server rows (default: batched, single, peer; see serve_variants.ts). */
  variants?: ServeVariantId[];
}

/** One measured case. */
export interface ServeBenchRow {
  id: ServeVariantId;
  server: string;
  tokens: number;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  failed: number;
  /** Forward GFLOP/s of the completed requests (dense-equivalent for the pruned model). */
  gflops: number;
  /** Ours: mean inputs per batch during the run (NaN for the peer). */
  meanBatch: number;
}

/** Writes `tokenizer.json` (Hugging Face tokenizers format) for a BERT WordPiece vocab.txt, uncased. */
async function writeTokenizerJson(vocab: string, out: string): Promise<void> {
  const wp = await WordPiece.fromFile(vocab, { unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100 });
  const tok = new Tokenizer(wp);
  tok.setNormalizer(bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true }));
  tok.setPreTokenizer(bertPreTokenizer());
  tok.setPostProcessor(bertProcessing(['[SEP]', 102], ['[CLS]', 101]));
  tok.setDecoder(wordPieceDecoder('##', true));
  tok.addSpecialTokens(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  tok.save(out);
}

/** A text that tokenizes to exactly `n` tokens with [CLS]/[SEP] (n - 2 single-piece words). */
async function textOfTokens(tok: BertTokenizer, n: number): Promise<string> {
  const words = ('the of and to in was is for on as with by he at from his an were are which this be or had not ' +
    'first one their its new after who they have her she two been other when there all during into school time').split(' ');
  const text = Array.from({ length: n - 2 }, (_, i) => words[(i * 7) % words.length]).join(' ');
  const got = (await tok.encode(text)).input_ids.length;
  if (got !== n) throw new Error(`bench serve: built a ${got}-token text, wanted ${n}`);
  return text;
}

interface Child { url: string; proc: ChildProcess; stop: () => Promise<void>; alive: () => void }

/** Spawns a server process and waits for its `{"event":"ready","url"}` line. */
function spawnServer(args: string[], env: NodeJS.ProcessEnv, tag: string): Promise<Child> {
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => { stderr = (stderr + String(d)).slice(-4000); });
  const alive = () => {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`bench serve: ${tag} died (exit ${proc.exitCode}, signal ${proc.signalCode}): ${stderr.slice(-2000)}`);
    }
  };
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.on('line', (l) => {
      let o: { event?: string; url?: string };
      try { o = JSON.parse(l); } catch { return; }
      if (o.event === 'ready' && o.url) {
        // Per-request log lines are not needed here; drain them.
        resolve({ url: o.url, proc, alive, stop: () => new Promise((r) => {
          if (proc.exitCode !== null || proc.signalCode !== null) { r(); return; }
          proc.once('exit', () => r());
          proc.kill('SIGTERM');
        }) });
      }
    });
    proc.once('exit', (code) => reject(new Error(`bench serve: ${tag} exited with ${code} before ready: ${stderr.slice(-2000)}`)));
  });
}

interface LoadResult {
  ok: number; status: Record<string, number>; errors: number; timeouts: number; seconds: number;
  p50: number; p99: number; max: number;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)];
}

/** One autocannon run against `POST url/embed`; latencies of 2xx responses only. */
async function load(url: string, body: string, connections: number, seconds: number, overallRate?: number): Promise<LoadResult> {
  const lat: number[] = [], status: Record<string, number> = {};
  const inst = (autocannon as unknown as (o: autocannon.Options) => Promise<autocannon.Result> & EventEmitter)({
    url: `${url}/embed`, method: 'POST', headers: { 'content-type': 'application/json' }, body,
    connections, duration: seconds, timeout: 60, ...(overallRate ? { overallRate } : {}),
  });
  inst.on('response', (_c: unknown, code: number, _bytes: number, ms: number) => {
    status[code] = (status[code] ?? 0) + 1;
    if (code >= 200 && code < 300) lat.push(ms);
  });
  const r = await inst;
  lat.sort((a, b) => a - b);
  return { ok: lat.length, status, errors: r.errors, timeouts: r.timeouts, seconds: r.duration,
    p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1] ?? NaN };
}

/**
 * Waits until a server has no request in progress (ours: `mosaicbert_requests_in_flight` of /metrics; the peer:
 * `in_flight` of /health), so work left over from one run (the peer keeps computing for closed clients) does not
 * slow the next; gives up after `maxS` seconds. Returns the seconds waited.
 */
async function waitIdle(child: Child, peer: boolean, maxS = 120): Promise<number> {
  const t0 = performance.now(), url = child.url;
  let failures = 0;
  while (performance.now() - t0 < maxS * 1000) {
    child.alive();
    let text: string;
    try {
      text = await (await fetch(`${url}${peer ? '/health' : '/metrics'}`)).text();
    } catch (e) {
      // A kept-alive socket closed under the request: retry on a new one while the server lives.
      if (++failures > 20) throw new Error(`bench serve: ${url} does not answer: ${(e as Error).message} (${String((e as Error).cause)})`);
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    const n = peer ? (JSON.parse(text) as { in_flight: number }).in_flight
      : Number(/^mosaicbert_requests_in_flight (\d+)/m.exec(text)?.[1] ?? NaN);
    if (n === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return (performance.now() - t0) / 1000;
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch { return NaN; }
}

const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');

/** Ours: (sum, count) of the batch-size histogram of /metrics (for the mean inputs per batch over a run). */
async function batchCounts(url: string): Promise<[number, number]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const get = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return [get('mosaicbert_batch_size_sum'), get('mosaicbert_batch_size_count')];
}

/** The best of three FMA-probe runs (GFLOP/s) with the engines' thread count. */
function peakProbe(): number {
  let p = 0;
  for (let i = 0; i < 3; i++) p = Math.max(p, measurePeak());
  return p;
}

/** Writes `onnx/model_quantized.onnx` (what transformers.js `dtype: 'q8'` loads) from `onnx/model.onnx`; returns its bytes. */
function writeQuantizedOnnx(onnxDir: string): number {
  const q = quantizeOnnxDynamic(new Uint8Array(readFileSync(join(onnxDir, 'model.onnx'))));
  writeFileSync(join(onnxDir, 'model_quantized.onnx'), q);
  return q.length;
}

/** Runs the benchmark; prints and writes the tables to `opts.out` (section 'serve'). */
export async function runServeBench(opts: ServeBenchOptions): Promise<ServeBenchRow[]> {
  const load0 = loadavg();
  const work = mkdtempSync(join(tmpdir(), 'mb-bench-serve-'));
  const dir = join(work, 'mosaic-bert-base'), sparseDir = join(work, 'mosaic-bert-base-gmp90-block4');
  const children: Child[] = [];
  const notes: string[] = [];
  const variants: ServeVariant[] = (opts.variants ?? ['batched', 'single', 'peer']).map((id) => serveVariant(id, opts.maxBatchTokens));
  try {
    setNumThreads(opts.threads);
    const peakBefore = peakProbe();
    console.log(`fp32 FMA peak probe (${opts.threads} threads): ${peakBefore.toFixed(1)} GFLOP/s`);
    const { config: tc } = loadConfig({ preset: 'mosaic-bert-base' });
    const cfg = tc.model;
    let t = performance.now();
    const model = new MosaicBertForMaskedLM(cfg, { initSeed: 1234 });
    savePretrained(model, dir);
    mkdirSync(join(dir, 'onnx'));
    const onnxBytes = writeEncoderOnnx(join(dir, 'onnx', 'model.onnx'), cfg, model.params);
    await writeTokenizerJson(join(dir, 'vocab.txt'), join(dir, 'tokenizer.json'));
    console.log(`model (preset mosaic-bert-base, seed 1234) saved with its ONNX export (${(onnxBytes / 2 ** 20).toFixed(0)} MiB) ` +
      `in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    let sparsity = NaN;
    if (variants.some((v) => v.model === 'sparse')) {
      t = performance.now();
      const r = oneShotPrune(model, { method: 'gmp', sparsity: 0.9, maskType: 'block4' });
      sparsity = r.achievedSparsity;
      savePretrained(model, sparseDir);
      console.log(`pruned copy: gmp block4, ${(100 * sparsity).toFixed(2)}% of the encoder projections zero, in ` +
        `${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    let quantBytes = NaN;
    if (variants.some((v) => v.peer && v.dtype === 'q8')) {
      t = performance.now();
      quantBytes = writeQuantizedOnnx(join(dir, 'onnx'));
      console.log(`onnx/model_quantized.onnx (${(quantBytes / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    const tok = await BertTokenizer.fromVocabFile(join(dir, 'vocab.txt'));
    const bodies = new Map<number, string>();
    for (const n of [16, 128]) bodies.set(n, JSON.stringify({ inputs: await textOfTokens(tok, n) }));

    const env = { ...process.env, MOSAICBERT_NUM_THREADS: String(opts.threads) };
    const bin = join(root, 'bin', 'mosaicbert.js');
    const serveArgs = (d: string) => ['serve', '--model', d, '--port', '0', '--max-batch-tokens', String(opts.maxBatchTokens)];
    const args = (v: ServeVariant) => v.peer
      ? [join(root, 'dist', 'src', 'bench', 'serve_peer.js'), '--model', dir, '--port', '0', '--threads', String(opts.threads), '--dtype', v.dtype]
      : [bin, ...serveArgs(v.model === 'sparse' ? sparseDir : dir), ...v.flags];
    t = performance.now();
    // Started one after the other so each load (and ORT's graph optimization) has the cores to itself.
    // A row whose server does not start is left out with a note (a long run is not lost to one engine).
    for (const v of [...variants]) {
      try {
        children.push(await spawnServer(args(v), env, v.label));
      } catch (e) {
        notes.push(`${v.label.split(' ')[0]} not run: its server did not start (${(e as Error).message.slice(0, 300)}).`);
        console.log(notes[notes.length - 1]);
        variants.splice(variants.indexOf(v), 1);
      }
    }
    console.log(`servers ready in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const rows: ServeBenchRow[] = [];
    for (const n of [16, 128]) {
      // Warm-up: 1 s at one connection per server and length.
      for (let s = 0; s < variants.length; s++) {
        await load(children[s].url, bodies.get(n)!, 1, 1);
        await waitIdle(children[s], variants[s].peer);
      }
      for (const c of [1, 8, 32]) {
        for (let s = 0; s < variants.length; s++) {
          const v = variants[s];
          const b0 = v.peer ? null : await batchCounts(children[s].url);
          const r = await load(children[s].url, bodies.get(n)!, c, n >= 128 ? 3 * opts.duration : opts.duration);
          await waitIdle(children[s], v.peer);
          const b1 = v.peer ? null : await batchCounts(children[s].url);
          const failed = Object.entries(r.status).filter(([k]) => !k.startsWith('2')).reduce((a, [, x]) => a + x, 0) + r.errors;
          const rps = r.ok / r.seconds;
          const row: ServeBenchRow = { id: v.id, server: v.label, tokens: n, connections: c, rps, p50: r.p50, p99: r.p99, ok: r.ok,
            failed, gflops: rps * requestFlops(cfg, n) / 1e9, meanBatch: b0 && b1 ? (b1[0] - b0[0]) / (b1[1] - b0[1]) : NaN };
          rows.push(row);
          console.log(`${n} tokens, ${c} connections, ${row.server}: ${f1(row.rps)} req/s, p50 ${f0(r.p50)} ms, ` +
            `p99 ${f0(r.p99)} ms, ${f1(row.gflops)} GFLOP/s, mean batch ${f1(row.meanBatch)} (${r.ok} ok, ${failed} failed)`);
        }
      }
    }
    for (const ch of children.splice(0)) await ch.stop();
    const peakAfter = peakProbe();
    const peak = Math.max(peakBefore, peakAfter);
    console.log(`fp32 FMA peak probe after the cases: ${peakAfter.toFixed(1)} GFLOP/s`);

    let overload = '';
    if (variants.some((v) => v.id === 'batched')) overload = await overloadRun(bin, serveArgs(dir), env, bodies.get(16)!, opts.duration, children);

    const load1 = loadavg();
    const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(', ');
    const table = '| input tokens | connections | server | requests/s | p50 ms | p99 ms | GFLOP/s | % of peak | mean batch | completed | failed |\n' +
      '|---|---|---|---|---|---|---|---|---|---|---|\n' +
      rows.map((r) => `| ${r.tokens} | ${r.connections} | ${r.server} | ${f1(r.rps)} | ${f0(r.p50)} | ${f0(r.p99)} | ` +
        `${f1(r.gflops)} | ${f0(100 * r.gflops / peak)} | ${f1(r.meanBatch)} | ${r.ok} | ${r.failed} |`).join('\n');
    const tjsVersion = (JSON.parse(readFileSync(join(root, 'node_modules', '@huggingface', 'transformers', 'package.json'), 'utf8')) as { version: string }).version;
    const label = (id: ServeVariantId) => serveVariant(id, opts.maxBatchTokens).label.split(' ')[0];
    const checks = goalChecks(rows, 32);
    const goal = checks.map((g) => `- ${label(g.ours)} vs ${label(g.peer)}, ${g.tokens} tokens: **${g.ratio.toFixed(2)}x** the ` +
      `requests/s, p99 ${f0(g.oursP99)} vs ${f0(g.peerP99)} ms: goal ${g.met ? '**met**' : '**not met**'}` +
      (g.ratio >= 2 && !g.met ? ' (p99 not below)' : '')).join('\n');
    const fp32Peer = rows.filter((r) => r.id === 'peer' && r.connections === 32)
      .map((r) => `${r.tokens} tokens: (c) computes ${f1(r.gflops)} GFLOP/s, so no fp32 engine can exceed ` +
        `${(peak / r.gflops).toFixed(2)}x its requests/s on this machine`).join('; ');
    const flops = [16, 128].map((n) => `${n} tokens: ${(requestFlops(cfg, n) / 1e9).toFixed(2)} GFLOP`).join(', ');
    const body = `## HTTP serving: dynamic batching, INT8 and sparse vs transformers.js (${new Date().toISOString().slice(0, 10)})\n\n` +
      `Command: \`${opts.command}\` (after \`npm ci\`; autocannon on loopback; \`@huggingface/transformers\` ${tjsVersion} ` +
      'on its onnxruntime-node, a dev dependency).\n\n' +
      `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, shared; every engine on ${opts.threads} threads ` +
      `(ours MOSAICBERT_NUM_THREADS, ORT intraOpNumThreads); the load generator runs on the same cores. Load average ` +
      `(1, 5, 15 min) before: ${la(load0)}; after: ${la(load1)}. fp32 FMA peak probe (native, ${opts.threads} threads, best of 3): ` +
      `${f1(peakBefore)} GFLOP/s before the cases, ${f1(peakAfter)} after; % of peak uses ${f1(peak)}.\n\n` +
      'Model: MosaicBERT-base shape (`mosaic-bert-base` preset: 12 layers, hidden 768, 12 heads, GeGLU 3072, vocab ' +
      '30528), random init seed 1234; the peer runs the same weights exported by `src/interop/onnx_export.ts`' +
      (Number.isFinite(quantBytes) ? `, (g) that graph quantized by \`src/interop/onnx_quantize.ts\` (ONNX Runtime's dynamic INT8 scheme: int8 weights per output channel, uint8 activations per tensor; \`onnx/model_quantized.onnx\`, ${(quantBytes / 2 ** 20).toFixed(0)} MiB, what transformers.js \`dtype: 'q8'\` loads)` : '') +
      (Number.isFinite(sparsity) ? `; (e), (f): the same model pruned one-shot by global magnitude in 1x4 blocks (\`oneShotPrune\` gmp block4, ${(100 * sparsity).toFixed(2)}% of the encoder projections zero; ` +
        'a random-init model, so this measures speed, not accuracy)' : '') + '. Every ' +
      'request is `POST /embed` with one input of exactly 16 or 128 tokens; mean pooling, L2-normalized. ' +
      `(a) \`mosaicbert serve --max-batch-tokens ${opts.maxBatchTokens}\` (default \`--max-batch-wait-ms 20\`, the model in its worker thread); (b) the same with \`--max-batch-requests 1\`; (c) ` +
      '`src/bench/serve_peer.ts`: the same fastify route and schema calling the transformers.js model per request ' +
      '(no cross-request batching, concurrent session runs). 1 s warm-up at one connection per server and input ' +
      'length, then each case ' +
      `${opts.duration} s for 16 tokens, ${3 * opts.duration} s for 128 (a run must hold several batches: a 2048-token ` +
      'batch of base takes seconds here; the next starts once the server has no request in progress: the peer keeps computing for ' +
      'closed clients); requests/s = completed 2xx per second; p50/p99 over completed 2xx responses (requests ' +
      'still open at the end of a run are not counted, so with long queues the percentiles are those of the requests ' +
      'that finished within the run). GFLOP/s = requests/s x forward FLOPs per request ' +
      `(2 n L (4 H^2 + 3 I H) + 4 n^2 L H; ${flops}; dense-equivalent for the pruned rows, which is why they can pass the ` +
      'peak); mean batch: inputs per batch over the run, from our /metrics. Ours log one JSON line per request (to a ' +
      'pipe the bench reads); the peer logs nothing.' + (notes.length ? ' ' + notes.join(' ') : '') + '\n\n' + table + '\n\n' +
      `The goal at 32 connections (at least 2x the peer's requests/s with a lower p99):\n\n${goal}\n\n` +
      (fp32Peer ? `Arithmetic ceiling for fp32 against fp32: ${fp32Peer} (peak / its GFLOP/s).\n\n` : '') + overload;
    writeSection(opts.out, 'serve', body);
    console.log(table);
    console.log(goal);
    console.log(`wrote ${opts.out}`);
    return rows;
  } finally {
    for (const ch of children) ch.proc.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Overload: 4x the sustained rate of (a) at 32 connections, 16 tokens, against a bounded queue; capacity measured
 * on the overload server itself just before (the machine is shared: load drifts). Returns the results paragraph.
 */
async function overloadRun(bin: string, serveArgs: string[], env: NodeJS.ProcessEnv, body: string, duration: number,
  children: Child[]): Promise<string> {
  const maxConc = 32, overSeconds = Math.max(10, 2 * duration);
  const over = await spawnServer([bin, ...serveArgs, '--max-concurrent-requests', String(maxConc)], env, 'overload server');
  children.push(over);
  await load(over.url, body, 8, 1);
  await waitIdle(over, false);
  const capRun = await load(over.url, body, 32, Math.max(4, Math.round(duration / 2)));
  await waitIdle(over, false);
  const cap = capRun.ok / capRun.seconds, rate = Math.max(1, Math.round(4 * cap));
  const rss: number[] = [rssMiB(over.proc.pid!)];
  const sampler = setInterval(() => rss.push(rssMiB(over.proc.pid!)), 250);
  const o = await load(over.url, body, 128, overSeconds, rate);
  clearInterval(sampler);
  rss.push(rssMiB(over.proc.pid!));
  const s429 = o.status['429'] ?? 0;
  const other = Object.entries(o.status).filter(([k]) => !k.startsWith('2') && k !== '429').reduce((a, [, v]) => a + v, 0);
  const total = Object.values(o.status).reduce((a, b) => a + b, 0);
  // Worst admitted wait: a batch of up to maxConc - 1 others just started, then its own batch of up to maxConc.
  // Plus one refill wait (serve's default --max-batch-wait-ms, 20).
  const bound = 2 * maxConc / cap * 1000 + 20;
  console.log(`overload: offered ${rate} req/s for ${overSeconds} s: ${total} answered, ${o.ok} 2xx, ${s429} 429, ` +
    `${other} other statuses, ${o.errors} errors, ${o.timeouts} timeouts; 2xx p50 ${f0(o.p50)} ms p99 ${f0(o.p99)} ms; ` +
    `RSS ${f0(rss[0])} -> max ${f0(Math.max(...rss))} -> ${f0(rss[rss.length - 1])} MiB`);
  for (const ch of children.splice(0)) await ch.stop();
  return `Overload: a fresh (a) with \`--max-concurrent-requests ${maxConc}\` sustained ${f1(cap)} req/s at 32 connections ` +
    `on 16 tokens (${capRun.seconds} s, just before), then was offered 4x that, ${rate} req/s, from 128 connections for ` +
    `${overSeconds} s: ${total} ` +
    `responses, **${o.ok} 2xx, ${s429} 429, ${other} other statuses, ${o.errors} socket errors, ${o.timeouts} timeouts**; ` +
    `admitted (2xx) latency p50 ${f0(o.p50)} ms, p99 ${f0(o.p99)} ms, max ${f0(o.max)} ms (bound set by the ` +
    `queue limit: a running batch and its own, each of at most ${maxConc} requests, 2 x ${maxConc} / ${f1(cap)} req/s + 20 ms refill wait = ` +
    `${f0(bound)} ms); server RSS ${f0(rss[0])} MiB before, max ` +
    `${f0(Math.max(...rss))} MiB, ${f0(rss[rss.length - 1])} MiB after (${rss.length} samples).\n`;
}
