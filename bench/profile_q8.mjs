// Where the time of one INT8 dense forward goes (MosaicBERT-base, random init seed 1234, `prepareInference('q8')`):
// case (a) batch 1 x 128 and (b) batch 32 of mixed lengths (as `bench inference`), every kernel call and every
// prepared projection timed, at the given thread count, with the projections run by each numbered int8 kernel
// version in turn (forwardVersion 1, 2, 3; 0 = the winner), so the per-projection times of the versions sit side
// by side in one process on the same inputs.
//
//   npm run build && flock /tmp/cpu-bench.lock node bench/profile_q8.mjs [--reps 10] [--threads 2] [--versions 2,3]
//
// Ours: a Proxy around the native kernels times each call (attention, LayerNorm, GeGLU, ...); each encoder Linear's
// backend is wrapped to time its forward, grouped by projection. "unaccounted" is the forward's wall time minus both.
// GMAC/s counts the projections' int8 multiply-adds (tokens x out x in, no padding) per second of projection time.
import { MOSAIC_BERT_BASE } from '../dist/src/model/config.js';
import { MosaicBertForMaskedLM } from '../dist/src/model/mlm.js';
import { unpadBatch } from '../dist/src/model/batch.js';
import { nativeKernels, setNumThreads } from '../dist/src/kernels/native.js';
import { benchBatch, mixedLengths } from '../dist/src/bench/onnx.js';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, x, i, a) => (x.startsWith('--') ? [...acc, [x.slice(2), a[i + 1]]] : acc), []));
const reps = Number(args.reps ?? 10), threads = Number(args.threads ?? 2);
const versions = String(args.versions ?? '2,3').split(',').map(Number);

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
model.prepareInference('q8');
const group = (name) => (/Wqkv/.test(name) ? 'linear Wqkv [2304 x 768]' : /attention\.output/.test(name) ? 'linear attn out [768 x 768]'
  : /gated_layers/.test(name) ? 'linear gated_layers [6144 x 768]' : 'linear wo [768 x 3072]');
let version = 0, macs = 0;
for (const l of model.encoder.linears()) {
  const inner = l.backend, g = group(l.name);
  if (inner.kind !== 'q8-dense') throw new Error(`profile_q8: ${l.name} has backend ${inner.kind}, expected q8-dense`);
  l.backend = { kind: inner.kind, outFeatures: inner.outFeatures, inFeatures: inner.inFeatures,
    forward(X, rows, Y) {
      const t0 = performance.now();
      inner.forwardVersion(version, X, rows, Y);
      add(g, performance.now() - t0);
      macs += rows * inner.outFeatures * inner.inFeatures;
    } };
}
setNumThreads(threads);
const S = 128;
const cases = [['(a) 1 x 128', benchBatch([S], S, 1)], ['(b) 32 mixed', benchBatch(mixedLengths(32, S, 20, 1234), S, 2)]];
for (const [name, b] of cases) {
  const u = unpadBatch(b);
  const n = name.startsWith('(b)') ? Math.max(1, Math.ceil(reps / 4)) : reps;
  for (const v of versions) {
    version = v;
    model.encode(u); // warm-up
    acc.clear(); macs = 0;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) model.encode(u);
    const total = (performance.now() - t0) / n;
    const parts = [...acc].map(([k, ms]) => [k, ms / n]).sort((x, y) => y[1] - x[1]);
    const known = parts.reduce((a, [, ms]) => a + ms, 0);
    const proj = parts.filter(([k]) => k.startsWith('linear')).reduce((a, [, ms]) => a + ms, 0);
    console.log(`\n${name}, ${threads} thread(s), int8 kernel v${v}: ${total.toFixed(1)} ms per forward (mean of ${n})`);
    console.log(`  projections: ${(macs / n / 1e9).toFixed(2)} G int8 MACs in ${proj.toFixed(1)} ms = ${(macs / n / proj / 1e6).toFixed(0)} GMAC/s`);
    for (const [k, ms] of parts) if (ms >= 0.05) console.log(`  ${k.padEnd(36)} ${ms.toFixed(2).padStart(8)} ms  ${(100 * ms / total).toFixed(1).padStart(5)}%`);
    console.log(`  ${'unaccounted (JS, buffers)'.padEnd(36)} ${(total - known).toFixed(2).padStart(8)} ms  ${(100 * (total - known) / total).toFixed(1).padStart(5)}%`);
  }
}
