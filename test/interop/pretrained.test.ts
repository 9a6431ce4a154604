/**
 * Hugging Face folders: every fixture loads from pytorch_model.bin and from model.safetensors to identical
 * parameters that reproduce the fixture's masked logits and loss; sharded indexes (safetensors and .bin);
 * Composer prefixes, missing / unexpected keys, the tied decoder, classic-BERT dispatch; classification heads;
 * savePretrained -> fromPretrained round trips; and the PyTorch reference reading our saved folder (when
 * /usr/bin/python3 has torch).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromPretrained, loadPretrained, savePretrained } from '../../src/interop/pretrained.js';
import { hfConfigDict } from '../../src/interop/hf_config.js';
import { readSafetensors, parseSafetensors, writeSafetensors, type Tensor } from '../../src/io/safetensors.js';
import { readTorchStateDict } from '../../src/io/torch_pickle.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { MosaicBertForSequenceClassification } from '../../src/model/classification.js';
import { configFromDict } from '../../src/model/config.js';
import { BertForMaskedLM } from '../../src/model/mlm.js';
import { assertClose, randint, rng, sharedDir } from '../helpers.js';
import { writeTorchStateDict } from './torch_writer.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const shared = sharedDir();
const fixtureDirs = [
  ...(shared ? [join(shared, 'fixtures', 'mosaicbert-tiny')] : []),
  ...readdirSync(join(root, 'test', 'fixtures'), { withFileTypes: true })
    .filter((e) => e.isDirectory()).map((e) => join(root, 'test', 'fixtures', e.name)),
];
const tiny = fixtureDirs[0];

function tmp(tag: string): string {
  return mkdtempSync(join(tmpdir(), `mb-${tag}-`));
}

/** A copy of the fixture's config.json plus the named files. */
function folderWith(src: string, files: string[]): string {
  const d = tmp('hf');
  copyFileSync(join(src, 'config.json'), join(d, 'config.json'));
  for (const f of files) copyFileSync(join(src, f), join(d, f));
  return d;
}

function sameF32(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length &&
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function fixtureBatch(dir: string) {
  const inputs = JSON.parse(readFileSync(join(dir, 'inputs.json'), 'utf8'));
  const flat = (a: number[][]) => Int32Array.from(a.flat());
  return {
    batch: inputs.batch_size as number, seqlen: inputs.seq_len as number, input_ids: flat(inputs.input_ids),
    attention_mask: flat(inputs.attention_mask), token_type_ids: flat(inputs.token_type_ids), labels: flat(inputs.labels),
  };
}

/** The fixture's masked logits (1e-4 abs) and loss (1e-5 relative), as the fixture README states. */
function assertReproducesFixture(model: MosaicBertForMaskedLM, dir: string, label: string): void {
  const exp = readSafetensors(join(dir, 'expected_mlm.safetensors')).tensors;
  const out = model.forward(fixtureBatch(dir));
  assertClose(out.logits, exp.get('masked_logits')!.data, 1e-4, 0, `${label}: masked_logits`);
  const l = exp.get('loss')!.data[0];
  assert.ok(Math.abs(out.loss! - l) <= 1e-5 * Math.abs(l), `${label}: loss ${out.loss} vs ${l}`);
}

const quiet = { warn: () => { /* collected elsewhere */ } };

for (const dir of fixtureDirs) {
  const name = dir.split('/').pop();
  test(`fixture ${name}: .bin-only and safetensors-only folders load identically and reproduce the fixture`, () => {
    const a = folderWith(dir, ['pytorch_model.bin']), b = folderWith(dir, ['model.safetensors']);
    try {
      const ra = loadPretrained(a, { strict: true }), rb = loadPretrained(b, { strict: true });
      assert.equal(ra.info.format, 'bin');
      assert.equal(rb.info.format, 'safetensors');
      assert.equal(ra.info.decoder, 'shared');
      assert.equal(rb.info.decoder, 'absent');
      assert.equal(ra.info.head, 'mlm');
      assert.ok(ra.model instanceof MosaicBertForMaskedLM && rb.model instanceof MosaicBertForMaskedLM);
      assert.ok(sameF32(ra.model.params.data, rb.model.params.data), 'parameters differ between the formats');
      assertReproducesFixture(ra.model, dir, `${name} (.bin)`);
      assertReproducesFixture(rb.model, dir, `${name} (safetensors)`);
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });
}

test('both formats present: safetensors is preferred; format option selects', () => {
  const d = folderWith(tiny, ['model.safetensors', 'pytorch_model.bin']);
  try {
    assert.equal(loadPretrained(d).info.format, 'safetensors');
    assert.equal(loadPretrained(d, { format: 'bin' }).info.format, 'bin');
    rmSync(join(d, 'pytorch_model.bin'));
    assert.throws(() => loadPretrained(d, { format: 'bin' }), /no weights found \(looked for pytorch_model\.bin, pytorch_model\.bin\.index\.json\)/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('sharded model.safetensors.index.json and pytorch_model.bin.index.json load like the single file', () => {
  const ref = fromPretrained(folderWith(tiny, ['model.safetensors']), quiet);
  const weights = readSafetensors(join(tiny, 'model.safetensors')).tensors;
  const keys = [...weights.keys()];
  const half = Math.ceil(keys.length / 2);
  for (const fmt of ['safetensors', 'bin'] as const) {
    const d = folderWith(tiny, []);
    try {
      const weight_map: Record<string, string> = {};
      const shards = [keys.slice(0, half), keys.slice(half)];
      shards.forEach((ks, i) => {
        const file = fmt === 'safetensors' ? `model-0000${i + 1}-of-00002.safetensors` : `pytorch_model-0000${i + 1}-of-00002.bin`;
        const m = new Map(ks.map((k) => [k, weights.get(k)!] as [string, Tensor]));
        if (fmt === 'safetensors') writeSafetensors(join(d, file), m as Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>, { format: 'pt' });
        else writeFileSync(join(d, file), writeTorchStateDict(m));
        for (const k of ks) weight_map[k] = file;
      });
      const index = fmt === 'safetensors' ? 'model.safetensors.index.json' : 'pytorch_model.bin.index.json';
      writeFileSync(join(d, index), JSON.stringify({ metadata: { total_size: 0 }, weight_map }));
      const r = loadPretrained(d, { strict: true });
      assert.equal(r.info.files.length, 2);
      assert.equal(r.info.format, fmt);
      assert.ok(sameF32(r.model.params.data, ref.params.data), `${fmt}: sharded load differs`);
      assertReproducesFixture(r.model as MosaicBertForMaskedLM, tiny, `sharded ${fmt}`);
      // A missing shard, a key the shard lacks, and a path outside the folder are errors.
      writeFileSync(join(d, index), JSON.stringify({ weight_map: { ...weight_map, 'bert.x': 'nope.bin' } }));
      assert.throws(() => loadPretrained(d), /shard 'nope\.bin' is missing/);
      const first = Object.values(weight_map)[0];
      writeFileSync(join(d, index), JSON.stringify({ weight_map: { ...weight_map, 'bert.x': first } }));
      assert.throws(() => loadPretrained(d), /key 'bert\.x' listed in .* is absent/);
      writeFileSync(join(d, index), JSON.stringify({ weight_map: { 'bert.x': '../evil.bin' } }));
      assert.throws(() => loadPretrained(d), /not a file name in the folder/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  }
});

test("Composer's model. prefix is stripped; missing and unexpected keys are named (warn, or throw when strict)", () => {
  const weights = readSafetensors(join(tiny, 'model.safetensors')).tensors;
  const d = folderWith(tiny, []);
  try {
    const sd = new Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>();
    for (const [k, v] of weights) if (k !== 'cls.predictions.decoder.bias') sd.set(`model.${k}`, v as never);
    sd.set('model.bert.extra.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2) });
    writeSafetensors(join(d, 'model.safetensors'), sd);
    const warnings: string[] = [];
    const r = loadPretrained(d, { warn: (m) => warnings.push(m) });
    assert.deepEqual(r.info.missing, ['cls.predictions.decoder.bias']);
    assert.deepEqual(r.info.unexpected, ['bert.extra.weight']);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /missing keys \(randomly initialised\): cls\.predictions\.decoder\.bias; unexpected keys \(ignored\): bert\.extra\.weight/);
    assert.throws(() => loadPretrained(d, { strict: true }), /missing keys.*cls\.predictions\.decoder\.bias.*unexpected keys.*bert\.extra\.weight/);
    // The stripped keys did load.
    assert.ok(sameF32((r.model.params.get('bert.encoder.layer.0.mlp.wo.weight')), weights.get('bert.encoder.layer.0.mlp.wo.weight')!.data as Float32Array));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('a stored decoder that differs from the word embeddings is reported (tied model uses the embeddings)', () => {
  const weights = readSafetensors(join(tiny, 'model.safetensors')).tensors;
  const d = folderWith(tiny, []);
  try {
    const emb = weights.get('bert.embeddings.word_embeddings.weight')!;
    const dec = (emb.data as Float32Array).slice();
    const sd = new Map(weights) as Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>;
    sd.set('cls.predictions.decoder.weight', { dtype: 'F32', shape: emb.shape, data: dec });
    writeSafetensors(join(d, 'model.safetensors'), sd);
    assert.equal(loadPretrained(d, { strict: true }).info.decoder, 'equal');
    dec[5] += 1;
    writeSafetensors(join(d, 'model.safetensors'), sd);
    const warnings: string[] = [];
    assert.equal(loadPretrained(d, { warn: (m) => warnings.push(m) }).info.decoder, 'different');
    assert.match(warnings.join('\n'), /cls\.predictions\.decoder\.weight' differs/);
    assert.throws(() => loadPretrained(d, { strict: true }), /differs from 'bert\.embeddings\.word_embeddings\.weight'/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('classic BERT (model_type bert, query/key/value, position embeddings) loads as BertForMaskedLM', () => {
  const d = tmp('classic');
  try {
    writeFileSync(join(d, 'config.json'), JSON.stringify({
      architectures: ['BertForMaskedLM'], model_type: 'bert', hidden_size: 8, num_attention_heads: 2,
      num_hidden_layers: 1, intermediate_size: 16, vocab_size: 16,
    }));
    const t = (shape: number[]) => ({ dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.25) });
    writeSafetensors(join(d, 'model.safetensors'), new Map([
      ['bert.embeddings.position_embeddings.weight', t([512, 8])],
      ['bert.encoder.layer.0.attention.self.query.weight', t([8, 8])],
      ['bert.encoder.layer.0.attention.self.key.weight', t([8, 8])],
    ]));
    // Strict by default: missing encoder/embedding weights are an error listing them.
    assert.throws(() => loadPretrained(d, { warn: () => {} }),
      /model\.safetensors: missing encoder\/embedding weights: .*bert\.encoder\.layer\.0\.attention\.self\.value\.weight.*--allow-missing-weights/);
    const warnings: string[] = [];
    const r = loadPretrained(d, { warn: (w) => warnings.push(w), allowMissingWeights: true });
    assert.equal(r.info.modelType, 'bert');
    assert.ok(r.model instanceof BertForMaskedLM);
    assert.equal(r.info.config.max_position_embeddings, 512);
    assert.ok(r.model.params.get('bert.encoder.layer.0.attention.self.key.weight').every((v) => v === 0.25));
    assert.ok(r.info.missing.includes('bert.encoder.layer.0.attention.self.value.weight'));
    assert.match(warnings.join('\n'), /missing keys \(randomly initialised\)/);
    assert.throws(() => fromPretrained(d, { strict: true, allowMissingWeights: true }), /missing keys/);
    // Even with a MosaicBERT-looking config, separate q/k/v weights are classic BERT.
    writeFileSync(join(d, 'config.json'), JSON.stringify({ model_type: 'bert', alibi_starting_size: 512, hidden_size: 8,
      num_attention_heads: 2, num_hidden_layers: 1, intermediate_size: 16, vocab_size: 16 }));
    assert.ok(fromPretrained(d, { ...quiet, allowMissingWeights: true }) instanceof BertForMaskedLM);
    writeFileSync(join(d, 'config.json'), JSON.stringify({ model_type: 'roberta' }));
    assert.throws(() => fromPretrained(d), /model_type 'roberta' is not supported/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('a MosaicBERT folder is recognised by auto_map or Wqkv keys even without alibi_starting_size', () => {
  const d = folderWith(tiny, ['model.safetensors']);
  try {
    const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    delete cfg.alibi_starting_size;
    writeFileSync(join(d, 'config.json'), JSON.stringify(cfg));
    assert.ok(fromPretrained(d, { strict: true }) instanceof MosaicBertForMaskedLM);  // Wqkv keys
    cfg.auto_map = { AutoConfig: 'configuration_bert.BertConfig', AutoModelForMaskedLM: 'bert_layers.BertForMaskedLM' };
    writeFileSync(join(d, 'config.json'), JSON.stringify(cfg));
    assert.ok(fromPretrained(d, { strict: true }) instanceof MosaicBertForMaskedLM);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('classification: a fine-tuned folder reproduces expected_cls3; an MLM folder gets a fresh head (named)', () => {
  const d = folderWith(tiny, []);
  try {
    const cfg = JSON.parse(readFileSync(join(tiny, 'config.json'), 'utf8'));
    cfg.architectures = ['BertForSequenceClassification'];
    cfg.id2label = { 0: 'a', 1: 'b', 2: 'c' };
    writeFileSync(join(d, 'config.json'), JSON.stringify(cfg));
    const sd = new Map([...readSafetensors(join(tiny, 'model.safetensors')).tensors].filter(([k]) => k.startsWith('bert.')));
    for (const [k, v] of readSafetensors(join(tiny, 'cls3_heads.safetensors')).tensors) sd.set(k, v);
    writeFileSync(join(d, 'pytorch_model.bin'), writeTorchStateDict(sd));
    const m = fromPretrained(d, { strict: true });
    assert.ok(m instanceof MosaicBertForSequenceClassification);
    assert.equal(m.config.num_labels, 3);
    const exp = readSafetensors(join(tiny, 'expected_cls3.safetensors')).tensors;
    const { labels: _l, ...batch } = fixtureBatch(tiny);
    const out = m.forward(batch);
    assertClose(out.logits, exp.get('logits')!.data, 1e-4, 0, 'cls3 logits');
    assertClose(out.pooled, exp.get('pooled_output')!.data, 1e-4, 0, 'cls3 pooled');

    const warnings: string[] = [];
    const r = loadPretrained(tiny, { head: 'classification', numLabels: 2, warn: (w) => warnings.push(w) });
    assert.ok(r.model instanceof MosaicBertForSequenceClassification);
    assert.deepEqual(r.info.missing, ['bert.pooler.dense.weight', 'bert.pooler.dense.bias', 'classifier.weight', 'classifier.bias']);
    assert.ok(r.info.unexpected.includes('cls.predictions.decoder.bias'));
    // From the .bin, the stored tied decoder is unexpected for a classification model too.
    const rb = loadPretrained(tiny, { head: 'classification', format: 'bin', warn: () => { /* checked above */ } });
    assert.ok(rb.info.unexpected.includes('cls.predictions.decoder.weight'));
    assert.match(warnings[0], /bert\.pooler\.dense\.weight/);
    // The new head is randomly initialised (not zero), the encoder loaded.
    assert.ok(r.model.params.get('classifier.weight').some((x) => x !== 0));
    assert.ok(sameF32(r.model.params.get('bert.encoder.layer.1.mlp.wo.weight'), m.params.get('bert.encoder.layer.1.mlp.wo.weight')));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('savePretrained -> fromPretrained round trip is identical; the folder has the HF layout', () => {
  const src = fromPretrained(tiny, quiet) as MosaicBertForMaskedLM;
  const d = tmp('save');
  try {
    const written = savePretrained(src, d);
    for (const f of ['model.safetensors', 'config.json', 'vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json']) {
      assert.ok(written.includes(join(d, f)) && existsSync(join(d, f)), f);
    }
    assert.deepEqual(readdirSync(d).filter((f) => f.includes('.tmp-')), []);
    const r = loadPretrained(d, { strict: true });
    assert.ok(r.model instanceof MosaicBertForMaskedLM);
    assert.ok(sameF32(r.model.params.data, src.params.data));
    assertReproducesFixture(r.model, tiny, 'round trip');
    const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    assert.deepEqual(cfg.architectures, ['BertForMaskedLM']);
    assert.equal(cfg.model_type, 'bert');
    assert.ok(Number.isInteger(cfg.alibi_starting_size));
    assert.deepEqual(cfg.auto_map, { AutoConfig: 'configuration_bert.BertConfig', AutoModelForMaskedLM: 'bert_layers.BertForMaskedLM' });
    const orig = JSON.parse(readFileSync(join(tiny, 'config.json'), 'utf8'));
    for (const [k, v] of Object.entries(orig)) assert.deepEqual(cfg[k], v, `config field ${k}`);
    const { tensors, metadata } = parseSafetensors(readFileSync(join(d, 'model.safetensors')));
    assert.deepEqual(metadata, { format: 'pt' });
    assert.equal(tensors.has('cls.predictions.decoder.weight'), false);
    assert.equal(tensors.size, src.params.specs.length);
    const vocab = readFileSync(join(d, 'vocab.txt'), 'utf8').split('\n').filter((l) => l.length);
    assert.equal(vocab.length, 30522);
    assert.equal(JSON.parse(readFileSync(join(d, 'tokenizer_config.json'), 'utf8')).do_lower_case, true);
    assert.equal(JSON.parse(readFileSync(join(d, 'special_tokens_map.json'), 'utf8')).mask_token, '[MASK]');

    // Classification: num_labels / id2label survive; tokenizerDir copies the given files.
    const tokDir = tmp('tok');
    writeFileSync(join(tokDir, 'vocab.txt'), '[PAD]\n[UNK]\nhello\n');
    writeFileSync(join(tokDir, 'tokenizer_config.json'), '{"do_lower_case": false}');
    const cm = new MosaicBertForSequenceClassification(configFromDict({ ...orig, num_labels: 3, id2label: { 0: 'x', 1: 'y', 2: 'z' } }), { initSeed: 3 });
    const d2 = join(d, 'cls');
    savePretrained(cm, d2, { tokenizerDir: tokDir });
    const back = loadPretrained(d2, { strict: true });
    assert.ok(back.model instanceof MosaicBertForSequenceClassification);
    assert.equal(back.model.config.num_labels, 3);
    assert.deepEqual(back.model.config.id2label, { 0: 'x', 1: 'y', 2: 'z' });
    assert.ok(sameF32(back.model.params.data, cm.params.data));
    assert.equal(readFileSync(join(d2, 'vocab.txt'), 'utf8'), '[PAD]\n[UNK]\nhello\n');
    assert.equal(JSON.parse(readFileSync(join(d2, 'tokenizer_config.json'), 'utf8')).do_lower_case, false);
    assert.ok(existsSync(join(d2, 'special_tokens_map.json')));
    assert.deepEqual(hfConfigDict(cm.config, 'classification').architectures, ['BertForSequenceClassification']);
    rmSync(tokDir, { recursive: true, force: true });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

function torchPython(): boolean {
  return existsSync('/usr/bin/python3') && spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}
const torchOk = torchPython();
const refDir = shared ? join(shared, 'reference', 'torch') : null;

test('the PyTorch reference loads our savePretrained folder and computes the same logits (1e-4)',
  { skip: (!torchOk || !refDir) && 'no /usr/bin/python3 with torch (or no ../shared/reference/torch)' }, () => {
    const cfg = configFromDict({
      vocab_size: 96, hidden_size: 48, num_hidden_layers: 2, num_attention_heads: 6, intermediate_size: 80,
      hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, alibi_starting_size: 16, layer_norm_eps: 1e-6,
    });
    const r = rng(11);
    const B = 3, S = 20, lengths = [20, 13, 17];
    const ids = randint(B * S, 5, 96, r), mask = new Int32Array(B * S), tt = new Int32Array(B * S), labels = new Int32Array(B * S).fill(-100);
    for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) {
      const p = b * S + s;
      if (s < lengths[b]) { mask[p] = 1; tt[p] = s > lengths[b] / 2 ? 1 : 0; if (s > 0 && r() < 0.3) labels[p] = 5 + Math.floor(r() * 91); }
      else ids[p] = 0;
    }
    const rows = (a: Int32Array) => Array.from({ length: B }, (_, b) => [...a.subarray(b * S, (b + 1) * S)]);
    const d = tmp('pyref');
    try {
      writeFileSync(join(d, 'inputs.json'), JSON.stringify({ input_ids: rows(ids), attention_mask: rows(mask), token_type_ids: rows(tt), labels: rows(labels) }));
      const run = (model: MosaicBertForMaskedLM | MosaicBertForSequenceClassification, sub: string) => {
        savePretrained(model, join(d, sub), { tokenizer: false });
        const p = spawnSync('/usr/bin/python3', [join(root, 'test', 'interop', 'ref_roundtrip.py'), refDir!, join(d, sub),
          join(d, 'inputs.json'), join(d, `${sub}.out.safetensors`)], { encoding: 'utf8' });
        assert.equal(p.status, 0, p.stderr + p.stdout);
        return readSafetensors(join(d, `${sub}.out.safetensors`)).tensors;
      };
      const batch = { batch: B, seqlen: S, input_ids: ids, attention_mask: mask, token_type_ids: tt };
      const mlm = new MosaicBertForMaskedLM(cfg, { initSeed: 5 });
      const py = run(mlm, 'mlm');
      const V = cfg.vocab_size;
      const nl = mlm.forward(batch);
      const full = py.get('full_logits')!.data;
      const pyRows = new Float32Array(nl.positions.length * V);
      nl.positions.forEach((p, i) => pyRows.set(full.subarray(p * V, (p + 1) * V), i * V));
      assertClose(nl.logits, pyRows, 1e-4, 0, 'no-label logits vs reference');
      const wl = mlm.forward({ ...batch, labels });
      assertClose(wl.logits, py.get('masked_logits')!.data, 1e-4, 0, 'masked logits vs reference');
      const pl = py.get('loss')!.data[0];
      assert.ok(Math.abs(wl.loss! - pl) <= 1e-5 * Math.abs(pl), `loss ${wl.loss} vs reference ${pl}`);

      const cls = new MosaicBertForSequenceClassification({ ...cfg, num_labels: 3 }, { initSeed: 6 });
      const pc = run(cls, 'cls');
      const co = cls.forward(batch);
      assertClose(co.logits, pc.get('logits')!.data, 1e-4, 0, 'classification logits vs reference');
      assertClose(co.pooled, pc.get('pooled_output')!.data, 1e-4, 0, 'pooled output vs reference');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

test('readTorchStateDict and readSafetensors agree on a savePretrained folder re-saved by torch', { skip: !torchOk && 'no torch' }, () => {
  const d = tmp('resave');
  try {
    savePretrained(fromPretrained(tiny, quiet), d, { tokenizer: false });
    const script = `
import sys; sys.path.insert(0, sys.argv[2])
import torch
from st_io import load_safetensors
sd, _ = load_safetensors(sys.argv[1] + '/model.safetensors')
sd['cls.predictions.decoder.weight'] = sd['bert.embeddings.word_embeddings.weight']
torch.save(sd, sys.argv[1] + '/pytorch_model.bin')
`;
    const p = spawnSync('/usr/bin/python3', ['-c', script, d, refDir!], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    const a = readTorchStateDict(join(d, 'pytorch_model.bin')), b = readSafetensors(join(d, 'model.safetensors')).tensors;
    for (const [k, v] of b) assert.ok(sameF32(a.get(k)!.data as Float32Array, v.data as Float32Array), k);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
