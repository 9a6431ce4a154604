// What ZeRO-1 adds to a data-parallel step in communication, measured against the step's existing all-reduce in the
// same run: per buffer size (the flat parameter buffers of mosaic-bert-mini, -small and -base), the median time of
//   allreduce  the gradient all-reduce every data-parallel step does (Collectives.allreduceSum);
//   allgather  ZeRO-1's per-step all-gather of the weight shards (Collectives.allgather, 16-aligned shardBounds);
//   gather x2  ZeRO-1's checkpoint-time gather of exp_avg and exp_avg_sq to rank 0 (Collectives.gather, twice);
// and the optimizer part of a step, one kernel thread per rank:
//   adamw      DecoupledAdamW: the adamwStep kernel over the whole buffer (every rank, unsharded);
//   zero       ShardedAdamW: adamwStep over this rank's shard, then the all-gather of the weights.
// They alternate within each repetition, each after a barrier; medians over `--reps` (default 15), rank 0's times.
// Prints Markdown with the ratios to the all-reduce and zero / adamw; writes JSON with `--out`.
//
//   node bench/zero_collectives.mjs [--np 2] [--reps 15] [--presets mini,small,base] [--out FILE]
//
// Needs `npm run build` with the MPI addon. Launches itself under mpirun (Open MPI's consent variables for root and
// oversubscription set for its own children only).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, x, i, a) => (x.startsWith('--') ? [...acc, [x.slice(2), a[i + 1]]] : acc), []));
const SIZES = { mini: 12116544, small: 32722240, base: 137400384 };   // flat floats (bench/zero_memory.mjs)
const presets = (args.presets ?? 'mini,small,base').split(',');
const reps = Number(args.reps ?? 15);
const median = (x) => { const s = [...x].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

if (process.env.OMPI_COMM_WORLD_SIZE) {
  // One rank.
  const { MpiCollectives } = await import('../dist/src/distributed/mpi.js');
  const { shardBounds } = await import('../dist/src/distributed/collectives.js');
  const { nativeKernels, setNumThreads } = await import('../dist/src/kernels/native.js');
  setNumThreads(1);
  const k = nativeKernels();
  const c = new MpiCollectives();
  const rows = [];
  for (const p of presets) {
    const n = SIZES[p];
    const buf = new Float32Array(n), full = c.rank === 0 ? new Float32Array(n) : null;
    const bounds = shardBounds(n, c.size, 16);
    const shard = new Float32Array(bounds[c.rank + 1] - bounds[c.rank]).fill(1);
    const g = new Float32Array(n).fill(1e-4), m = new Float32Array(n), v = new Float32Array(n);
    const [lo, hi] = [bounds[c.rank], bounds[c.rank + 1]];
    const adamw = (a, b) => k.adamwStep(buf.subarray(a, b), g.subarray(a, b), m.subarray(a, b), v.subarray(a, b), b - a,
      0.9, 0.98, 1e-6, 1e-5, 1, 1e-3, 0.5);
    const t = { allreduce: [], allgather: [], gather2: [], adamw: [], zero: [] };
    const time = (k, f) => { c.barrier(); const t0 = performance.now(); f(); t[k].push((performance.now() - t0) / 1000); };
    for (let i = 0; i < reps + 1; i++) {
      buf.fill(1e-3);
      time('allreduce', () => c.allreduceSum(buf));
      time('allgather', () => c.allgather(buf, bounds));
      time('gather2', () => { c.gather(shard, full, bounds, 0); c.gather(shard, full, bounds, 0); });
      time('adamw', () => adamw(0, n));
      time('zero', () => { adamw(lo, hi); c.allgather(buf, bounds); });
      if (i === 0) for (const k of Object.keys(t)) t[k].length = 0;   // the first repetition warms up
    }
    rows.push({ preset: `mosaic-bert-${p}`, floats: n, bytes: 4 * n, s: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])), runs: t });
  }
  if (c.rank === 0) process.stdout.write(JSON.stringify(rows));
  c.finalize();
} else {
  const np = String(args.np ?? 2);
  const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', OMPI_MCA_rmaps_base_oversubscribe: '1' };
  const before = loadavg();
  const r = spawnSync('mpirun', ['-np', np, '--bind-to', 'none', process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { env, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) { console.error(r.stderr || r.stdout); process.exit(1); }
  const rows = JSON.parse(r.stdout);
  const out = { date: new Date().toISOString(), np: Number(np), reps, loadavg_before: before, loadavg_after: loadavg(), rows };
  if (args.out) writeFileSync(args.out, JSON.stringify(out, null, 1) + '\n');
  const ms = (s) => `${(s * 1000).toFixed(1)} ms`;
  console.log(`| preset | buffer | all-reduce (every step) | all-gather (ZeRO-1, every step) | all-gather / all-reduce | 2 gathers to rank 0 (ZeRO-1, per checkpoint) | 2 gathers / all-reduce | AdamW unsharded | ZeRO-1 AdamW shard + all-gather | ZeRO-1 / unsharded |`);
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const x of rows) {
    console.log(`| ${x.preset} | ${(x.bytes / 1e6).toFixed(1)} MB | ${ms(x.s.allreduce)} | ${ms(x.s.allgather)} | ${(x.s.allgather / x.s.allreduce).toFixed(2)} | ` +
      `${ms(x.s.gather2)} | ${(x.s.gather2 / x.s.allreduce).toFixed(2)} | ${ms(x.s.adamw)} | ${ms(x.s.zero)} | ${(x.s.zero / x.s.adamw).toFixed(2)} |`);
  }
  console.log(`${np} ranks, ${reps} repetitions, load average before ${before.map((v) => v.toFixed(2)).join(', ')}, after ${out.loadavg_after.map((v) => v.toFixed(2)).join(', ')}`);
}
