/**
 * ZeRO-1 on Open MPI, tiny model, 2 ranks (needs mpirun and the MPI addon; skipped with the reason otherwise):
 * pretraining with `zeroStage: 1` equals the unsharded 2-rank run bit for bit (losses, weights, exp_avg_sq, the
 * checkpoint files) with pruning masks applied in every step; rank 0 prints the moment bytes per rank; a ZeRO-1 run
 * stopped at step 2 and resumed equals the uninterrupted one; fine-tuning with ZeRO-1 on 2 ranks equals one process
 * summing 2 gradient shards (which mpi.test.ts shows equals the unsharded 2-rank run), checkpoints included.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TokenDataset } from '../../src/data/token_dataset.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { finetune, type FinetuneOptions } from '../../src/glue/finetune.js';
import { momentBytesPerRank } from '../../src/distributed/zero.js';
import { tinyConfig, tinyCorpus } from '../train/helpers.js';
import { mpirun, mpiSkip as skip, toyFinetune } from './mpirun.js';

const STEPS = ['max_duration=4ba', 'eval_interval=2ba', 'save_interval=2ba', 'save_num_checkpoints_to_keep=-1',
  'model.model_config.hidden_dropout_prob=0.1'];
const MASK_MOD = 7;

let corpus: { dir: string; train: TokenDataset; val: TokenDataset; cleanup: () => void };
before(async () => { corpus = await tinyCorpus(); });
after(() => corpus?.cleanup());

interface Out { losses: [number, number][]; step: number; weights: string; expAvgSq: string; stderr: string }

async function run2(name: string, extra: object = {}): Promise<Out> {
  const out = join(corpus.dir, `${name}.json`);
  const r = await mpirun(2, { data: join(corpus.dir, 'data'), runDir: join(corpus.dir, name), overrides: STEPS, out,
    maskMod: MASK_MOD, ...extra });
  assert.equal(r.code, 0, `mpirun failed:\n${r.stderr}`);
  return { ...JSON.parse(readFileSync(out, 'utf8')), stderr: r.stderr } as Out;
}

let runs: Promise<[Out, Out]> | null = null;
/** The unsharded and the ZeRO-1 2-rank runs (4 steps, checkpoints at 2 and 4), run once for the tests below. */
const plainAndZero = () => (runs ??= (async () => [await run2('plain'), await run2('zero', { zeroStage: 1 })] as [Out, Out])());

const file = (run: string, step: number, f: string) => readFileSync(join(corpus.dir, run, 'checkpoints', `ba${step}`, f));

test('ZeRO-1 on 2 ranks == unsharded 2 ranks bit for bit: losses, weights, exp_avg_sq, checkpoint files; masks hold', { skip }, async () => {
  const [plain, zero] = await plainAndZero();
  assert.equal(zero.step, 4);
  assert.equal(zero.losses.length, 4);
  assert.deepEqual(zero.losses, plain.losses);
  assert.equal(zero.weights, plain.weights, 'weights differ');
  assert.equal(zero.expAvgSq, plain.expAvgSq, 'exp_avg_sq (gathered to rank 0) differs');
  for (const step of [2, 4]) {
    for (const f of ['model.safetensors', 'optimizer.safetensors']) {
      assert.ok(file('zero', step, f).equals(file('plain', step, f)), `ba${step}/${f} differs from the unsharded run's`);
    }
  }
  // The weights moved, and the pruned ones stayed zero through AdamW and the all-gather.
  const cfg = tinyConfig(STEPS);
  const m = new MosaicBertForMaskedLM(cfg.model, { initSeed: cfg.seed });
  const init = Float32Array.from(m.params.data);
  m.params.data.set(new Float32Array(Buffer.from(zero.weights, 'base64').buffer.slice(0)));
  let moved = 0, pruned = 0;
  for (const l of m.encoder.linears()) {
    for (let i = 0; i < l.outFeatures * l.inFeatures; i++) {
      if (i % MASK_MOD === 0) { assert.equal(l.weight[i], 0, 'a pruned weight came back'); pruned++; }
    }
  }
  for (let i = 0; i < init.length; i++) if (m.params.data[i] !== init[i]) moved++;
  assert.ok(pruned > 1000 && moved > init.length / 2, `pruned ${pruned}, moved ${moved} of ${init.length}`);
  // Rank 0 reports the moment bytes per rank (once, not once per rank).
  const per = momentBytesPerRank(m.params.data.length, 2);
  const lines = zero.stderr.split('\n').filter((l) => l.startsWith('ZeRO-1: AdamW moments sharded over 2 ranks'));
  assert.equal(lines.length, 1, zero.stderr);
  assert.match(lines[0], new RegExp(`: ${Math.max(...per)} bytes per rank at most .* ${8 * m.params.data.length} bytes unsharded`));
  assert.ok(!/ZeRO-1/.test(plain.stderr));
});

test('ZeRO-1 on 2 ranks: stop at step 2 + resume == uninterrupted (losses, weights, exp_avg_sq)', { skip }, async () => {
  const [, full] = await plainAndZero();
  const part = await run2('zero-part', { zeroStage: 1, stopAt: 2 });
  assert.equal(part.step, 2);
  const cont = await run2('zero-part', { zeroStage: 1, resume: true });
  assert.equal(cont.step, 4);
  assert.deepEqual([...part.losses, ...cont.losses], full.losses);
  assert.equal(cont.weights, full.weights, 'weights differ after resume');
  assert.equal(cont.expAvgSq, full.expAvgSq, 'exp_avg_sq differs after resume');
});

test('finetune with ZeRO-1 on 2 ranks == 1 process with gradientShards 2 (step losses, model, checkpoint)', { skip }, async () => {
  const base = (outDir: string): FinetuneOptions => toyFinetune(corpus.dir, outDir, { saveInterval: 2, keepCheckpoints: 2, keepCheckpointsAtEnd: true });
  const r = await mpirun(2, { data: '', runDir: '', overrides: [], out: '', zeroStage: 1, finetune: base(join(corpus.dir, 'ftz')) });
  assert.equal(r.code, 0, r.stderr);
  await finetune({ ...base(join(corpus.dir, 'ft1')), gradientShards: 2, log: true });
  const steps = (d: string) => readFileSync(join(corpus.dir, d, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    .filter((e) => e.type === 'step').map((e) => [e.step, e.loss, e.grad_norm]);
  assert.equal(steps('ftz').length, 3);
  assert.deepEqual(steps('ftz'), steps('ft1'));
  const same = (p: string) => readFileSync(join(corpus.dir, 'ftz', p)).equals(readFileSync(join(corpus.dir, 'ft1', p)));
  assert.ok(same('model/model.safetensors'), 'saved weights differ');
  for (const s of [2, 3]) assert.ok(same(`checkpoints/ba${s}/optimizer.safetensors`), `ba${s}/optimizer.safetensors differs`);
});
