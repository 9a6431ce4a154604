/** Trainer: resume is bit-identical, microbatch accumulation, NaN stop, evaluation. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DataLoader } from '../../src/data/loader.js';
import type { TokenDataset } from '../../src/data/token_dataset.js';
import { listCheckpoints } from '../../src/train/checkpoint.js';
import { Trainer, TrainingDivergedError } from '../../src/train/trainer.js';
import { assertClose } from '../helpers.js';
import { tinyConfig, tinyCorpus } from './helpers.js';

let corpus: { dir: string; train: TokenDataset; val: TokenDataset; cleanup: () => void };
before(async () => { corpus = await tinyCorpus(); });
after(() => corpus.cleanup());

test('resume: 6 steps straight == 3 steps, stop, resume, 3 steps (losses, weights, moments bit-identical)', async () => {
  const cfg = tinyConfig(['save_interval=3ba', 'save_num_checkpoints_to_keep=2']);
  const a = new Trainer({ config: cfg, train: corpus.train, val: corpus.val, runDir: join(corpus.dir, 'runA') });
  const ra = await a.fit();
  assert.equal(ra.state.step, 6);
  assert.equal(ra.losses.size, 6);

  const runB = join(corpus.dir, 'runB');
  const b1 = new Trainer({ config: cfg, train: corpus.train, val: corpus.val, runDir: runB, onStep: (s) => (s === 3 ? 'stop' : undefined) });
  const rb1 = await b1.fit();
  assert.equal(rb1.stopped, true);
  assert.equal(rb1.state.step, 3);
  assert.deepEqual(listCheckpoints(join(runB, 'checkpoints')).map((c) => c.step), [3]);
  const b2 = new Trainer({ config: cfg, train: corpus.train, val: corpus.val, runDir: runB, resume: true });
  assert.equal(b2.state.step, 3);
  const rb2 = await b2.fit();
  assert.equal(rb2.state.step, 6);
  for (let s = 1; s <= 3; s++) assert.equal(rb1.losses.get(s), ra.losses.get(s), `loss at step ${s}`);
  for (let s = 4; s <= 6; s++) assert.equal(rb2.losses.get(s), ra.losses.get(s), `loss at step ${s} after resume`);
  assert.ok(Buffer.from(b2.model.params.data.buffer).equals(Buffer.from(a.model.params.data.buffer)), 'weights differ');
  assert.ok(Buffer.from(b2.optimizer.expAvg.data.buffer).equals(Buffer.from(a.optimizer.expAvg.data.buffer)), 'exp_avg differs');
  assert.ok(Buffer.from(b2.optimizer.expAvgSq.data.buffer).equals(Buffer.from(a.optimizer.expAvgSq.data.buffer)), 'exp_avg_sq differs');
  assert.equal(b2.optimizer.t, 6);
  assert.deepEqual(rb2.state.loader, ra.state.loader);
  assert.deepEqual(rb2.eval, ra.eval);
  // Kept the last 2 checkpoints (3 and 6), each complete; the final model is exported.
  assert.deepEqual(listCheckpoints(join(runB, 'checkpoints')).map((c) => c.step), [3, 6]);
  assert.ok(existsSync(join(runB, 'model', 'model.safetensors')) && existsSync(join(runB, 'model', 'config.json')));
  // The loss moves (lr is 0 only at step 1).
  assert.notEqual(ra.losses.get(6), ra.losses.get(1));
});

test('microbatches: equal target counts -> same gradients as one big batch; weights are rows_m / rows', () => {
  const cfgBig = tinyConfig(['device_train_microbatch_size=8', 'model.model_config.hidden_dropout_prob=0']);
  const cfgMb = tinyConfig(['device_train_microbatch_size=2', 'model.model_config.hidden_dropout_prob=0']);
  const big = new Trainer({ config: cfgBig, train: corpus.train, val: null, runDir: join(corpus.dir, 'mb1'), log: false });
  const mb = new Trainer({ config: cfgMb, train: corpus.train, val: null, runDir: join(corpus.dir, 'mb2'), log: false });
  const loader = new DataLoader(corpus.train, { batch_size: 8, seed: 1, pad_to: 'longest', mlm: { mlm_probability: 0.3 } });
  const batch = loader.next();
  // Same number of targets (2) in every row: the sample-weighted mean of microbatch means is the global mean.
  const S = batch.seq_len, labels = new Int32Array(batch.labels!.length).fill(-100), ids = Int32Array.from(batch.input_ids);
  for (let r = 0; r < 8; r++) {
    for (const c of [1, 2]) { labels[r * S + c] = ids[r * S + c]; ids[r * S + c] = 103; }
  }
  const eq = { ...batch, input_ids: ids, labels };
  const l1 = big.accumulate(eq, 0), l2 = mb.accumulate(eq, 0);
  assert.equal(l1.targets, 16);
  assert.ok(Math.abs(l1.loss - l2.loss) < 1e-5, `loss ${l1.loss} vs ${l2.loss}`);
  assertClose(mb.model.grads!.data, big.model.grads!.data, 1e-6, 1e-4, 'grads (4 microbatches vs 1)');

  // Unequal targets (the real masks): accumulated grads == sum over microbatches of (rows_m/rows) * grad(mean_m).
  const g = mb.accumulate(batch, 0);
  const acc = Float64Array.from(mb.model.grads!.data);
  const expect = new Float64Array(acc.length);
  let lossExp = 0;
  for (let r0 = 0; r0 < 8; r0 += 2) {
    const sl = (a: Int32Array) => a.subarray(r0 * batch.seq_len, (r0 + 2) * batch.seq_len);
    big.model.zeroGrad();
    const out = big.model.forward({ batch: 2, seqlen: batch.seq_len, input_ids: sl(batch.input_ids), attention_mask: sl(batch.attention_mask),
      token_type_ids: sl(batch.token_type_ids), labels: sl(batch.labels!) }, { training: true, seed: 17, step: 0 });
    if (!out.numTargets) continue;
    big.model.backward(1);
    lossExp += (2 / 8) * out.loss!;
    const gm = big.model.grads!.data;
    for (let i = 0; i < gm.length; i++) expect[i] += (2 / 8) * gm[i];
  }
  assert.ok(Math.abs(g.loss - lossExp) < 1e-6, `weighted loss ${g.loss} vs ${lossExp}`);
  assertClose(acc, expect, 1e-7, 1e-4, 'grads = sum (rows_m/rows) grad(mean_m)');
});

test('NaN loss stops the run naming the step and keeps the last good checkpoint', async () => {
  const cfg = tinyConfig(['save_interval=2ba', 'max_duration=10ba']);
  const runDir = join(corpus.dir, 'nan');
  const t = new Trainer({ config: cfg, train: corpus.train, val: corpus.val, runDir, onStep: (s, tr) => {
    if (s === 2) tr.model.params.get('bert.encoder.layer.0.mlp.wo.bias').fill(NaN);
  } });
  await assert.rejects(t.fit(), (e: unknown) => {
    assert.ok(e instanceof TrainingDivergedError);
    assert.equal(e.step, 3);
    assert.match(e.message, /step 3/);
    assert.match(e.message, /ba2/);
    return true;
  });
  assert.deepEqual(listCheckpoints(join(runDir, 'checkpoints')).map((c) => c.step), [2]);
  const log = readFileSync(join(runDir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(log[log.length - 1].type, 'diverged');
  assert.equal(log[log.length - 1].step, 3);
});

test('evaluation is deterministic (fixed eval masks) and reports loss and accuracy', () => {
  const t = new Trainer({ config: tinyConfig(), train: corpus.train, val: corpus.val, runDir: join(corpus.dir, 'ev'), log: false });
  const e1 = t.evaluate()!, e2 = t.evaluate()!;
  assert.deepEqual(e1, e2);
  assert.ok(e1.num_targets > 0 && e1.batches <= 2);
  assert.ok(e1.loss > 8 && e1.loss < 12, `untrained loss ${e1.loss} should be near ln(30528) = 10.3`);
  assert.ok(e1.accuracy >= 0 && e1.accuracy <= 1);
});
