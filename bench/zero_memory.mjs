// ZeRO-1 on paper (docs/distributed.md): the bytes of AdamW moments (exp_avg + exp_avg_sq, float32: 8 bytes per
// parameter) each rank holds for mosaic-bert-mini, -small and -base on 1, 2, 8 and 64 ranks, from the flat parameter
// buffer of the MLM model (alignment padding included) and the shard boundaries ShardedAdamW uses (the largest shard;
// src/distributed/zero.ts), and the whole training state per rank (weights 4 + gradient 4 + moments bytes/parameter;
// activations and the single-process emulation's extra gradient buffers not counted). Needs `npm run build`.
//
//   node bench/zero_memory.mjs
import { loadConfig } from '../dist/src/train/config.js';
import { layoutParams, paramShapes } from '../dist/src/model/params.js';
import { momentBytesPerRank } from '../dist/src/distributed/zero.js';

const RANKS = [1, 2, 8, 64];
const mb = (b) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(1)} kB`);
console.log(`| preset | parameters (flat floats) | ${RANKS.map((P) => `moments per rank, ${P} rank${P > 1 ? 's' : ''}`).join(' | ')} | ` +
  `weights + gradient + moments per rank, ${RANKS.map((P) => P).join(' / ')} ranks |`);
console.log(`|---|---|${RANKS.map(() => '---').join('|')}|---|`);
for (const preset of ['mosaic-bert-mini', 'mosaic-bert-small', 'mosaic-bert-base']) {
  const { config } = loadConfig({ preset, overrides: [] });
  const last = layoutParams(paramShapes(config.model, 'mlm')).at(-1);
  const n = Math.ceil((last.offset + last.size) / 16) * 16;   // ParamStore's buffer length (padded to 16 floats)
  const per = RANKS.map((P) => Math.max(...momentBytesPerRank(n, P, 1)));
  console.log(`| ${preset} | ${n} | ${per.map((b) => `${b} (${mb(b)})`).join(' | ')} | ${per.map((b) => mb(8 * n + b)).join(' / ')} |`);
}
