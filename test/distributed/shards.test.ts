/**
 * Gradient shards without MPI: the shard ranges partition the microbatches; one process with `gradientShards: 2`
 * computes the same gradient as plain accumulation up to float rounding (it only regroups the sum); a shard count
 * that differs from the number of ranks is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFromDict } from '../../src/model/config.js';
import { MosaicBertForSequenceClassification } from '../../src/model/classification.js';
import { DecoupledAdamW } from '../../src/train/decoupled_adamw.js';
import { TrainingStep } from '../../src/train/step.js';
import { shardRange, type Collectives } from '../../src/distributed/collectives.js';

const cfg = configFromDict({ vocab_size: 64, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32 });
const batch = { batch: 8, seqlen: 5, input_ids: Int32Array.from({ length: 40 }, (_, i) => 2 + (i * 11) % 60),
  labels: Int32Array.from([0, 1, 1, 0, 1, 0, 0, 1]) };

test('shardRange: contiguous, disjoint, covers every microbatch, balanced within one', () => {
  for (const [M, P] of [[8, 2], [7, 3], [2, 4], [1, 1], [64, 8]]) {
    let next = 0;
    for (let k = 0; k < P; k++) {
      const [a, b] = shardRange(M, k, P);
      assert.equal(a, next);
      assert.ok(b - a === Math.floor(M / P) || b - a === Math.ceil(M / P), `M=${M} P=${P} k=${k}: ${b - a}`);
      next = b;
    }
    assert.equal(next, M);
  }
  assert.throws(() => shardRange(4, 2, 2), /shard 2 of 2/);
});

test('gradientShards 2 == plain accumulation up to rounding (same loss to 1e-12, gradient to 1e-5 relative)', () => {
  const grads = (shards: number) => {
    const m = new MosaicBertForSequenceClassification(cfg, { initSeed: 1 });
    const opt = new DecoupledAdamW(m.params, { lr: 1e-2, betas: [0.9, 0.98], eps: 1e-6, weight_decay: 0 }, m.k);
    const step = new TrainingStep(m, opt, { microbatchSize: 2, gradClipNorm: null, seed: 3, labels: 'sequence', gradientShards: shards });
    const r = step.accumulate(batch, 5);
    return { ...r, g: m.grads!.data.slice() };
  };
  const one = grads(1), two = grads(2);
  assert.equal(two.targets, one.targets);
  assert.ok(Math.abs(two.loss - one.loss) < 1e-12 * Math.abs(one.loss) + 1e-15, `${two.loss} vs ${one.loss}`);
  let maxAbs = 0;
  for (const v of one.g) maxAbs = Math.max(maxAbs, Math.abs(v));
  assert.ok(maxAbs > 0);
  // float32 sums of 4 terms regrouped: a few ulps of the largest term.
  for (let i = 0; i < one.g.length; i++) assert.ok(Math.abs(two.g[i] - one.g[i]) <= 1e-5 * maxAbs, `gradient ${i}: ${two.g[i]} vs ${one.g[i]}`);
});

test('gradientShards must equal the number of ranks', () => {
  const m = new MosaicBertForSequenceClassification(cfg, { initSeed: 1 });
  const opt = new DecoupledAdamW(m.params, { lr: 1e-2, betas: [0.9, 0.98], eps: 1e-6, weight_decay: 0 }, m.k);
  const fake = { rank: 0, size: 2 } as Collectives;
  assert.throws(() => new TrainingStep(m, opt, { microbatchSize: 2, gradClipNorm: null, seed: 3, labels: 'sequence',
    gradientShards: 3, collectives: fake }), /gradientShards \(3\) must equal the number of ranks \(2\)/);
});
