/**
 * ONNX export parity: the exported encoder run by ONNX Runtime equals our encoder on the valid positions (and is
 * exactly zero on padding), on a tiny model with mixed lengths and token types. Skips when onnxruntime-node is not
 * installed (it is a dev dependency of the benchmark only).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { MOSAIC_BERT_BASE, type MosaicBertConfig } from '../../src/model/config.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { padRows, unpadBatch, type PaddedBatch } from '../../src/model/batch.js';
import { exportEncoderOnnx } from '../../src/interop/onnx_export.js';
import { cpuSessionOptions, loadOnnxRuntime, onnxFeeds, runEncoderSession } from '../../src/interop/onnx/runtime.js';
import { fillNormal } from '../../src/model/init.js';
import { rng, randint } from '../helpers.js';

const ort = await loadOnnxRuntime();
const skip = ort ? false : 'onnxruntime-node is not installed';

const TINY: MosaicBertConfig = {
  ...MOSAIC_BERT_BASE, vocab_size: 96, hidden_size: 48, num_hidden_layers: 3, num_attention_heads: 6,
  intermediate_size: 80, layer_norm_eps: 1e-12,
};

function batchOf(lengths: number[], S: number, V: number, seed: number): PaddedBatch {
  const r = rng(seed), B = lengths.length;
  const ids = randint(B * S, 1, V, r), tt = randint(B * S, 0, 2, r), mask = new Int32Array(B * S);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      if (s < lengths[b]) mask[b * S + s] = 1; else { ids[b * S + s] = 0; tt[b * S + s] = 0; }
    }
  }
  return { batch: B, seqlen: S, input_ids: ids, attention_mask: mask, token_type_ids: tt };
}

test('ONNX export: ORT output equals our encoder on valid positions', { skip }, async () => {
  const model = new MosaicBertForMaskedLM({ ...TINY }, { initSeed: 5 });
  // Larger weights than the N(0, 0.02) init, non-zero biases and non-trivial LayerNorm parameters, so attention is
  // not uniform and a swapped or transposed tensor would show.
  for (const s of model.params.specs) {
    const v = model.params.get(s.name);
    fillNormal(v, s.shape.length === 1 ? 0.2 : 0.15, 11, s.offset);
    if (/(LayerNorm|layernorm)\.weight$/.test(s.name)) for (let i = 0; i < s.size; i++) v[i] += 1;
  }
  const bytes = exportEncoderOnnx(model.config, model.params);
  const session = await ort!.InferenceSession.create(bytes, cpuSessionOptions(1));
  try {
    for (const [lengths, S] of [[[17], 17], [[23, 9, 1, 23], 23], [[5, 31, 12], 32]] as Array<[number[], number]>) {
      const b = batchOf(lengths, S, TINY.vocab_size, 100 + S);
      const u = unpadBatch(b);
      const ours = padRows(model.encoder.forward(u, { training: false }).slice(), u, TINY.hidden_size);
      const theirs = await runEncoderSession(session, onnxFeeds(ort!, b, TINY.num_attention_heads));
      assert.equal(theirs.length, ours.length);
      let maxDiff = 0, maxPad = 0;
      for (let p = 0; p < b.batch * S; p++) {
        const valid = b.attention_mask![p] === 1;
        for (let c = 0; c < TINY.hidden_size; c++) {
          const i = p * TINY.hidden_size + c;
          if (valid) maxDiff = Math.max(maxDiff, Math.abs(ours[i] - theirs[i]));
          else maxPad = Math.max(maxPad, Math.abs(theirs[i]));
        }
      }
      assert.ok(maxDiff < 1e-3, `lengths ${lengths} S=${S}: max |ours - ORT| = ${maxDiff}`);
      assert.equal(maxPad, 0, 'padded positions are exactly zero');
    }
  } finally {
    await session.release();
  }
});
