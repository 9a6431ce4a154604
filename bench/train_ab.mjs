// Training throughput of two checkouts side by side: `pretrain` runs of the same preset and batch, alternating
// A B A B ..., on the same prepared data; per run the median over steps 2..N of (non-pad tokens of the step /
// step seconds) from its log.jsonl, then per preset the median of the per-pair ratios B/A. Writes a JSON file and
// prints a Markdown table.
//
//   node bench/train_ab.mjs --a ../old --b . --rounds 3 --out bench/train_ab.json
//
// Each checkout must be built (`npm ci`). The data is the README's demo data (../shared/data/wikipedia, prepared
// once into each checkout's runs/.cache).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, x, i, a) => (x.startsWith('--') ? [...acc, [x.slice(2), a[i + 1]]] : acc), []));
const A = resolve(args.a), B = resolve(args.b), rounds = Number(args.rounds ?? 3);
const cases = [
  { preset: 'mosaic-bert-mini', batch: 32, micro: 16, steps: 12 },
  { preset: 'mosaic-bert-small', batch: 16, micro: 16, steps: 8 },
  { preset: 'mosaic-bert-base', batch: 8, micro: 8, steps: 5 },
].filter((c) => !args.presets || args.presets.split(',').includes(c.preset.replace('mosaic-bert-', '')));

function run(tree, c) {
  const dir = mkdtempSync(join(tmpdir(), 'train-ab-'));
  const r = spawnSync(process.execPath, [join(tree, 'bin/mosaicbert.js'), 'pretrain', '--preset', c.preset,
    '--global-batch-size', String(c.batch), '--microbatch-size', String(c.micro), '--max-duration', `${c.steps}ba`,
    '--eval-interval', '1000ba', '--set', 'eval_subset_num_batches=1', '--run-dir', dir, '--no-progress'], { cwd: tree, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tree} ${c.preset}: exit ${r.status}\n${r.stderr}`);
  const steps = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'step');
  rmSync(dir, { recursive: true, force: true });
  const rates = [];
  for (let i = 1; i < steps.length; i++) rates.push((steps[i].tokens - steps[i - 1].tokens) / steps[i].step_s);
  return median(rates);
}
function median(x) { const s = [...x].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; }

// Warm-up: prepares the data in each checkout (not timed).
for (const t of [A, B]) run(t, { preset: 'mosaic-bert-mini', batch: 8, micro: 8, steps: 2 });
const out = { a: A, b: B, date: new Date().toISOString(), rows: [] };
for (const c of cases) {
  const ta = [], tb = [], ratio = [];
  for (let k = 0; k < rounds; k++) {
    const a = run(A, c), b = run(B, c);
    ta.push(a); tb.push(b); ratio.push(b / a);
    console.error(`${c.preset} round ${k + 1}: A ${a.toFixed(0)} tok/s, B ${b.toFixed(0)} tok/s, B/A ${(b / a).toFixed(3)}`);
  }
  out.rows.push({ ...c, a_tok_s: ta, b_tok_s: tb, ratios: ratio, median_ratio: median(ratio) });
}
if (args.out) writeFileSync(args.out, JSON.stringify(out, null, 1) + '\n');
console.log('| preset | global batch / microbatch | A tokens/s (median) | B tokens/s (median) | B/A per pair | B/A median |');
console.log('|---|---|---|---|---|---|');
for (const r of out.rows) {
  console.log(`| ${r.preset} | ${r.batch} / ${r.micro} | ${median(r.a_tok_s).toFixed(0)} | ${median(r.b_tok_s).toFixed(0)} | ` +
    `${r.ratios.map((x) => x.toFixed(3)).join(', ')} | ${r.median_ratio.toFixed(3)} |`);
}
