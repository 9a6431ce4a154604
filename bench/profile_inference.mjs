// Where the time of one forward goes (dense fp32 unless --prune / --dtype) at batch 1 x 128 (MosaicBERT-base,
// random init seed 1234): ours with every kernel call and every prepared projection timed, at 1 and at 2 threads,
// against ONNX Runtime's own per-operator profile of the exported graph (same weights, same threads), so the two
// breakdowns sit side by side.
//
//   npm run build && flock /tmp/cpu-bench.lock node bench/profile_inference.mjs [--reps 20] [--threads 2]
//     [--min-threads 1] [--prune block4:0.9 | unstructured:0.9] [--dtype fp32 | q8] [--versions 1,3,4]
//     [--case a | b] [--no-ort]
//
// --min-threads..--threads: the thread counts run (default 1..2). --case b: the 32 mixed-length sequences of
// `bench inference` case (b) instead of 1 x 128. --versions: the sparse and INT8 layers (every backend with a
// forwardVersion: fp32 CSR / BSR4 v1-v4, INT8 dense / BSR4 v1-v3) run each numbered kernel version (0 = the winner) in turn, one forward each, round by round, so the versions are compared
// in one process under the same machine load; each gets its own breakdown (mean, median and fastest forward).
//
// --prune: first prunes the projections as `bench inference` does (`oneShotPrune`, method gmp, per layer, that
// mask type and sparsity), so every Linear picks its own backend (dense / CSR / BSR4, or INT8 with --dtype q8);
// the "projections" line then counts the dense FLOPs (what the pruned layers would cost dense) and, beside it, the
// FLOPs the stored entries actually do (for BSR4: 8 per block and token; fp32 only, INT8 counts as dense).
// ORT always runs the dense graph; --no-ort skips it.
//
// Ours: a Proxy around the native kernels times each call (attention, LayerNorm, GeGLU, embeddings, ...); each
// encoder Linear's prepared backend is wrapped to time its forward, grouped by projection (Wqkv, attention output,
// gated_layers, wo). "unaccounted" is the forward's wall time minus both: JS, buffer management, unpadding.
// The timers add a performance.now() pair per call (about 0.1 us x ~110 calls per forward: negligible).
// ORT: `enableProfiling`; the JSON's "Node" events summed per op type, MatMul split by whether B is a 2-D weight.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { MOSAIC_BERT_BASE } from '../dist/src/model/config.js';
import { MosaicBertForMaskedLM } from '../dist/src/model/mlm.js';
import { unpadBatch } from '../dist/src/model/batch.js';
import { nativeKernels, setNumThreads } from '../dist/src/kernels/native.js';
import { exportEncoderOnnx } from '../dist/src/interop/onnx_export.js';
import { cpuSessionOptions, loadOnnxRuntime, onnxFeeds } from '../dist/src/interop/onnx/runtime.js';
import { benchBatch, mixedLengths } from '../dist/src/bench/onnx.js';
import { oneShotPrune } from '../dist/src/pruning/one_shot.js';

const argv = process.argv.slice(2);
const noOrt = argv.includes('--no-ort');
const args = Object.fromEntries(argv.filter((x) => x !== '--no-ort').reduce((acc, x, i, a) => (x.startsWith('--') ? [...acc, [x.slice(2), a[i + 1]]] : acc), []));
const reps = Number(args.reps ?? 20), maxThreads = Number(args.threads ?? 2), minThreads = Number(args['min-threads'] ?? 1);
const dtype = args.dtype ?? 'fp32';
if (dtype !== 'fp32' && dtype !== 'q8') throw new Error(`--dtype ${dtype}: must be fp32 or q8`);
let prune = null;
if (args.prune) {
  const [maskType, s] = args.prune.split(':');
  if (!['block4', 'unstructured'].includes(maskType) || !(Number(s) > 0 && Number(s) < 1)) {
    throw new Error(`--prune ${args.prune}: expected block4:<s> or unstructured:<s> with s in (0, 1)`);
  }
  prune = { maskType, s: Number(s) };
}

const acc = new Map();
const add = (k, ms) => acc.set(k, (acc.get(k) ?? 0) + ms);
const base = nativeKernels();
const timed = new Proxy(base, {
  get(t, p) {
    const f = t[p];
    if (typeof f !== 'function') return f;
    return (...a) => { const t0 = performance.now(); const r = f.apply(t, a); add(`kernel ${String(p)}`, performance.now() - t0); return r; };
  },
});
const cfg = { ...MOSAIC_BERT_BASE };
const model = new MosaicBertForMaskedLM(cfg, { initSeed: 1234, kernels: timed });
if (prune) oneShotPrune(model, { method: 'gmp', sparsity: prune.s, maskType: prune.maskType, globalSparsity: false });
const kinds = model.prepareInference(dtype);
console.log(`weights: ${prune ? `${prune.maskType} ${prune.s}` : 'dense'}, ${dtype}; backends: ` +
  [...new Set(Object.values(kinds))].map((k) => `${k} x ${Object.values(kinds).filter((x) => x === k).length}`).join(', '));
// FLOPs the stored entries do per token: 2 per non-zero (CSR), 8 per 1x4 block (BSR4), 2 in out (dense).
let storedFlopPerToken = 0;
for (const l of model.encoder.linears()) {
  const be = l.backend;
  storedFlopPerToken += be.stored !== undefined ? (be.kind === 'bsr4' ? 8 : 2) * be.stored : 2 * be.outFeatures * be.inFeatures;
}
const group = (name) => (/Wqkv/.test(name) ? 'linear Wqkv [2304 x 768]' : /attention\.output/.test(name) ? 'linear attn out [768 x 768]'
  : /gated_layers/.test(name) ? 'linear gated_layers [6144 x 768]' : 'linear wo [768 x 3072]');
const versions = (args.versions ?? '0').split(',').map(Number);
let version = versions[0];
for (const l of model.encoder.linears()) {
  const inner = l.backend, g = group(l.name);
  const fwd = inner.forwardVersion ? (X, rows, Y) => inner.forwardVersion(version, X, rows, Y) : (X, rows, Y) => inner.forward(X, rows, Y);
  l.backend = { kind: inner.kind, outFeatures: inner.outFeatures, inFeatures: inner.inFeatures,
    forward(X, rows, Y) { const t0 = performance.now(); fwd(X, rows, Y); add(g, performance.now() - t0); } };
}
// --case b: the 32-sequence mixed-length batch of `bench inference` case (b) instead of 1 x 128.
const caseB = args.case === 'b';
if (args.case !== undefined && !['a', 'b'].includes(args.case)) throw new Error(`--case ${args.case}: must be a or b`);
const b = caseB ? benchBatch(mixedLengths(32, 128, 20, 1234), 128, 2) : benchBatch([128], 128, 1);
const TOKENS = b.attention_mask.reduce((a, x) => a + x, 0);
// 2 T (H 3H + H H + H 2I + I H) per layer, T = the batch's tokens (128 for case a).
const PROJ_GFLOP = 2 * TOKENS * cfg.hidden_size * (3 * cfg.hidden_size + cfg.hidden_size + 3 * cfg.intermediate_size) * cfg.num_hidden_layers / 1e9;
const u = unpadBatch(b);

const lines = [];
const STORED_GFLOP = storedFlopPerToken * TOKENS / 1e9;
for (let threads = minThreads; threads <= maxThreads; threads++) {
  setNumThreads(threads);
  const accs = versions.map(() => new Map()), times = versions.map(() => []);
  for (const v of versions) { version = v; model.encode(u); } // warm-up
  for (let i = 0; i < reps; i++) {
    versions.forEach((v, j) => {
      version = v;
      acc.clear();
      const t0 = performance.now();
      model.encode(u);
      times[j].push(performance.now() - t0);
      for (const [k, x] of acc) accs[j].set(k, (accs[j].get(k) ?? 0) + x);
    });
  }
  for (const [j, v] of versions.entries()) {
  const total = times[j].reduce((a, x) => a + x, 0) / reps;
  const sorted = [...times[j]].sort((a, b) => a - b);
  let known = 0;
  const parts = [...accs[j]].map(([k, x]) => [k, x / reps]).sort((x, y) => y[1] - x[1]);
  for (const [, x] of parts) known += x;
  lines.push(`\nours, ${threads} thread(s)${versions.length > 1 || v ? `, kernel v${v}` : ''}: ${total.toFixed(1)} ms per forward ` +
    `(mean of ${reps}; median ${sorted[reps >> 1].toFixed(1)}, fastest ${sorted[0].toFixed(1)})`);
  const proj = parts.filter(([k]) => k.startsWith('linear')).reduce((a, [, v]) => a + v, 0);
  lines.push(`  projections: ${PROJ_GFLOP.toFixed(2)} GFLOP in ${proj.toFixed(1)} ms = ${(PROJ_GFLOP / proj * 1000).toFixed(0)} GFLOP/s` +
    (prune ? ` dense-equivalent; stored entries ${STORED_GFLOP.toFixed(2)} GFLOP = ${(STORED_GFLOP / proj * 1000).toFixed(0)} GFLOP/s` : ''));
  for (const [k, v] of parts) if (v >= 0.05) lines.push(`  ${k.padEnd(36)} ${v.toFixed(2).padStart(8)} ms  ${(100 * v / total).toFixed(1).padStart(5)}%`);
  lines.push(`  ${'unaccounted (JS, buffers)'.padEnd(36)} ${(total - known).toFixed(2).padStart(8)} ms  ${(100 * (total - known) / total).toFixed(1).padStart(5)}%`);
  }
}
console.log(lines.splice(0).join('\n'));

const ort = noOrt ? null : await loadOnnxRuntime();
if (ort) {
  const prefix = `/tmp/mb-ort-profile-${process.pid}`;
  const s = await ort.InferenceSession.create(exportEncoderOnnx(cfg, model.params),
    { ...cpuSessionOptions(maxThreads), enableProfiling: true, profileFilePrefix: prefix });
  const feeds = onnxFeeds(ort, b, cfg.num_attention_heads);
  await s.run(feeds);
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await s.run(feeds);
  const total = (performance.now() - t0) / reps;
  // onnxruntime-node's endProfiling() returns nothing; the file is <prefix>_<date>.json.
  await s.endProfiling?.();
  await s.release();
  const base = prefix.split('/').pop();
  const file = readdirSync('/tmp').filter((f) => f.startsWith(base) && f.endsWith('.json')).map((f) => `/tmp/${f}`)[0];
  if (!file) throw new Error(`no ORT profile file ${prefix}_*.json`);
  const events = JSON.parse(readFileSync(file, 'utf8'));
  rmSync(file, { force: true });
  const ops = new Map();
  let runs = 0;
  for (const e of events) {
    if (e.cat === 'Session' && e.name === 'model_run') runs++;
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    let op = e.args?.op_name ?? '?';
    const shapes = e.args?.input_type_shape ?? [];
    if (op === 'MatMul' || op === 'FusedMatMul' || op === 'Gemm') {
      // Projections take the [B, S, hidden] activations; attention's MatMuls take [B, heads, S, *].
      const first = shapes[0] ? Object.values(shapes[0])[0] : [];
      op += first.length === 4 ? ' (attention, activations)' : ' (projection, B a weight)';
    }
    ops.set(op, (ops.get(op) ?? 0) + e.dur / 1000);
  }
  const n = Math.max(runs, 1);
  lines.push(`\nORT ${ort.env.versions?.node ?? '?'}, ${maxThreads} thread(s): ${total.toFixed(1)} ms per run (mean of ${reps}; profile over ${n} runs incl. warm-up)`);
  let known = 0;
  const proj = [...ops].filter(([k]) => k.includes('projection')).reduce((a, [, v]) => a + v / n, 0);
  lines.push(`  projections: ${PROJ_GFLOP.toFixed(2)} GFLOP in ${proj.toFixed(1)} ms = ${(PROJ_GFLOP / proj * 1000).toFixed(0)} GFLOP/s`);
  for (const [k, v] of [...ops].sort((x, y) => y[1] - x[1])) {
    known += v / n;
    if (v / n >= 0.05) lines.push(`  ${k.padEnd(44)} ${(v / n).toFixed(2).padStart(8)} ms  ${(100 * v / n / total).toFixed(1).padStart(5)}%`);
  }
  lines.push(`  ${'outside kernels'.padEnd(44)} ${(total - known).toFixed(2).padStart(8)} ms`);
}
console.log(lines.join('\n'));
