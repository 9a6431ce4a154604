// "Scaling on paper" (docs/distributed.md): for mini, small and base, the bytes one all-reduce moves per step
// (4 bytes x parameters, fp32 gradients), the time of a bandwidth-optimal ring all-reduce on N machines,
// 2 (N - 1) / N x bytes / bandwidth (latency and the reduction arithmetic ignored), and the smallest global batch for
// which communication is under 10% of a step, i.e. compute per machine >= 9 x communication, with the compute time
// per sample of one 2-core machine taken as 2 x the 1 process x 1 thread tokens/s of bench/mpi_scaling_*.json (two
// single-thread ranks, linear; mini measured 96% of that) and 125.5 non-pad tokens per sample (the recorded mini
// run: 14.46M tokens / 3600 steps / 32 samples). The 1x1 runs are used because they were the least disturbed by
// other work on the shared machine (see bench/RESULTS.md).
//
//   node bench/scaling_on_paper.mjs bench/mpi_scaling_mini.json bench/mpi_scaling_small_base.json
import { readFileSync } from 'node:fs';

const PARAMS = { 'mosaic-bert-mini': 12116544, 'mosaic-bert-small': 32722240, 'mosaic-bert-base': 137400384 };
const TOKENS_PER_SAMPLE = 125.5;
const tokS = {};
for (const f of process.argv.slice(2)) for (const r of JSON.parse(readFileSync(f, 'utf8')).rows) tokS[r.preset] = 2 * r.tok_s['1x1'];
const GBITS = [10, 25, 100], NS = [2, 4, 8, 16, 32, 64];
const fmt = (s) => (s < 1 ? `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms` : `${s.toFixed(2)} s`);
for (const [preset, p] of Object.entries(PARAMS)) {
  const bytes = 4 * p;
  if (!tokS[preset]) { console.log(`\n**${preset}**: ${(p / 1e6).toFixed(1)}M parameters, ${(bytes / 1e6).toFixed(1)} MB all-reduced per step; no measured step time in the given files.`); continue; }
  const perSample = TOKENS_PER_SAMPLE / tokS[preset];
  console.log(`\n**${preset}**: ${(p / 1e6).toFixed(1)}M parameters, ${(bytes / 1e6).toFixed(1)} MB all-reduced per step; ` +
    `compute ${(perSample * 1000).toFixed(0)} ms per sample on one 2-core machine (${tokS[preset].toFixed(0)} tokens/s = 2 x the measured 1x1).\n`);
  console.log(`| machines | ${GBITS.map((g) => `all-reduce at ${g} Gbit/s`).join(' | ')} | ${GBITS.map((g) => `global batch for < 10% at ${g} Gbit/s`).join(' | ')} |`);
  console.log(`|---|${GBITS.map(() => '---').join('|')}|${GBITS.map(() => '---').join('|')}|`);
  for (const N of NS) {
    const t = GBITS.map((g) => (2 * (N - 1) / N) * bytes / (g * 1e9 / 8));
    const batch = t.map((c) => N * Math.ceil((9 * c) / perSample));
    console.log(`| ${N} | ${t.map(fmt).join(' | ')} | ${batch.join(' | ')} |`);
  }
}
