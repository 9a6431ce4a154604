// Data-parallel scaling on this machine: `pretrain` of one preset and global batch run three ways, alternating
// round by round on the same prepared data:
//   1x2: one process, 2 kernel threads;  2x1: `mpirun -np 2`, 1 thread per rank;  1x1: one process, 1 thread.
// Per run: median over steps 2..N of non-pad tokens / step seconds (rank 0's log.jsonl), and for 2x1 the median
// seconds per step spent in collectives (`comm_s`, the gradient all-reduce plus the loss sum). Per preset: medians
// over rounds; 2x1 / 1x2 throughput and the scaling efficiency 2x1 / (2 * 1x1). Writes JSON, prints Markdown.
// With `--zero 1` a fourth kind, 2x1z: `mpirun -np 2 ... --zero 1` (ZeRO-1: sharded AdamW moments, plus an
// all-gather of the weights per step), reported against 2x1.
//
//   node bench/mpi_scaling.mjs --presets mini --rounds 2 --out bench/mpi_scaling.json [--zero 1] [--batch 32 --micro 4]
//
// Needs a build with the MPI addon (Open MPI installed before `npm ci` / `npm run build:native`). Runs as root
// need Open MPI's consent variables; this script sets them for its own children only.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, x, i, a) => (x.startsWith('--') ? [...acc, [x.slice(2), a[i + 1]]] : acc), []));
const root = resolve(new URL('..', import.meta.url).pathname);
const rounds = Number(args.rounds ?? 2);
const cases = [
  { preset: 'mosaic-bert-mini', batch: 32, micro: 16, steps: 8 },
  { preset: 'mosaic-bert-small', batch: 16, micro: 8, steps: 6 },
  { preset: 'mosaic-bert-base', batch: 8, micro: 4, steps: 4 },
].filter((c) => (args.presets ?? 'mini').split(',').includes(c.preset.replace('mosaic-bert-', '')))
  // --batch / --micro override the global batch and microbatch of every preset run (e.g. a larger batch for base).
  .map((c) => ({ ...c, batch: Number(args.batch ?? c.batch), micro: Number(args.micro ?? c.micro) }));
const work = resolve(args.work ?? '/tmp/mosaicbert-mpi-bench');
mkdirSync(work, { recursive: true });
const kinds = ['1x2', '2x1', '1x1', ...(args.zero === '1' ? ['2x1z'] : [])];
const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', OMPI_MCA_rmaps_base_oversubscribe: '1' };

function median(x) { const s = [...x].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; }

function run(kind, c) {
  const dir = join(work, `run-${kind}-${Date.now()}`);
  const cli = [join(root, 'bin/mosaicbert.js'), 'pretrain', '--preset', c.preset, '--global-batch-size', String(c.batch),
    '--microbatch-size', String(c.micro), '--max-duration', `${c.steps}ba`, '--eval-interval', '1000ba', '--run-dir', dir,
    '--no-progress', '--threads', kind === '1x2' ? '2' : '1', '--fill-mask', 'a [MASK].'];
  if (kind === '2x1z') cli.push('--zero', '1');
  const r = kind.startsWith('2x1')
    ? spawnSync('mpirun', ['-np', '2', '--bind-to', 'none', process.execPath, ...cli], { cwd: root, env, encoding: 'utf8' })
    : spawnSync(process.execPath, cli, { cwd: root, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${kind} ${c.preset}: exit ${r.status}\n${r.stderr}`);
  const steps = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'step');
  rmSync(dir, { recursive: true, force: true });
  const rates = [], comm = [], stepS = [];
  for (let i = 1; i < steps.length; i++) {
    rates.push((steps[i].tokens - steps[i - 1].tokens) / steps[i].step_s);
    stepS.push(steps[i].step_s);
    if (steps[i].comm_s !== undefined) comm.push(steps[i].comm_s);
  }
  return { tokPerS: median(rates), stepS: median(stepS), commS: comm.length ? median(comm) : null };
}

// Warm-up: prepares the data once (not timed).
run('1x2', { preset: 'mosaic-bert-mini', batch: 8, micro: 8, steps: 2 });
const out = { date: new Date().toISOString(), loadavg_before: loadavg(), rows: [] };
for (const c of cases) {
  const res = Object.fromEntries(kinds.map((k) => [k, []]));
  for (let i = 0; i < rounds; i++) for (const k of kinds) res[k].push(run(k, c));
  const med = (k, f) => median(res[k].map((x) => x[f]));
  out.rows.push({ ...c, runs: res,
    tok_s: { '1x2': med('1x2', 'tokPerS'), '2x1': med('2x1', 'tokPerS'), '1x1': med('1x1', 'tokPerS') },
    step_s: { '1x2': med('1x2', 'stepS'), '2x1': med('2x1', 'stepS'), '1x1': med('1x1', 'stepS') },
    comm_s_2x1: med('2x1', 'commS'),
    ...(res['2x1z'] ? { zero: { tok_s: med('2x1z', 'tokPerS'), step_s: med('2x1z', 'stepS'), comm_s: med('2x1z', 'commS') } } : {}) });
}
out.loadavg_after = loadavg();
writeFileSync(args.out ?? join(root, 'bench', 'mpi_scaling.json'), JSON.stringify(out, null, 1) + '\n');
console.log('| preset | global batch (microbatch) | steps | 1x2 tok/s | 2x1 tok/s | 1x1 tok/s | 2x1 / 1x2 | efficiency 2x1 / (2 x 1x1) | 2x1 s/step | 2x1 comm s/step (% of step) |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of out.rows) {
  const t = r.tok_s;
  console.log(`| ${r.preset} | ${r.batch} (${r.micro}) | ${r.steps} | ${t['1x2'].toFixed(0)} | ${t['2x1'].toFixed(0)} | ${t['1x1'].toFixed(0)} | ` +
    `${(t['2x1'] / t['1x2']).toFixed(3)} | ${(100 * t['2x1'] / (2 * t['1x1'])).toFixed(1)}% | ${r.step_s['2x1'].toFixed(3)} | ` +
    `${r.comm_s_2x1.toFixed(4)} (${(100 * r.comm_s_2x1 / r.step_s['2x1']).toFixed(1)}%) |`);
}
if (out.rows.some((r) => r.zero)) {
  console.log('\n| preset | 2x1 tok/s | 2x1 ZeRO-1 tok/s | ZeRO-1 / 2x1 | 2x1 comm s/step | 2x1 ZeRO-1 comm s/step |');
  console.log('|---|---|---|---|---|---|');
  for (const r of out.rows) {
    console.log(`| ${r.preset} | ${r.tok_s['2x1'].toFixed(0)} | ${r.zero.tok_s.toFixed(0)} | ${(r.zero.tok_s / r.tok_s['2x1']).toFixed(3)} | ` +
      `${r.comm_s_2x1.toFixed(4)} | ${r.zero.comm_s.toFixed(4)} |`);
  }
}
console.log(`load average before ${out.loadavg_before.map((x) => x.toFixed(2)).join(', ')}, after ${out.loadavg_after.map((x) => x.toFixed(2)).join(', ')}`);
