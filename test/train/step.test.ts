/** The shared training step: pruning masks survive AdamW with weight decay; divergence names the step. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFromDict } from '../../src/model/config.js';
import { MosaicBertForSequenceClassification } from '../../src/model/classification.js';
import { DecoupledAdamW } from '../../src/train/decoupled_adamw.js';
import { TrainingDivergedError, TrainingStep } from '../../src/train/step.js';

const cfg = configFromDict({ vocab_size: 64, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32 });
const batch = { batch: 4, seqlen: 5, input_ids: Int32Array.from({ length: 20 }, (_, i) => 2 + (i * 11) % 60),
  labels: Int32Array.from([0, 1, 1, 0]) };

test('masks on a Linear: pruned weights stay exactly 0 through AdamW with weight decay; the others train', () => {
  const m = new MosaicBertForSequenceClassification(cfg, { initSeed: 1 });
  const opt = new DecoupledAdamW(m.params, { lr: 1e-2, betas: [0.9, 0.98], eps: 1e-6, weight_decay: 0.1 }, m.k);
  const step = new TrainingStep(m, opt, { microbatchSize: 2, gradClipNorm: null, seed: 3, labels: 'sequence' });
  const lin = m.encoder.layers[1].ffn.output;
  lin.mask = Uint8Array.from({ length: lin.weight.length }, (_, i) => (i % 3 ? 1 : 0));
  lin.applyMask();
  const before = lin.weight.slice();
  for (let s = 0; s < 3; s++) step.run(batch, 1e-2, s + 1, s * 2);
  assert.ok(lin.weight.every((v, i) => i % 3 !== 0 || v === 0), 'a pruned weight was revived');
  assert.ok(lin.weight.some((v, i) => i % 3 !== 0 && v !== before[i]), 'kept weights did not train');
  // Without the mask the same weights would have moved (the test can fail).
  const free = new MosaicBertForSequenceClassification(cfg, { initSeed: 1 });
  const fopt = new DecoupledAdamW(free.params, { lr: 1e-2, betas: [0.9, 0.98], eps: 1e-6, weight_decay: 0.1 }, free.k);
  const fl = free.encoder.layers[1].ffn.output;
  fl.weight.set(lin.mask.map((k, i) => (k ? fl.weight[i] : 0)));
  new TrainingStep(free, fopt, { microbatchSize: 2, gradClipNorm: null, seed: 3, labels: 'sequence' }).run(batch, 1e-2, 1, 0);
  assert.ok(fl.weight.some((v, i) => i % 3 === 0 && v !== 0));
});

test('a NaN weight stops the step before the optimizer, naming the step; the weights are untouched', () => {
  const m = new MosaicBertForSequenceClassification(cfg, { initSeed: 1 });
  const opt = new DecoupledAdamW(m.params, { lr: 1e-2, betas: [0.9, 0.98], eps: 1e-6, weight_decay: 0 }, m.k);
  const step = new TrainingStep(m, opt, { microbatchSize: 4, gradClipNorm: 1, seed: 3, labels: 'sequence' });
  m.params.get('classifier.bias')[0] = NaN;
  const snapshot = m.params.data.slice();
  let logged = 0;
  assert.throws(() => step.run(batch, 1e-2, 7, 6, 'ck/ba5', () => { logged++; }),
    (e: unknown) => e instanceof TrainingDivergedError && /non-finite loss \(NaN\) at step 7.*ck\/ba5/.test(e.message));
  assert.equal(logged, 1);
  assert.equal(opt.t, 0);
  assert.deepEqual(m.params.data, snapshot);
});
