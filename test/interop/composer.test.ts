/**
 * Composer checkpoints (`.pt` written by Composer's Trainer, read with the restricted unpickler) and strict loading
 * (a missing encoder/embedding weight is an error listing the keys unless allowMissingWeights; heads may be
 * initialised with a warning).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fromPretrained, loadPretrained, savePretrained } from '../../src/interop/pretrained.js';
import { composerCheckpointPath, readComposerCheckpoint } from '../../src/interop/composer.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { MosaicBertForSequenceClassification } from '../../src/model/classification.js';
import { configFromDict } from '../../src/model/config.js';
import { stateDict } from '../../src/model/state_dict.js';
import { writeComposerCheckpoint } from './torch_writer.js';
import { assertBitEqual } from '../helpers.js';
import { assertUserError, runCli, tmp } from '../reliability/helpers.js';

const tiny = { vocab_size: 30528, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32 };
const dir = tmp('composer');
after(() => rmSync(dir, { recursive: true, force: true }));
const source = new MosaicBertForMaskedLM(configFromDict(tiny), { initSeed: 9 });
const hf = join(dir, 'hf');
savePretrained(source, hf);
const quiet = { warn: () => {} };

function composerFolder(name: string, opts: Parameters<typeof writeComposerCheckpoint>[1] = {}, withConfig = true): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'ep0-ba20-rank0.pt'), writeComposerCheckpoint(stateDict(source.params), opts));
  if (withConfig) copyFileSync(join(hf, 'config.json'), join(d, 'config.json'));
  return d;
}

test('a Composer .pt (state.model, model. prefix) loads bit-identically, as a file or a folder holding one', () => {
  const d = composerFolder('ok');
  const pt = join(d, 'ep0-ba20-rank0.pt');
  assert.equal(composerCheckpointPath(d), pt);
  assert.equal(composerCheckpointPath(hf), null, 'an HF folder is not a Composer checkpoint');
  const w = readComposerCheckpoint(pt);
  assert.ok(w.tensors.has('bert.encoder.layer.0.attention.self.Wqkv.weight'), 'model. prefix stripped');
  assert.equal(w.config, null);
  for (const path of [pt, d]) {
    const { model, info } = loadPretrained(path, quiet);
    assert.ok(model instanceof MosaicBertForMaskedLM);
    assert.deepEqual(info.files, [pt]);
    assert.deepEqual(info.missing, []);
    for (const s of source.params.specs) assertBitEqual(model.params.get(s.name), source.params.get(s.name), s.name);
  }
  // --model accepts it too.
  const r = runCli(['fill-mask', '--model', pt, 'the [MASK] is here']);
  assert.equal(r.status, 0, r.stderr);
  const ref = runCli(['fill-mask', '--model', hf, 'the [MASK] is here']);
  assert.equal(r.stdout, ref.stdout, 'same predictions as the Hugging Face folder of the same weights');
});

test('Composer .pt config: config.json beside it, else the one Composer stored, else options, else an error naming the file', () => {
  const hfConfig = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8')) as Record<string, unknown>;
  const stored = composerFolder('stored-config', { hfConfig: { ...hfConfig, layer_norm_eps: 1e-12 } }, false);
  assert.deepEqual(readComposerCheckpoint(join(stored, 'ep0-ba20-rank0.pt')).config?.num_hidden_layers, 1);
  const fromStored = fromPretrained(stored, quiet);
  assert.equal(fromStored.config.hidden_size, 16);
  assert.equal(fromStored.config.layer_norm_eps, 1e-12, 'floats survive');
  assertBitEqual(fromStored.params.get('bert.encoder.layer.0.attention.self.Wqkv.weight'),
    source.params.get('bert.encoder.layer.0.attention.self.Wqkv.weight'), 'Wqkv');
  const d = composerFolder('nocfg', {}, false);
  const pt = join(d, 'ep0-ba20-rank0.pt');
  assert.throws(() => fromPretrained(pt, quiet), new RegExp(`${pt.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: a Composer checkpoint needs a config`));
  const m = fromPretrained(d, { ...quiet, config: tiny });
  assertBitEqual(m.params.get('bert.embeddings.word_embeddings.weight'), source.params.get('bert.embeddings.word_embeddings.weight'), 'emb');
  assertUserError(runCli(['embed', '--model', d, 'x']), /ep0-ba20-rank0\.pt: a Composer checkpoint needs a config: it stores none .*put a config\.json beside it/);
  // Two .pt files in one folder are ambiguous.
  writeFileSync(join(d, 'other.pt'), readFileSync(pt));
  assert.throws(() => fromPretrained(d, { ...quiet, config: tiny }), /several Composer checkpoints \(ep0-ba20-rank0\.pt, other\.pt\)/);
});

test('Composer .pt: code-running globals are refused by name; a file without state.model is named', () => {
  const evil = composerFolder('evil', { extraGlobal: ['os', 'system'] });
  assert.throws(() => fromPretrained(evil, quiet), /refusing to load global 'os\.system'.*nothing was executed/);
  const evil2 = composerFolder('evil2', { extraGlobal: ['builtins', 'eval'] });
  assert.throws(() => fromPretrained(evil2, quiet), /refusing to load global 'builtins\.eval'/);
  const nomodel = composerFolder('nomodel', { noModel: true });
  assert.throws(() => fromPretrained(nomodel, quiet), /ep0-ba20-rank0\.pt: not a Composer checkpoint \(no 'state' -> 'model' dict of weights; top-level keys: state, rng\)/);
});

test('strict loading: a missing encoder weight is an error listing it; --allow-missing-weights loads with a warning', () => {
  const d = join(dir, 'no-wqkv');
  mkdirSync(d);
  copyFileSync(join(hf, 'config.json'), join(d, 'config.json'));
  const t = readSafetensors(join(hf, 'model.safetensors')).tensors;
  t.delete('bert.encoder.layer.0.attention.self.Wqkv.weight');
  t.delete('bert.embeddings.LayerNorm.bias');
  writeSafetensors(join(d, 'model.safetensors'), t as Parameters<typeof writeSafetensors>[1]);
  const keysRe = /missing encoder\/embedding weights: bert\.embeddings\.LayerNorm\.bias, bert\.encoder\.layer\.0\.attention\.self\.Wqkv\.weight/;
  assert.throws(() => fromPretrained(d, quiet), keysRe);
  const r = runCli(['fill-mask', '--model', d, 'a [MASK]']);
  assertUserError(r, keysRe);
  assert.equal(r.stdout, '', 'nothing served');
  const warnings: string[] = [];
  const m = fromPretrained(d, { warn: (w) => warnings.push(w), allowMissingWeights: true });
  assert.ok(m instanceof MosaicBertForMaskedLM);
  assert.match(warnings.join('\n'), /missing keys \(randomly initialised\): .*Wqkv\.weight/);
  const ok = runCli(['fill-mask', '--model', d, '--allow-missing-weights', 'a [MASK]']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /missing keys \(randomly initialised\)/);
  // Heads may still be initialised (as Hugging Face does): an MLM folder as a classifier warns about the classifier.
  const hw: string[] = [];
  const c = fromPretrained(hf, { head: 'classification', numLabels: 2, warn: (w) => hw.push(w) });
  assert.ok(c instanceof MosaicBertForSequenceClassification);
  assert.match(hw.join('\n'), /missing keys \(randomly initialised\): .*classifier\.weight/);
  unlinkSync(join(d, 'model.safetensors'));
});

// Fine-tuning loads its encoder through loadClassifier, as strict as fromPretrained.
test('finetune: a --model folder missing an encoder weight is an error listing it', async () => {
  const { loadClassifier } = await import('../../src/glue/finetune.js');
  const d = join(dir, 'ft-no-wqkv');
  mkdirSync(d);
  copyFileSync(join(hf, 'config.json'), join(d, 'config.json'));
  const t = readSafetensors(join(hf, 'model.safetensors')).tensors;
  t.delete('bert.encoder.layer.0.attention.self.Wqkv.weight');
  writeSafetensors(join(d, 'model.safetensors'), t as Parameters<typeof writeSafetensors>[1]);
  assert.throws(() => loadClassifier(d, { numLabels: 2, seed: 1 }), /missing encoder\/embedding weights: bert\.encoder\.layer\.0\.attention\.self\.Wqkv\.weight/);
});
