// Training-step time of two checkouts in ONE process, alternating step by step (A B A B ...) on the same batches,
// so machine load drifts hit both sides alike. Each side builds its own Trainer (its own model, kernels addon,
// optimizer) from the same preset and prepared data, and a step is `accumulate` (forward + backward over the
// microbatches) + the AdamW step, as in `pretrain`. Prints per preset the median step time of each side and the
// median of the per-pair ratios A/B (> 1: B is faster).
//
//   node bench/train_ab_inproc.mjs --a ../old --b . --data runs/.cache/prepared-<hash> --steps 12
import { join, resolve } from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, x, i, a) => (x.startsWith('--') ? [...acc, [x.slice(2), a[i + 1]]] : acc), []));
const trees = { A: resolve(args.a), B: resolve(args.b) };
const data = resolve(args.data), steps = Number(args.steps ?? 12);
const cases = [
  { preset: 'mosaic-bert-mini', batch: 32, micro: 16 },
  { preset: 'mosaic-bert-small', batch: 16, micro: 16 },
  { preset: 'mosaic-bert-base', batch: 8, micro: 8 },
].filter((c) => !args.presets || args.presets.split(',').includes(c.preset.replace('mosaic-bert-', '')));
const median = (x) => { const s = [...x].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

async function side(tree, c, tag) {
  const imp = (p) => import(join(tree, 'dist/src', p));
  const { loadConfig } = await imp('train/config.js');
  const { Trainer } = await imp('train/trainer.js');
  // Older checkouts name the file with a dash.
  const dsFile = ['token_dataset', 'token' + '-dataset'].map((n) => `data/${n}.js`).find((f) => existsSync(join(tree, 'dist/src', f)));
  const ds = await imp(dsFile);
  const cfg = loadConfig({ preset: c.preset, overrides: [`global_train_batch_size=${c.batch}`, `device_train_microbatch_size=${c.micro}`,
    'max_duration=1000ba', 'progress_bar=false'] }).config;
  const open = (s) => ds.TokenDataset.open(join(data, s));
  const t = new Trainer({ config: cfg, train: open('train'), val: null, runDir: join('/tmp', `inproc-${tag}`), log: false });
  const loader = t['trainLoader']();
  return { t, loader, micro: Math.ceil(c.batch / c.micro) };
}

const out = [];
for (const c of cases) {
  const A = await side(trees.A, c, 'A'), B = await side(trees.B, c, 'B');
  const ta = [], tb = [], ratio = [];
  for (let s = 0; s < steps + 1; s++) {
    const batch = A.loader.next(); B.loader.next();   // same data order on both sides
    const time = (x) => { const t0 = performance.now(); x.t.accumulate(batch, s * x.micro); x.t.optimizer.step(x.t.model.grads, 1e-4); return performance.now() - t0; };
    const [first, second] = s % 2 ? [B, A] : [A, B];   // alternate which side goes first
    const d1 = time(first), d2 = time(second);
    const [da, db] = s % 2 ? [d2, d1] : [d1, d2];
    if (s === 0) continue;   // warm-up (buffers grow, pages fault in)
    ta.push(da); tb.push(db); ratio.push(da / db);
  }
  const row = { preset: c.preset, batch: c.batch, micro: c.micro, steps, a_ms: median(ta), b_ms: median(tb), ratio_median: median(ratio),
    ratio_min: Math.min(...ratio), ratio_max: Math.max(...ratio) };
  out.push(row);
  console.error(JSON.stringify(row));
}
if (args.out) writeFileSync(args.out, JSON.stringify({ a: trees.A, b: trees.B, date: new Date().toISOString(), rows: out }, null, 1) + '\n');
console.log('| preset | global batch / microbatch | steps | A ms/step (median) | B ms/step (median) | A/B per step: median (min-max) |');
console.log('|---|---|---|---|---|---|');
for (const r of out) console.log(`| ${r.preset} | ${r.batch} / ${r.micro} | ${r.steps} | ${r.a_ms.toFixed(0)} | ${r.b_ms.toFixed(0)} | **${r.ratio_median.toFixed(3)}** (${r.ratio_min.toFixed(3)}-${r.ratio_max.toFixed(3)}) |`);
