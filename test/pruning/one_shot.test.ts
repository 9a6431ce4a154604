/**
 * One-shot pruning of a tiny MosaicBERT: exact global counts, block4 masks made of 1x4 groups, pruned weights at
 * exactly 0 with the mask set on each Linear, masks that only shrink, gradients taken in evaluation mode, the OBS
 * update moving the kept weights, processing in groups giving the same bits as all at once, and the memory refusal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { configFromDict } from '../../src/model/config.js';
import { oneShotPrune, pruningJson } from '../../src/pruning/one_shot.js';
import { selectTargets } from '../../src/pruning/targets.js';
import { DEFAULT_PRUNE_PARAMS_MOSAICBERT } from '../../src/pruning/targets.js';
import { fisherInverseBytes, planFisherGroups } from '../../src/pruning/memory.js';
import type { LabelledBatch } from '../../src/train/step.js';
import { assertBitEqual, rng } from '../helpers.js';

const tiny = { num_hidden_layers: 2, hidden_size: 32, num_attention_heads: 2, intermediate_size: 64, vocab_size: 100 };
const model = (seed = 3) => new MosaicBertForMaskedLM(configFromDict(tiny), { initSeed: seed });

/** `n` MLM batches of 4 x 12 tokens, ~25% of the positions as targets (seeded). */
function batches(n: number, seed = 9): LabelledBatch[] {
  const r = rng(seed), B = 4, S = 12, out: LabelledBatch[] = [];
  for (let i = 0; i < n; i++) {
    const ids = new Int32Array(B * S), labels = new Int32Array(B * S).fill(-100), mask = new Int32Array(B * S).fill(1);
    for (let p = 0; p < B * S; p++) { ids[p] = 5 + Math.floor(r() * 90); if (r() < 0.25) { labels[p] = ids[p]; ids[p] = 4; } }
    out.push({ batch: B, seqlen: S, input_ids: ids, attention_mask: mask, token_type_ids: new Int32Array(B * S), labels });
  }
  return out;
}

const targetsOf = (m: MosaicBertForMaskedLM) => selectTargets(m.linears(), DEFAULT_PRUNE_PARAMS_MOSAICBERT).linears;

test('gmp: exact global count, smallest magnitudes pruned, zeros where the mask is 0, head dense', () => {
  const m = model();
  const r = oneShotPrune(m, { method: 'gmp', sparsity: 0.37 });
  const ts = targetsOf(m), N = ts.reduce((a, l) => a + l.weight.length, 0);
  assert.equal(r.pruned, Math.round(0.37 * N));
  let maxPruned = 0, minKept = Infinity;
  const before = model();  // same seed: the original weights
  targetsOf(before).forEach((lb, t) => {
    const l = ts[t];
    for (let j = 0; j < l.weight.length; j++) {
      if (!l.mask![j]) { assert.equal(l.weight[j], 0); maxPruned = Math.max(maxPruned, Math.abs(lb.weight[j])); }
      else { assert.equal(l.weight[j], lb.weight[j]); minKept = Math.min(minKept, Math.abs(lb.weight[j])); }
    }
  });
  assert.ok(maxPruned <= minKept, 'global magnitude order');
  assert.equal(m.mlmHead.decoder.mask, null);
  assert.equal(r.layers.length, 8);
  const json = pruningJson({ ...r, warnings: [] }) as { layers: Array<{ name: string }> };
  assert.equal(json.layers[0].name, 'bert.encoder.layer.0.attention.self.Wqkv.weight');
});

test('block4: masks are 1x4 groups along the input dimension; count exact in groups; per-layer sparsity', () => {
  for (const method of ['gmp', 'obert'] as const) {
    const m = model();
    const r = oneShotPrune(m, { method, sparsity: 0.5, maskType: 'block4', blockSize: 8, numGrads: 6, dampening: 1e-4,
      gradBatches: batches(6), globalSparsity: false });
    for (const l of targetsOf(m)) {
      const mask = l.mask!;
      for (let q = 0; q < mask.length; q += 4) {
        for (let i = 1; i < 4; i++) assert.equal(mask[q + i], mask[q], `${method} ${l.name}: group ${q / 4} is one unit`);
      }
      // Groups never straddle rows: in_features % 4 == 0, and groups start at multiples of 4.
      assert.equal(l.inFeatures % 4, 0);
      const groups = mask.length / 4;
      let prunedGroups = 0;
      for (let q = 0; q < mask.length; q += 4) prunedGroups += mask[q] ? 0 : 1;
      assert.equal(prunedGroups, Math.round(0.5 * groups), `${method} ${l.name}: per-layer count`);
    }
    assert.equal(r.achievedSparsity, 0.5);
  }
});

test('obert: exact count, OBS update moves kept weights, masks only shrink, gradients in evaluation mode', () => {
  const m = model(), orig = model();
  const calls: boolean[] = [];
  const fwd = m.forward.bind(m);
  m.forward = ((b: Parameters<typeof fwd>[0], o?: Parameters<typeof fwd>[1]) => { calls.push(o?.training ?? false); return fwd(b, o); }) as typeof m.forward;
  let progress = 0;
  const r = oneShotPrune(m, { method: 'obert', sparsity: 0.6, blockSize: 16, numGrads: 10, dampening: 1e-4,
    gradBatches: batches(12), onProgress: (p) => { progress = p.done; assert.equal(p.total, 10); } });
  assert.equal(calls.length, 10);
  assert.ok(calls.every((t) => t === false), 'eval mode');
  assert.equal(progress, 10);
  assert.equal(r.gradientPasses, 10);
  const ts = targetsOf(m), N = ts.reduce((a, l) => a + l.weight.length, 0);
  assert.equal(r.pruned, Math.round(0.6 * N));
  let moved = 0;
  targetsOf(orig).forEach((lo, t) => {
    const l = ts[t];
    for (let j = 0; j < l.weight.length; j++) {
      if (!l.mask![j]) assert.equal(l.weight[j], 0);
      else if (l.weight[j] !== lo.weight[j]) moved++;
    }
  });
  assert.ok(moved > 0.5 * (N - r.pruned), `the OBS update changes kept weights (${moved})`);
  // A lower target keeps every pruned weight pruned; a higher one only adds to the mask.
  const old = ts.map((l) => l.mask!.slice());
  const r2 = oneShotPrune(m, { method: 'gmp', sparsity: 0.3 });
  assert.equal(r2.pruned, r.pruned);
  const r3 = oneShotPrune(m, { method: 'obert', sparsity: 0.75, blockSize: 16, numGrads: 4, dampening: 1e-4, gradBatches: batches(4), numRecomputations: 2 });
  assert.equal(r3.pruned, Math.round(0.75 * N));
  assert.equal(r3.gradientPasses, 8);
  ts.forEach((l, t) => { for (let j = 0; j < l.weight.length; j++) if (!old[t][j]) assert.equal(l.mask![j], 0); });
  assert.throws(() => oneShotPrune(model(), { method: 'obert', sparsity: 0.5, numGrads: 20, blockSize: 4, gradBatches: batches(3) }),
    /gradient batches ran out: 3 of 20/);
});

test('obert in groups (a small memory limit) gives the same bits as all at once; refusal gives the formula', () => {
  const opts = { method: 'obert' as const, sparsity: 0.5, blockSize: 8, numGrads: 5, dampening: 1e-5, gradBatches: batches(5) };
  const a = model(), b = model();
  const ra = oneShotPrune(a, opts);
  const rb = oneShotPrune(b, { ...opts, maxMemoryBytes: 64 * 1024 });
  assert.equal(ra.groups, 1);
  assert.ok(rb.groups > 2, `groups: ${rb.groups}`);
  assert.equal(rb.gradientPasses, 2 * rb.groups * 5);
  targetsOf(a).forEach((l, t) => assertBitEqual(l.weight, targetsOf(b)[t].weight, l.name));
  assert.throws(() => oneShotPrune(model(), { ...opts, maxMemoryBytes: 1e5, allowGroups: false }),
    /not enough memory for oBERT: the Fisher inverse takes ceil\(d\/B\)·B²·4 ≈ d·B·4 bytes \(d = \d+ pruned weights, B = 8: /);
  assert.throws(() => planFisherGroups([1000], 50, 1000), /even one block/);
  // BERT-base's encoder at B = 50: 15.8 GiB (the spec's figure; the padded last block adds 8.8 KB).
  assert.equal((fisherInverseBytes(84_934_656, 50) / 2 ** 30).toFixed(1), '15.8');
  assert.equal(fisherInverseBytes(100, 50), 100 * 50 * 4);
  const plan = planFisherGroups([100, 37, 64], 8, 4 * 8 * (8 + 8) * 3);  // three blocks per group
  const covered = [0, 0, 0];
  for (const g of plan.groups) for (const s of g) { assert.equal(s.start % 8, 0); covered[s.target] += s.end - s.start; }
  assert.deepEqual(covered, [100, 37, 64]);
});
