/**
 * Data-parallel training on Open MPI, on the tiny model (needs mpirun and the MPI addon; skipped with the reason
 * otherwise): 2 ranks reproduce one process summing 2 gradient shards bit for bit; a resumed 2-rank run equals an
 * uninterrupted one; resuming on another number of ranks is refused; a killed rank ends every rank within 60 s and
 * leaves the last checkpoint loadable; a hung rank makes the others fail at the collective deadline.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TokenDataset } from '../../src/data/token_dataset.js';
import { listCheckpoints, loadCheckpoint } from '../../src/train/checkpoint.js';
import { DecoupledAdamW } from '../../src/train/decoupled_adamw.js';
import { Trainer } from '../../src/train/trainer.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { mpirun, mpiSkip, toyFinetune } from './mpirun.js';
import { tinyConfig, tinyCorpus } from '../train/helpers.js';
import { finetune, type FinetuneOptions } from '../../src/glue/finetune.js';

const skip = mpiSkip;
const STEPS = ['max_duration=4ba', 'eval_interval=2ba', 'model.model_config.hidden_dropout_prob=0.1'];

let corpus: { dir: string; train: TokenDataset; val: TokenDataset; cleanup: () => void };
before(async () => { corpus = await tinyCorpus(); });
after(() => corpus?.cleanup());

interface Out { losses: [number, number][]; step: number; weights: string; expAvgSq: string }

async function run2(name: string, overrides: string[], extra: object = {}): Promise<Out> {
  const out = join(corpus.dir, `${name}.json`);
  const r = await mpirun(2, { data: join(corpus.dir, 'data'), runDir: join(corpus.dir, name), overrides, out, ...extra });
  assert.equal(r.code, 0, `mpirun failed:\n${r.stderr}`);
  return JSON.parse(readFileSync(out, 'utf8')) as Out;
}

const b64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

test('2 ranks == 1 process with gradientShards 2: losses and weights bit-identical after 4 steps', { skip }, async () => {
  const dist = await run2('dist', STEPS);
  const single = new Trainer({ config: tinyConfig(STEPS), train: corpus.train, val: corpus.val, runDir: join(corpus.dir, 'single'),
    gradientShards: 2, log: false });
  const r = await single.fit();
  assert.equal(dist.step, 4);
  assert.deepEqual(dist.losses, [...r.losses]);
  assert.equal(dist.weights, b64(single.model.params.data), 'weights differ');
  assert.equal(dist.expAvgSq, b64(single.optimizer.expAvgSq.data), 'exp_avg_sq differs');
  // The weights moved (the comparison is not between two initial states).
  const init = new MosaicBertForMaskedLM(tinyConfig(STEPS).model, { initSeed: tinyConfig(STEPS).seed });
  assert.notEqual(dist.weights, b64(init.params.data));
});

test('2 ranks: stop at step 2 + resume == uninterrupted; resuming on 1 process is refused, naming the ranks', { skip }, async () => {
  const cfg = [...STEPS, 'save_interval=2ba'];
  const full = await run2('full', cfg);
  const part = await run2('part', cfg, { stopAt: 2 });
  assert.equal(part.step, 2);
  const cont = await run2('part', cfg, { resume: true });
  assert.equal(cont.step, 4);
  assert.deepEqual([...part.losses, ...cont.losses], full.losses);
  assert.equal(cont.weights, full.weights, 'weights differ after resume');
  assert.equal(cont.expAvgSq, full.expAvgSq, 'exp_avg_sq differs after resume');
  assert.throws(() => new Trainer({ config: tinyConfig(cfg), train: corpus.train, val: null, runDir: join(corpus.dir, 'part'),
    resume: true, log: false }), /number of ranks.*checkpoint 2, now 1/);
});

test('finetune: 2 ranks == 1 process with gradientShards 2 (step losses and saved weights bit-identical)', { skip }, async () => {
  const base = (outDir: string): FinetuneOptions => toyFinetune(corpus.dir, outDir, {});
  const r = await mpirun(2, { data: '', runDir: '', overrides: [], out: '', finetune: base(join(corpus.dir, 'ft2')) });
  assert.equal(r.code, 0, r.stderr);
  await finetune({ ...base(join(corpus.dir, 'ft1')), gradientShards: 2, log: true });
  const steps = (d: string) => readFileSync(join(corpus.dir, d, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    .filter((e) => e.type === 'step').map((e) => [e.step, e.loss, e.grad_norm]);
  assert.equal(steps('ft2').length, 3);
  assert.deepEqual(steps('ft2'), steps('ft1'));
  assert.ok(readFileSync(join(corpus.dir, 'ft2', 'model', 'model.safetensors')).equals(readFileSync(join(corpus.dir, 'ft1', 'model', 'model.safetensors'))),
    'saved weights differ');
});

test('a killed rank ends every rank non-zero within 60 s; the last complete checkpoint loads', { skip }, async () => {
  const progress = join(corpus.dir, 'kill-progress.txt');
  const runDir = join(corpus.dir, 'kill');
  let mpirunPid = 0;
  const done = mpirun(2, { data: join(corpus.dir, 'data'), runDir, out: join(corpus.dir, 'kill.json'), progress,
    overrides: ['max_duration=100000ba', 'save_interval=1ba', 'eval_interval=1000ba'] }, {}, (p) => { mpirunPid = p; });
  // Wait until both ranks have taken 3 steps (so a checkpoint exists), then kill rank 1.
  const pids = new Map<number, number>();
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (!existsSync(progress)) continue;
    for (const line of readFileSync(progress, 'utf8').trim().split('\n')) {
      const [rank, pid, step] = line.split(' ').map(Number);
      if (step >= 3) pids.set(rank, pid);
    }
    if (pids.size === 2) break;
  }
  assert.equal(pids.size, 2, 'the ranks did not start');
  const t0 = Date.now();
  process.kill(pids.get(1)!, 'SIGKILL');
  const r = await Promise.race([done, new Promise<null>((res) => setTimeout(() => res(null), 60e3))]);
  if (!r) process.kill(mpirunPid, 'SIGKILL');
  assert.ok(r, 'mpirun was still running 60 s after a rank was killed');
  assert.ok((Date.now() - t0) / 1000 < 60);
  assert.notEqual(r.code, 0, 'mpirun exited 0');
  // mpirun may return while its SIGTERM is still ending rank 0: allow it a few seconds.
  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  for (let i = 0; i < 50 && alive(pids.get(0)!); i++) await new Promise((res) => setTimeout(res, 100));
  assert.ok(!alive(pids.get(0)!), 'rank 0 still runs');
  assert.ok((Date.now() - t0) / 1000 < 60);
  const cks = listCheckpoints(join(runDir, 'checkpoints'));
  assert.ok(cks.length >= 1);
  const last = cks[cks.length - 1];
  const m = new MosaicBertForMaskedLM(tinyConfig().model, { initSeed: 0 });
  const ck = loadCheckpoint(last.dir, m.params, new DecoupledAdamW(m.params, tinyConfig().optimizer, m.k));
  assert.equal(ck.state.step, last.step);
});

test('a hung rank: the other fails at the collective deadline (MOSAICBERT_MPI_TIMEOUT) and the job ends non-zero', { skip }, async () => {
  const r = await mpirun(2, { data: join(corpus.dir, 'data'), runDir: join(corpus.dir, 'hang'), out: join(corpus.dir, 'hang.json'),
    overrides: ['max_duration=10ba', 'eval_interval=1000ba'], hangRank: 1, hangAt: 2 }, { MOSAICBERT_MPI_TIMEOUT: '3' });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /worker rank 0: mosaicbert mpi mpiAllreduceSum: .* did not complete within 3 s on rank 0 of 2/);
  assert.ok(r.seconds < 60, `took ${r.seconds} s`);
});
