/**
 * Inference backends through fromPretrained / pipeline `dtype`: fp32 pre-packed weights give the same hidden states
 * as the trainable dense path (bit-identical kernels); a pruned model runs the sparse kernels automatically and
 * equals dense-with-zeros within fp32 tolerance; q8 stays close to fp32 (INT8 weights per channel, activations per
 * token) and training refuses to run on prepared weights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromPretrained, savePretrained } from '../../src/interop/pretrained.js';
import { configFromDict } from '../../src/model/config.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { unpadBatch } from '../../src/model/batch.js';
import { pipeline } from '../../src/pipelines/index.js';

const cfg = configFromDict({ vocab_size: 30528, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128 });
const u = unpadBatch({ batch: 2, seqlen: 9, input_ids: Int32Array.from({ length: 18 }, (_, i) => 1000 + (i * 37) % 900),
  attention_mask: Int32Array.from({ length: 18 }, (_, i) => (i < 9 || i < 15 ? 1 : 0)) });
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('fp32 pre-packed backends are bit-identical to the dense path; training refuses prepared weights', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mb-dtype-'));
  savePretrained(new MosaicBertForMaskedLM(cfg, { initSeed: 5 }), dir, { tokenizer: false });
  const dense = fromPretrained(dir, { head: 'mlm' });
  const packed = fromPretrained(dir, { head: 'mlm', dtype: 'fp32' });
  assert.ok(packed.encoder.linears().every((l) => l.backend?.kind === 'dense-packed'), packed.encoder.linears().map((l) => l.backend?.kind).join());
  assert.deepEqual([...packed.encode(u)], [...dense.encode(u)]);
  packed.forward({ batch: 1, seqlen: 3, input_ids: Int32Array.from([101, 1000, 102]), labels: Int32Array.from([-100, 1000, -100]) });
  assert.throws(() => packed.backward(), /backward with an inference backend \(dense-packed\) set/);
  packed.clearInference();
  packed.backward();
});

test('a pruned model runs the sparse kernels automatically (equal to dense-with-zeros); q8 is close to fp32', async () => {
  const m = new MosaicBertForMaskedLM(cfg, { initSeed: 6 });
  // 90% of each encoder weight zeroed in whole 1x4 groups (the oBERT block4 pattern).
  for (const l of m.encoder.linears()) {
    for (let g = 0; g < l.weight.length / 4; g++) if ((g * 2654435761 >>> 0) % 10 !== 0) l.weight.fill(0, 4 * g, 4 * g + 4);
  }
  assert.ok(Math.abs(m.encoderSparsity() - 0.9) < 0.01, `sparsity ${m.encoderSparsity()}`);
  const dir = mkdtempSync(join(tmpdir(), 'mb-sparse-'));
  savePretrained(m, dir);
  const ref = fromPretrained(dir, { head: 'mlm' }).encode(u).slice();
  const sparse = fromPretrained(dir, { head: 'mlm', dtype: 'fp32' });
  assert.ok(sparse.encoder.linears().every((l) => l.backend && l.backend.kind !== 'dense-packed'),
    sparse.encoder.linears().map((l) => l.backend?.kind).join());
  // Same products in another summation order: fp32 rounding only (values O(1) after LayerNorm).
  assert.ok(maxDiff(sparse.encode(u), ref) < 1e-4, `sparse vs dense ${maxDiff(sparse.encode(u), ref)}`);
  const q8 = fromPretrained(dir, { head: 'mlm', dtype: 'q8' });
  assert.ok(q8.encoder.linears().every((l) => l.backend?.kind.startsWith('q8')), q8.encoder.linears().map((l) => l.backend?.kind).join());
  const dq = maxDiff(q8.encode(u), ref);
  assert.ok(dq > 0 && dq < 0.1, `q8 vs fp32 max |diff| ${dq}`);
  // The pipeline option reaches the same backends.
  const fe = await pipeline('feature-extraction', dir, { dtype: 'q8' });
  assert.ok(fe.model.encoder.linears().every((l) => l.backend?.kind.startsWith('q8')));
});

test('quantize: an INT8 folder round-trips through save and load; its outputs equal the model it came from', () => {
  const m = new MosaicBertForMaskedLM(cfg, { initSeed: 7 });
  const dir = mkdtempSync(join(tmpdir(), 'mb-q8-')), qdir = join(dir, 'q8');
  savePretrained(m, join(dir, 'fp32'));
  const q1 = fromPretrained(join(dir, 'fp32'), { head: 'mlm', dtype: 'q8' });
  savePretrained(fromPretrained(join(dir, 'fp32'), { head: 'mlm' }), qdir, { dtype: 'q8' });
  const cfgJson = JSON.parse(readFileSync(join(qdir, 'config.json'), 'utf8'));
  assert.equal(cfgJson.quantization_config.quant_method, 'mosaicbert-q8');
  assert.equal(cfgJson.quantization_config.modules.length, 8);
  const t = readSafetensors(join(qdir, 'model.safetensors')).tensors;
  assert.equal(t.get('bert.encoder.layer.0.mlp.wo.weight')!.dtype, 'I8');
  assert.equal(t.get('bert.encoder.layer.0.mlp.wo.weight_scale')!.data.length, 64);
  const q2 = fromPretrained(qdir, { head: 'mlm' });
  assert.ok(q2.encoder.linears().every((l) => l.backend?.kind === 'q8-dense'));
  // Quantizing at load and loading a quantized folder run the same int8 values: identical outputs.
  assert.deepEqual([...q2.encode(u)], [...q1.encode(u)]);
  // A damaged folder: an int8 weight without its scale is an error naming it.
  t.delete('bert.encoder.layer.1.mlp.wo.weight_scale');
  writeSafetensors(join(qdir, 'model.safetensors'), t);
  assert.throws(() => fromPretrained(qdir, { head: 'mlm' }), /int8 tensor 'bert\.encoder\.layer\.1\.mlp\.wo\.weight' needs a float32 'bert\.encoder\.layer\.1\.mlp\.wo\.weight_scale'/);
});

test('a pipeline on an INT8 folder keeps its int8 weights by default', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mb-q8p-'));
  savePretrained(new MosaicBertForMaskedLM(cfg, { initSeed: 8 }), dir, { dtype: 'q8' });
  const fe = await pipeline('feature-extraction', dir);
  assert.ok(fe.model.encoder.linears().every((l) => l.backend?.kind === 'q8-dense'));
});
