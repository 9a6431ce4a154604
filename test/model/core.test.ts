/**
 * The shared model core: one label convention for both architectures, the Linear's mask hook, and classic BERT in
 * inference mode (activation memory independent of depth, as MosaicBERT's).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bertConfigFromDict } from '../../src/model/bert_config.js';
import { configFromDict } from '../../src/model/config.js';
import { BertForMaskedLM, MosaicBertForMaskedLM, type MaskedLMModel } from '../../src/model/mlm.js';
import { unpadBatch } from '../../src/model/batch.js';

const mosaic = () => new MosaicBertForMaskedLM(configFromDict({ vocab_size: 64, hidden_size: 16, num_hidden_layers: 2,
  num_attention_heads: 2, intermediate_size: 32 }), { initSeed: 3 });
const classic = (layers = 2) => new BertForMaskedLM(bertConfigFromDict({ vocab_size: 64, hidden_size: 16,
  num_hidden_layers: layers, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16 }), { initSeed: 3 });

function batchWith(labels: number[]) {
  return { batch: 2, seqlen: 4, input_ids: Int32Array.from([2, 5, 6, 3, 2, 7, 3, 0]),
    attention_mask: Int32Array.from([1, 1, 1, 1, 1, 1, 1, 0]), labels: Int32Array.from(labels) };
}

for (const [name, make] of [['MosaicBERT', mosaic], ['classic BERT', classic]] as Array<[string, () => MaskedLMModel]>) {
  test(`${name}: -100 is ignored, label 0 is a target; other negatives, out-of-vocab and padding targets are errors naming the position`, () => {
    const m = make();
    const ok = m.forward(batchWith([-100, 5, -100, -100, -100, 0, -100, -100]));
    assert.equal(ok.numTargets, 2);
    assert.deepEqual([...ok.positions], [1, 5]);
    assert.throws(() => m.forward(batchWith([-100, -1, -100, -100, -100, -100, -100, -100])),
      /labels: -1 at position \(0, 1\) is not a token id in \[0, 64\) nor -100/);
    assert.throws(() => m.forward(batchWith([-100, 64, -100, -100, -100, -100, -100, -100])),
      /labels: 64 at position \(0, 1\)/);
    assert.throws(() => m.forward(batchWith([-100, -100, -100, -100, -100, -100, -100, 9])),
      /labels: position \(1, 3\) is padding but has a target label 9/);
  });
}

test('Linear mask: applyMask zeroes pruned weights and their gradients; a masked model still trains', () => {
  const m = mosaic();
  const lin = m.encoder.layers[0].ffn.input;
  assert.equal(lin.name, 'bert.encoder.layer.0.mlp.gated_layers');
  assert.equal(lin.sparsity(), 0);
  lin.mask = Uint8Array.from({ length: lin.weight.length }, (_, i) => (i % 4 === 0 ? 0 : 1));
  lin.applyMask();
  assert.equal(lin.sparsity(), 0.25);
  const G = m.zeroGrad();
  m.forward(batchWith([-100, 5, -100, -100, -100, 9, -100, -100]), { training: false });
  m.backward();
  const g = lin.gradWeight(G);
  assert.ok(g.some((v, i) => i % 4 === 0 && v !== 0), 'the pruned weights received gradient before masking');
  lin.applyMask(G);
  assert.ok(g.every((v, i) => i % 4 !== 0 || v === 0));
  assert.ok(lin.weight.every((v, i) => i % 4 !== 0 || v === 0));
  // The model exposes every projection once: 4 per layer plus the head's transform and tied decoder.
  assert.equal(m.linears().length, 4 * 2 + 2);
});

test('Linear backend: a forward backend replaces the dense forward; backward refuses to run on it', () => {
  const m = mosaic();
  const u = unpadBatch({ batch: 1, seqlen: 4, input_ids: Int32Array.from([2, 5, 6, 3]) });
  const ref = m.encode(u).slice();
  const lin = m.encoder.layers[1].attention.output;
  const dense = { kind: 'copy', outFeatures: lin.outFeatures, inFeatures: lin.inFeatures,
    forward: (X: Float32Array, rows: number, Y: Float32Array) => {
      for (let r = 0; r < rows; r++) for (let o = 0; o < lin.outFeatures; o++) {
        let s = 0;
        for (let i = 0; i < lin.inFeatures; i++) s += X[r * lin.inFeatures + i] * lin.weight[o * lin.inFeatures + i];
        Y[r * lin.outFeatures + o] = s + lin.bias![o];
      }
    } };
  lin.backend = dense;
  const viaBackend = m.encode(u);
  for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(ref[i] - viaBackend[i]) < 1e-4, `row value ${i}`);
  lin.backend = { ...dense, forward: (_X, rows, Y) => Y.fill(0, 0, rows * lin.outFeatures) };
  assert.notDeepEqual([...m.encode(u)], [...ref]);
  m.forward({ ...u, batch: 1, seqlen: 4, input_ids: Int32Array.from([2, 5, 6, 3]), labels: Int32Array.from([-100, 5, -100, -100]) });
  assert.throws(() => m.backward(), /attention\.output\.dense: backward with an inference backend \(copy\) set/);
});

test('classic BERT honours inference mode: activation memory does not grow with depth, results identical', () => {
  const u = unpadBatch({ batch: 2, seqlen: 12, input_ids: Int32Array.from({ length: 24 }, (_, i) => 2 + (i * 7) % 60) });
  const bytes: number[] = [];
  for (const L of [2, 6]) {
    const a = classic(L), b = classic(L);
    const ha = a.encoder.forward(u, { training: false }).slice();
    const hb = b.encode(u, { training: false, inference: true });
    assert.deepEqual([...hb], [...ha]);
    assert.throws(() => b.encoder.backward(hb.slice(), b.zeroGrad()), /inference mode/);
    bytes.push(b.activationBytes());
  }
  assert.equal(bytes[0], bytes[1], `inference activation bytes at 2 and 6 layers: ${bytes}`);
});
