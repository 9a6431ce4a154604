/**
 * End-to-end finite-difference checks of the model gradients, with dropout ON (hidden and attention): masks come
 * from Philox keyed by (seed, step), so the same forward is repeatable and the loss is a deterministic function of
 * the weights. Central differences on the float32 model, in float64 probes; h = 1e-2 gives truncation error
 * O(h^2 |f'''|) ~ 1e-4 and rounding ~ ulp(loss)/h ~ 5e-5, so coordinates with |grad| > 2e-3 are compared at 5% +
 * 2e-4 absolute.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFromDict } from '../../src/model/config.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { MosaicBertForSequenceClassification } from '../../src/model/classification.js';
import { rng, randint } from '../helpers.js';

const cfg = configFromDict({
  vocab_size: 40, hidden_size: 24, num_hidden_layers: 2, num_attention_heads: 3, intermediate_size: 20,
  hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, initializer_range: 0.2,
});

function makeBatch(seed: number) {
  const r = rng(seed), B = 3, S = 9, lens = [9, 6, 4];
  const input_ids = randint(B * S, 5, 40, r), attention_mask = new Int32Array(B * S), labels = new Int32Array(B * S).fill(-100);
  for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) {
    if (s < lens[b]) { attention_mask[b * S + s] = 1; if (s > 0 && r() < 0.4) labels[b * S + s] = 5 + Math.floor(r() * 35); } else input_ids[b * S + s] = 0;
  }
  return { batch: B, seqlen: S, input_ids, attention_mask, token_type_ids: new Int32Array(B * S), labels };
}

function check(params: { data: Float32Array; specs: { name: string; offset: number; size: number }[] },
  grads: Float32Array, loss: () => number, picks: number): void {
  // Pick the coordinates with the largest gradients in each tensor (well above the FD noise floor).
  let checked = 0;
  for (const s of params.specs) {
    let best = -1;
    for (let i = s.offset; i < s.offset + s.size; i++) if (best < 0 || Math.abs(grads[i]) > Math.abs(grads[best])) best = i;
    if (best < 0 || Math.abs(grads[best]) < 2e-3 || checked >= picks) continue;
    const h = 1e-2, x0 = params.data[best];
    params.data[best] = x0 + h; const fp = loss();
    params.data[best] = x0 - h; const fm = loss();
    params.data[best] = x0;
    const num = (fp - fm) / (Math.fround(x0 + h) - Math.fround(x0 - h));
    const g = grads[best];
    assert.ok(Math.abs(num - g) <= 0.05 * Math.abs(g) + 2e-4, `${s.name}[${best - s.offset}]: analytic ${g}, numeric ${num}`);
    checked++;
  }
  assert.ok(checked >= 10, `only ${checked} coordinates checked`);
}

test('MLM gradients match finite differences with dropout on (subset trick on)', () => {
  const m = new MosaicBertForMaskedLM(cfg, { initSeed: 3 });
  const batch = makeBatch(1);
  const opts = { training: true, seed: 99, step: 5 };
  m.zeroGrad();
  m.forward(batch, opts);
  m.backward();
  const g = m.grads!.data.slice();
  check(m.params, g, () => m.forward(batch, opts).loss!, 40);
});

test('classification gradients match finite differences (CE with dropout, and MSE)', () => {
  for (const nl of [3, 1]) {
    const m = new MosaicBertForSequenceClassification({ ...cfg, num_labels: nl }, { initSeed: 4 });
    const batch = { ...makeBatch(2), labels: nl > 1 ? Int32Array.from([0, 2, 1]) : Float32Array.from([0.5, -1, 2]) };
    const opts = { training: true, seed: 7, step: 1 };
    m.zeroGrad();
    m.forward(batch, opts);
    m.backward();
    check(m.params, m.grads!.data.slice(), () => m.forward(batch, opts).loss!, 40);
  }
});

test('dropout masks are repeatable for a (seed, step) and change with the step', () => {
  const m = new MosaicBertForMaskedLM(cfg, { initSeed: 3 });
  const batch = makeBatch(1);
  const a = m.forward(batch, { training: true, seed: 1, step: 0 }).loss!;
  const b = m.forward(batch, { training: true, seed: 1, step: 0 }).loss!;
  const c = m.forward(batch, { training: true, seed: 1, step: 1 }).loss!;
  const e = m.forward(batch, { training: false }).loss!;
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.notEqual(a, e);
});

test('subset trick and full computation give the same loss and gradients', () => {
  const m = new MosaicBertForMaskedLM(cfg, { initSeed: 5 });
  const batch = makeBatch(3);
  m.zeroGrad(); const l1 = m.forward(batch).loss!; m.backward(); const g1 = m.grads!.data.slice();
  m.zeroGrad(); const l2 = m.forward(batch, { useSubset: false }).loss!; m.backward(); const g2 = m.grads!.data.slice();
  assert.ok(Math.abs(l1 - l2) < 1e-5, `${l1} vs ${l2}`);
  let worst = 0;
  for (let i = 0; i < g1.length; i++) worst = Math.max(worst, Math.abs(g1[i] - g2[i]) / (1e-4 + Math.abs(g2[i])));
  assert.ok(worst < 1e-2, `relative gradient difference ${worst}`);
});

test('padding invariance: appending a padded sequence leaves the others unchanged', () => {
  const m = new MosaicBertForMaskedLM({ ...cfg, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }, { initSeed: 6 });
  const b1 = makeBatch(4);
  const o1 = m.forward({ ...b1, labels: undefined }).logits.slice();
  const S = b1.seqlen;
  const ids = new Int32Array(4 * S), mask = new Int32Array(4 * S);
  ids.set(b1.input_ids); mask.set(b1.attention_mask);
  for (let s = 0; s < 5; s++) { ids[3 * S + s] = 7 + s; mask[3 * S + s] = 1; }
  const o2 = m.forward({ batch: 4, seqlen: S, input_ids: ids, attention_mask: mask }).logits;
  let d = 0;
  for (let i = 0; i < o1.length; i++) d = Math.max(d, Math.abs(o1[i] - o2[i]));
  assert.ok(d < 1e-5, `max diff ${d}`);
});

test('bad batches get clear errors', () => {
  const m = new MosaicBertForMaskedLM(cfg);
  const b = makeBatch(1);
  const mask = b.attention_mask.slice(); mask[1] = 0;
  assert.throws(() => m.forward({ ...b, attention_mask: mask }), /not right-padded/);
  const mask2 = b.attention_mask.slice(); mask2[0] = 2;
  assert.throws(() => m.forward({ ...b, attention_mask: mask2 }), /must be 0\/1/);
  const labels = b.labels.slice(); labels[b.seqlen * 3 - 1] = 7;
  assert.throws(() => m.forward({ ...b, labels }), /is padding but has a target label/);
  assert.throws(() => configFromDict({ hidden_size: 10, num_attention_heads: 3 }), /divisible/);
});
