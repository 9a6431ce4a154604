/**
 * Knowledge distillation (src/train/distillation.ts): the KD value against a direct float64 KL, its gradient and the
 * mixed loss's parameter gradients against central finite differences, and the step's use of a teacher.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFromDict } from '../../src/model/config.js';
import { MosaicBertForSequenceClassification } from '../../src/model/classification.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { DecoupledAdamW } from '../../src/train/decoupled_adamw.js';
import { TrainingStep } from '../../src/train/step.js';
import { checkDistillation, distillationLoss } from '../../src/train/distillation.js';
import { mulberry32 } from '../../src/data/mulberry32.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference/index.js';
import { randn } from '../helpers.js';

const cfg = configFromDict({ vocab_size: 64, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32,
  hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, num_labels: 3 });
const batch = { batch: 4, seqlen: 5, input_ids: Int32Array.from({ length: 20 }, (_, i) => 2 + (i * 11) % 60),
  attention_mask: Int32Array.from({ length: 20 }, (_, i) => (i % 5 < 5 - (i / 5 | 0) % 2 ? 1 : 0)) };
const labels = Int32Array.from([0, 2, 1, 0]);

for (const k of [nativeKernels(), referenceKernels]) test(`KD (${k.name} kernels) equals T^2 times the mean float64 KL(teacher || student at T); its gradient matches finite differences`, () => {
  const r = mulberry32(7);
  const R = 3, C = 5, T = 2;
  const s = randn(R * C, r, 2), t = randn(R * C, r, 2);
  const grad = new Float32Array(R * C);
  const kd = distillationLoss(k, s, t, R, C, T, grad);
  let want = 0;
  for (let i = 0; i < R; i++) {
    const sm = (x: Float32Array) => { const e = Array.from(x.subarray(i * C, i * C + C), (v) => Math.exp(v / T)); const z = e.reduce((a, b) => a + b); return e.map((v) => v / z); };
    const ps = sm(s), pt = sm(t);
    for (let c = 0; c < C; c++) want += pt[c] * Math.log(pt[c] / ps[c]);
  }
  want *= T * T / R;
  // float32 exps (native, <= 1 ulp) against float64: 1e-6 relative; the reference is float64 throughout.
  assert.ok(Math.abs(kd - want) < (k.name === 'native' ? 1e-6 : 1e-12) * Math.max(1, want), `${kd} vs ${want}`);
  assert.ok(kd > 0.05, 'different logits must give a clearly positive KD');
  // float64 central differences of the float64 loss on float32 inputs (h = 1e-3: truncation ~h^2, round-off ~1e-7/h).
  const s64 = Float64Array.from(s);
  for (let j = 0; j < R * C; j++) {
    const f = (d: number) => { const x = Float32Array.from(s64, (v, i) => (i === j ? v + d : v)); return distillationLoss(referenceKernels, x, t, R, C, T); };
    const h = 1e-3, fd = (f(h) - f(-h)) / (2 * h);
    assert.ok(Math.abs(fd - grad[j]) < 2e-4, `d/ds[${j}]: ${grad[j]} vs finite difference ${fd}`);
  }
  assert.ok(Math.abs(distillationLoss(k, t, t, R, C, T)) < 1e-7);
  assert.throws(() => checkDistillation({ hardness: 1.5, temperature: 2 }), /hardness must be in \[0, 1\], got 1.5/);
  assert.throws(() => checkDistillation({ hardness: 1, temperature: 0 }), /temperature must be a finite number > 0/);
});

/** Parameter-gradient check of the distilled loss on a few weights of `model` (dropout off). */
function checkParamGrads(model: MosaicBertForSequenceClassification | MosaicBertForMaskedLM, b: object, teacherLogits: Float32Array,
  hardness: number, names: string[]): void {
  const distill = { teacherLogits, hardness, temperature: 2 };
  const loss = () => model.forward(b as never, { training: false, distill }).loss!;
  const G = model.zeroGrad();
  const out = model.forward(b as never, { training: false, distill });
  assert.ok(out.distillLoss! > 0 && out.taskLoss! > 0);
  assert.ok(Math.abs(out.loss! - ((1 - hardness) * out.taskLoss! + hardness * out.distillLoss!)) < 1e-9);
  model.backward(1);
  for (const name of names) {
    const w = model.params.get(name), g = G.get(name);
    for (const j of [0, 3, w.length - 1]) {
      const w0 = w[j], h = 1e-2;
      w[j] = w0 + h; const fp = loss();
      w[j] = w0 - h; const fm = loss();
      w[j] = w0;
      const fd = (fp - fm) / (2 * h);
      // float32 forward: loss round-off ~1e-7 relative, divided by 2h = 2e-2, plus O(h^2) truncation.
      assert.ok(Math.abs(fd - g[j]) < 2e-3 + 2e-2 * Math.abs(fd), `${name}[${j}]: grad ${g[j]} vs finite difference ${fd}`);
    }
  }
}

test('classification: the mixed loss (hardness 0.5 and 1) backpropagates its exact gradient', () => {
  const teacher = new MosaicBertForSequenceClassification(cfg, { initSeed: 2 });
  const t = teacher.forward(batch, { training: false }).logits.slice();
  for (const hardness of [0.5, 1]) {
    const m = new MosaicBertForSequenceClassification(cfg, { initSeed: 1 });
    checkParamGrads(m, { ...batch, labels }, t, hardness, ['classifier.weight', 'bert.encoder.layer.1.mlp.wo.weight']);
  }
});

test('masked LM: KD over the masked tokens backpropagates its exact gradient', () => {
  const mlmLabels = new Int32Array(20).fill(-100);
  for (const p of [1, 7, 12, 16]) mlmLabels[p] = batch.input_ids[p];
  const teacher = new MosaicBertForMaskedLM(cfg, { initSeed: 2 });
  const t = teacher.forward({ ...batch, labels: mlmLabels }, { training: false }).logits.slice();
  assert.equal(t.length, 4 * 64);
  const m = new MosaicBertForMaskedLM(cfg, { initSeed: 1 });
  checkParamGrads(m, { ...batch, labels: mlmLabels }, t, 0.7, ['cls.predictions.transform.dense.weight', 'bert.encoder.layer.0.attention.self.Wqkv.weight']);
  assert.throws(() => m.forward({ ...batch, labels: mlmLabels }, { distill: { teacherLogits: t.subarray(64), hardness: 1, temperature: 2 } }),
    /distill: teacher logits have 192 values, expected 4 targets x 64/);
});

test('TrainingStep with a teacher: hardness 0 is the plain step bit for bit; hardness 1 trains on the KD term alone', () => {
  const teacher = new MosaicBertForSequenceClassification(cfg, { initSeed: 2 });
  const run = (distillation: { hardness: number } | null) => {
    const m = new MosaicBertForSequenceClassification({ ...cfg, hidden_dropout_prob: 0.1 }, { initSeed: 1 });
    const opt = new DecoupledAdamW(m.params, { lr: 1e-2, betas: [0.9, 0.98], eps: 1e-6, weight_decay: 0 }, m.k);
    const step = new TrainingStep(m, opt, { microbatchSize: 2, gradClipNorm: null, seed: 3, labels: 'sequence',
      distillation: distillation && { teacher, temperature: 2, ...distillation } });
    const r = step.run({ ...batch, labels }, 1e-2, 1, 0);
    return { r, w: m.params.data.slice() };
  };
  const plain = run(null), h0 = run({ hardness: 0 }), h1 = run({ hardness: 1 });
  assert.deepEqual(h0.w, plain.w);
  assert.equal(h0.r.loss, plain.r.loss);
  assert.equal(h0.r.taskLoss, plain.r.loss);
  assert.ok(h0.r.distillLoss! > 0);
  assert.equal(h1.r.loss, h1.r.distillLoss);
  assert.ok(Math.abs(h1.r.taskLoss! - plain.r.loss) < 1e-12, 'the task loss is still reported with hardness 1');
  assert.notDeepEqual(h1.w, plain.w);
  // Distilling into a copy of the teacher itself (no dropout) has KD 0 and no gradient from it.
  const self = new MosaicBertForSequenceClassification(cfg, { initSeed: 2 });
  const opt = new DecoupledAdamW(self.params, { lr: 1e-2, betas: [0.9, 0.98], eps: 1e-6, weight_decay: 0 }, self.k);
  const r = new TrainingStep(self, opt, { microbatchSize: 4, gradClipNorm: null, seed: 3, labels: 'sequence',
    distillation: { teacher, hardness: 1, temperature: 5.5 } }).run({ ...batch, labels }, 1e-2, 1, 0);
  assert.ok(Math.abs(r.distillLoss!) < 1e-9 && r.gradNorm < 1e-6, `KD ${r.distillLoss}, grad norm ${r.gradNorm}`);
});
