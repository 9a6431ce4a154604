/**
 * Classic BERT (HF `model_type: bert`): parity of logits, loss and every gradient with the HF-style PyTorch
 * reference fixture test/fixtures-bert/bert-tiny (made by make_bert_fixture.py from hf_bert_ref.py), for the MLM
 * head and 3-label (CE) / 1-label (MSE) classification heads; finite-difference checks of gradients; HF folder
 * loading (safetensors / .bin, key variants) and savePretrained round trips.
 * Tolerances as the MosaicBERT fixtures: forward 1e-4 abs, loss 1e-5 rel, grads 1e-4 abs + 1e-3 rel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, writeSafetensors, type Tensor } from '../../src/io/safetensors.js';
import { fromPretrained, loadPretrained, savePretrained } from '../../src/interop/pretrained.js';
import { referenceKernels } from '../../src/kernels/reference/index.js';
import type { Kernels } from '../../src/kernels/types.js';
import { BertForMaskedLM, MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { BertForSequenceClassification } from '../../src/model/classification.js';
import { bertConfigFromDict, type BertConfig } from '../../src/model/bert_config.js';
import { assertClose, finiteDiff, randint, rng } from '../helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIX = join(root, 'test', 'fixtures-bert', 'bert-tiny');
const inputs = JSON.parse(readFileSync(join(FIX, 'inputs.json'), 'utf8'));
const flat = (a: number[][]) => Int32Array.from(a.flat());
const B: number = inputs.batch_size, S: number = inputs.seq_len;
const batch = {
  batch: B, seqlen: S, input_ids: flat(inputs.input_ids), attention_mask: flat(inputs.attention_mask),
  token_type_ids: flat(inputs.token_type_ids),
};
const labels = flat(inputs.labels);
const weights = readSafetensors(join(FIX, 'model.safetensors')).tensors;
const rawConfig = JSON.parse(readFileSync(join(FIX, 'config.json'), 'utf8'));
const quiet = { warn: () => { /* expected warnings */ } };

function tmp(tag: string): string {
  return mkdtempSync(join(tmpdir(), `mb-bert-${tag}-`));
}

function expected(name: string): Map<string, Tensor> {
  return readSafetensors(join(FIX, name)).tensors;
}

/** Every `grad.<name>` of the fixture equals the model's gradient, and every model parameter has one. */
function assertGrads(model: BertForMaskedLM | BertForSequenceClassification, exp: Map<string, Tensor>, label: string): number {
  const G = model.grads!;
  const names = [...exp.keys()].filter((k) => k.startsWith('grad.')).map((k) => k.slice(5));
  assert.deepEqual([...names].sort(), model.params.specs.map((s) => s.name).sort(), `${label}: gradient names`);
  for (const n of names) assertClose(G.get(n), exp.get(`grad.${n}`)!.data, 1e-4, 1e-3, `${label}: grad ${n}`);
  return names.length;
}

function assertLoss(got: number | undefined, want: number, label: string): void {
  assert.ok(got !== undefined && Math.abs(got - want) <= 1e-5 * Math.abs(want), `${label}: loss ${got} vs ${want}`);
}

/** Rows `b * S + s` of a `[B, S, cols]` tensor. */
function rowsAt(t: Float32Array, positions: Int32Array, cols: number): Float32Array {
  const out = new Float32Array(positions.length * cols);
  positions.forEach((p, i) => out.set(t.subarray(p * cols, (p + 1) * cols), i * cols));
  return out;
}

function mlmModel(kernels?: Kernels): BertForMaskedLM {
  const m = fromPretrained(FIX, { strict: true, kernels });
  assert.ok(m instanceof BertForMaskedLM);
  return m;
}

for (const [kname, kernels] of [['native', undefined], ['float64 reference', referenceKernels]] as const) {
  test(`bert-tiny MLM (${kname} kernels): logits, loss and every gradient match the HF reference`, () => {
    const exp = expected('expected_mlm.safetensors');
    const V = rawConfig.vocab_size, H = rawConfig.hidden_size;
    for (const useSubset of [true, false]) {
      const m = mlmModel(kernels);
      m.zeroGrad();
      const out = m.forward({ ...batch, labels }, { useSubset });
      assert.equal(out.numTargets, labels.filter((y) => y !== -100).length);
      assertClose(out.logits, rowsAt(exp.get('logits')!.data as Float32Array, out.positions, V), 1e-4, 0,
        `masked logits (subset ${useSubset})`);
      assertLoss(out.loss, exp.get('loss')!.data[0], `subset ${useSubset}`);
      m.backward();
      assert.equal(assertGrads(m, exp, `subset ${useSubset}`), m.params.specs.length);
    }
    // No labels: every valid token's logits and the last hidden state.
    const m = mlmModel(kernels);
    const out = m.forward(batch, { keepHiddenStates: true });
    assertClose(out.logits, rowsAt(exp.get('logits')!.data as Float32Array, out.positions, V), 1e-4, 0, 'all logits');
    const hs = m.encoder.hiddenStates;
    assertClose(hs[hs.length - 1], rowsAt(exp.get('last_hidden_state')!.data as Float32Array, out.positions, H), 1e-4, 0,
      'last_hidden_state');
  });
}

function classifier(nl: number, kernels?: Kernels): BertForSequenceClassification {
  const cfg = bertConfigFromDict({ ...rawConfig, num_labels: nl });
  const m = new BertForSequenceClassification(cfg, { kernels, noInit: true });
  const r1 = m.loadStateDict(weights, 'model.safetensors');
  assert.deepEqual(r1.missing.sort(), ['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'classifier.bias', 'classifier.weight']);
  const r2 = m.loadStateDict(readSafetensors(join(FIX, `cls${nl}_heads.safetensors`)).tensors);
  assert.deepEqual(r2.unexpected, []);
  return m;
}

for (const nl of [3, 1]) {
  test(`bert-tiny classification (${nl} label${nl > 1 ? 's, CE' : ', MSE'}): pooled, logits, loss, every gradient`, () => {
    const exp = expected(`expected_cls${nl}.safetensors`);
    const m = classifier(nl);
    m.zeroGrad();
    const y = nl > 1 ? Int32Array.from(inputs.cls3_labels as number[]) : Float32Array.from(inputs.cls1_labels as number[]);
    const out = m.forward({ ...batch, labels: y });
    assertClose(out.pooled, exp.get('pooled_output')!.data, 1e-4, 0, 'pooled');
    assertClose(out.logits, exp.get('logits')!.data, 1e-4, 0, 'logits');
    assertLoss(out.loss, exp.get('loss')!.data[0], 'classification');
    m.backward();
    assertGrads(m, exp, `cls${nl}`);
  });
}

test('fromPretrained: a classic BERT folder (safetensors or .bin) loads as BertForMaskedLM with identical weights', () => {
  const a = tmp('st'), b = tmp('bin');
  try {
    for (const [d, f] of [[a, 'model.safetensors'], [b, 'pytorch_model.bin']]) {
      copyFileSync(join(FIX, 'config.json'), join(d, 'config.json'));
      copyFileSync(join(FIX, f), join(d, f));
    }
    const ra = loadPretrained(a, { strict: true }), rb = loadPretrained(b, { strict: true });
    assert.equal(ra.info.modelType, 'bert');
    assert.equal(ra.info.decoder, 'absent');
    assert.equal(rb.info.decoder, 'shared');
    assert.ok(ra.model instanceof BertForMaskedLM && rb.model instanceof BertForMaskedLM);
    assert.deepEqual(ra.model.params.data, rb.model.params.data);
    // The fused [3H, H] view is [query; key; value] under their HF names.
    const H = rawConfig.hidden_size;
    const f = ra.model.encoder.layers[1].attention.qkv;
    assert.deepEqual(f.weight.subarray(H * H, 2 * H * H), weights.get('bert.encoder.layer.1.attention.self.key.weight')!.data);
    assert.deepEqual(f.bias!.subarray(2 * H), weights.get('bert.encoder.layer.1.attention.self.value.bias')!.data);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('fromPretrained: HF key variants (model. prefix, LayerNorm.gamma/beta, decoder.bias alias, position_ids buffer)', () => {
  const d = tmp('variants');
  try {
    copyFileSync(join(FIX, 'config.json'), join(d, 'config.json'));
    const m = new Map<string, { dtype: 'F32' | 'I32'; shape: number[]; data: Float32Array | Int32Array }>();
    for (const [k, t] of weights) {
      let name = 'model.' + k.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta');
      if (k === 'cls.predictions.bias') name = 'cls.predictions.decoder.bias';
      m.set(name, { dtype: 'F32', shape: t.shape, data: t.data as Float32Array });
    }
    m.set('bert.embeddings.position_ids', { dtype: 'I32', shape: [1, 40], data: Int32Array.from({ length: 40 }, (_, i) => i) });
    writeSafetensors(join(d, 'model.safetensors'), m);
    const r = loadPretrained(d, { strict: true });
    assert.deepEqual(r.model.params.data, mlmModel().params.data);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('fine-tuning start: an MLM folder loads as classification (new heads initialised, cls.* unexpected) and trains', () => {
  const warnings: string[] = [];
  const m = fromPretrained(FIX, { head: 'classification', numLabels: 3, warn: (w) => warnings.push(w) });
  assert.ok(m instanceof BertForSequenceClassification);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /missing keys \(randomly initialised\): bert\.pooler\.dense\.weight/);
  assert.match(warnings[0], /unexpected keys \(ignored\): .*cls\.predictions\.bias/);
  // Loading the fixture heads reproduces the 3-label fixture; a few SGD steps lower the loss.
  m.loadStateDict(readSafetensors(join(FIX, 'cls3_heads.safetensors')).tensors);
  const y = Int32Array.from(inputs.cls3_labels as number[]);
  const l0 = m.forward({ ...batch, labels: y }).loss!;
  assertLoss(l0, expected('expected_cls3.safetensors').get('loss')!.data[0], 'fromPretrained classification');
  for (let step = 0; step < 5; step++) {
    m.zeroGrad();
    m.forward({ ...batch, labels: y }, { training: true, seed: 1, step });
    m.backward();
    for (let i = 0; i < m.params.data.length; i++) m.params.data[i] -= 0.05 * m.grads!.data[i];
  }
  assert.ok(m.forward({ ...batch, labels: y }).loss! < l0, 'loss did not decrease');
});

test('savePretrained -> fromPretrained round trip keeps HF key names and the classic-BERT config', () => {
  const d = tmp('save');
  try {
    const m = mlmModel();
    savePretrained(m, d, { tokenizer: false });
    const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    assert.equal(cfg.model_type, 'bert');
    assert.equal(cfg.alibi_starting_size, undefined);
    assert.equal(cfg.max_position_embeddings, rawConfig.max_position_embeddings);
    const saved = readSafetensors(join(d, 'model.safetensors')).tensors;
    assert.deepEqual([...saved.keys()].sort(), [...weights.keys()].sort());
    const back = fromPretrained(d, { strict: true });
    assert.ok(back instanceof BertForMaskedLM);
    assert.deepEqual(back.params.data, m.params.data);
    const c = new BertForSequenceClassification(bertConfigFromDict({ ...rawConfig, num_labels: 3 }), { initSeed: 3 });
    savePretrained(c, d, { tokenizer: false });
    const cb = fromPretrained(d, { strict: true });
    assert.ok(cb instanceof BertForSequenceClassification);
    assert.equal(cb.config.num_labels, 3);
    assert.deepEqual(cb.params.data, c.params.data);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('MosaicBERT folders still load as MosaicBERT', () => {
  const dir = join(root, 'test', 'fixtures', 'batch1-heads5');
  const r = loadPretrained(dir, quiet);
  assert.equal(r.info.modelType, 'mosaicbert');
  assert.ok(r.model instanceof MosaicBertForMaskedLM);
});

/** A small random classic BERT for finite differences (dropout 0). */
function smallConfig(nl = 3): BertConfig {
  return bertConfigFromDict({
    vocab_size: 20, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 16,
    max_position_embeddings: 12, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, num_labels: nl,
    initializer_range: 0.5, layer_norm_eps: 1e-5,
  });
}

function smallBatch(r: () => number) {
  const Bs = 3, Ss = 7, lens = [7, 4, 5];
  const ids = randint(Bs * Ss, 5, 20, r), mask = new Int32Array(Bs * Ss), tt = new Int32Array(Bs * Ss);
  const lab = new Int32Array(Bs * Ss).fill(-100);
  for (let b = 0; b < Bs; b++) {
    for (let s = 0; s < Ss; s++) {
      if (s < lens[b]) { mask[b * Ss + s] = 1; tt[b * Ss + s] = s > 2 ? 1 : 0; } else ids[b * Ss + s] = 0;
    }
    lab[b * Ss + 1] = 6 + b; lab[b * Ss + 2] = 0;  // label 0 ([PAD] id) is a real target under HF's != -100
  }
  return { batch: Bs, seqlen: Ss, input_ids: ids, attention_mask: mask, token_type_ids: tt, labels: lab };
}

const FD_NAMES = [
  'bert.embeddings.position_embeddings.weight', 'bert.embeddings.word_embeddings.weight',
  'bert.encoder.layer.0.attention.self.query.weight', 'bert.encoder.layer.0.attention.self.key.bias',
  'bert.encoder.layer.1.attention.self.value.weight', 'bert.encoder.layer.0.intermediate.dense.weight',
  'bert.encoder.layer.1.output.dense.bias', 'bert.encoder.layer.1.output.LayerNorm.weight',
];

test('finite differences: MLM gradients (float64 reference kernels)', () => {
  const r = rng(5);
  const m = new BertForMaskedLM(smallConfig(), { kernels: referenceKernels, initSeed: 4 });
  const b = smallBatch(r);
  m.zeroGrad();
  m.forward(b);
  m.backward();
  for (const name of [...FD_NAMES, 'cls.predictions.bias', 'cls.predictions.transform.dense.weight']) {
    const num = finiteDiff(m.params.get(name), () => m.forward(b).loss!, 3, 1e-3, r);
    for (const [i, g] of num) {
      const a = m.grads!.get(name)[i];
      assert.ok(Math.abs(a - g) <= 2e-3 + 2e-2 * Math.abs(g), `${name}[${i}]: analytic ${a}, numeric ${g}`);
    }
  }
});

test('finite differences: classification gradients, CE and MSE (float64 reference kernels)', () => {
  for (const nl of [3, 1]) {
    const r = rng(9 + nl);
    const m = new BertForSequenceClassification(smallConfig(nl), { kernels: referenceKernels, initSeed: 8 });
    const b = smallBatch(r);
    const y = nl > 1 ? Int32Array.from([0, 2, 1]) : Float32Array.from([0.5, -1, 2]);
    const cb = { ...b, labels: y };
    m.zeroGrad();
    m.forward(cb);
    m.backward();
    for (const name of [...FD_NAMES, 'bert.pooler.dense.weight', 'classifier.weight']) {
      const num = finiteDiff(m.params.get(name), () => m.forward(cb).loss!, 3, 1e-3, r);
      for (const [i, g] of num) {
        const a = m.grads!.get(name)[i];
        assert.ok(Math.abs(a - g) <= 2e-3 + 2e-2 * Math.abs(g), `nl ${nl} ${name}[${i}]: analytic ${a}, numeric ${g}`);
      }
    }
  }
});

test('inputs are validated: sequences longer than max_position_embeddings, labels on padding, bad configs', () => {
  const m = new BertForMaskedLM(smallConfig());
  const n = 13;
  assert.throws(() => m.forward({ batch: 1, seqlen: n, input_ids: new Int32Array(n).fill(5) }),
    /sequence 0 has 13 tokens, more than max_position_embeddings \(12\)/);
  const b = smallBatch(rng(1));
  b.labels[1 * 7 + 6] = 7;  // row 1 has length 4: position 6 is padding
  assert.throws(() => m.forward(b), /position \(1, 6\) is padding but has a target label/);
  assert.throws(() => bertConfigFromDict({ position_embedding_type: 'relative_key' }), /'position_embedding_type' "relative_key" is not supported/);
  assert.throws(() => bertConfigFromDict({ hidden_act: 'relu' }), /'hidden_act' must be 'gelu'/);
  assert.throws(() => bertConfigFromDict({ max_position_embeddings: 0 }), /max_position_embeddings/);
});

test('bert-base-uncased config: shapes and parameter count (109,514,298 with the MLM head, as HF)', () => {
  const cfg = bertConfigFromDict(JSON.parse(readFileSync(join(root, '..', 'shared', 'data', 'vocab',
    'config.hf_bert-base-uncased.json'), 'utf8')));
  assert.equal(cfg.vocab_size, 30522);
  assert.equal(cfg.max_position_embeddings, 512);
  const m = new BertForMaskedLM(cfg, { noInit: true });
  assert.equal(m.numParameters(), 109514298);
});

test('dropout on: training forward/backward is finite and reproducible for a seed', () => {
  const cfg = bertConfigFromDict({ ...smallConfig(), hidden_dropout_prob: 0.2, attention_probs_dropout_prob: 0.2 });
  const m = new BertForMaskedLM(cfg, { initSeed: 2 });
  const b = smallBatch(rng(3));
  const run = () => { m.zeroGrad(); const l = m.forward(b, { training: true, seed: 5, step: 1 }).loss!; m.backward(); return [l, m.grads!.data.slice()] as const; };
  const [l1, g1] = run(), [l2, g2] = run();
  assert.ok(Number.isFinite(l1) && l1 === l2);
  assert.deepEqual(g1, g2);
  assert.notEqual(m.forward(b).loss, l1);
});

const refDir = join(root, '..', 'shared', 'reference', 'torch');
const torchOk = existsSync(join(refDir, 'hf_bert_ref.py')) && existsSync('/usr/bin/python3') &&
  spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

test('the HF-style PyTorch reference loads our savePretrained BERT folder (no unexpected keys; only the tied decoder keys absent) and computes the same loss',
  { skip: !torchOk && 'no /usr/bin/python3 with torch or no ../shared/reference/torch' }, () => {
    const d = tmp('py');
    try {
      const m = mlmModel();
      // Change the weights so the check is not just the fixture's own file.
      m.params.get('bert.encoder.layer.0.attention.self.value.weight')[3] += 0.5;
      m.params.get('bert.embeddings.position_embeddings.weight')[5] -= 0.5;
      savePretrained(m, d, { tokenizer: false });
      writeFileSync(join(d, 'batch.json'), JSON.stringify({ ...inputs }));
      const ours = m.forward({ ...batch, labels }).loss!;
      const script = `
import json, sys, torch
sys.path.insert(0, sys.argv[2])
import hf_bert_ref as hf
from st_io import load_safetensors
d = sys.argv[1]
cfg = hf.HFBertConfig.from_dict(json.load(open(d + '/config.json')))
m = hf.HFBertForMaskedLM(cfg, init=False)
sd, _ = load_safetensors(d + '/model.safetensors')
missing, unexpected = m.load_state_dict(sd, strict=False)
assert not unexpected, unexpected
assert set(missing) <= {'cls.predictions.decoder.weight', 'cls.predictions.decoder.bias'}, missing
m.eval()
b = json.load(open(d + '/batch.json'))
T = lambda k: torch.tensor(b[k])
loss, _ = m(T('input_ids'), T('attention_mask'), T('token_type_ids'), labels=T('labels'))
print(repr(loss.item()))
`;
      const p = spawnSync('/usr/bin/python3', ['-c', script, d, refDir], { encoding: 'utf8' });
      assert.equal(p.status, 0, p.stderr);
      const theirs = Number(p.stdout.trim());
      assert.ok(Math.abs(theirs - ours) <= 1e-5 * Math.abs(theirs), `reference ${theirs} vs ours ${ours}`);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
