/**
 * Classic BERT (bert-base-uncased-shaped folders: HF key names, learned positions, GELU FFN) through the same
 * pipelines as MosaicBERT: fill-mask and text-classification results equal the models' own forward.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromPretrained, savePretrained } from '../../src/interop/pretrained.js';
import { bertConfigFromDict } from '../../src/model/bert_config.js';
import { BertForMaskedLM } from '../../src/model/mlm.js';
import { BertForSequenceClassification } from '../../src/model/classification.js';
import { pipeline, type ClassificationResult, type FillMaskResult } from '../../src/pipelines/index.js';
import { BertTokenizer } from '../../src/tokenizer/index.js';

const tiny = { vocab_size: 30522, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32,
  max_position_embeddings: 64, initializer_range: 0.2 };
const quiet = { load: { warn: () => {} } };

test('fill-mask on a classic BERT folder: top-k of the model\'s own softmax at the [MASK] row', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mb-bert-mlm-'));
  savePretrained(new BertForMaskedLM(bertConfigFromDict(tiny), { initSeed: 7 }), dir);
  const unmask = await pipeline('fill-mask', dir, quiet);
  assert.equal(unmask.model.modelType, 'bert');
  const text = 'paris is the [MASK] of france.';
  const out = await unmask(text, { top_k: 3 }) as FillMaskResult[];
  assert.equal(out.length, 3);
  // The same through the model's forward on the tokenized input.
  const tok = await BertTokenizer.bertBaseUncased();
  const e = await tok.encode(text);
  const S = e.input_ids.length, at = e.input_ids.indexOf(tok.mask_token_id);
  const m = fromPretrained(dir, { head: 'mlm', warn: () => {} });
  const lg = m.forward({ batch: 1, seqlen: S, input_ids: Int32Array.from(e.input_ids) }).logits.subarray(at * 30522, (at + 1) * 30522);
  const max = Math.max(...lg);
  let z = 0;
  for (const v of lg) z += Math.exp(v - max);
  const best = [...lg.keys()].sort((a, b) => lg[b] - lg[a] || a - b).slice(0, 3);
  assert.deepEqual(out.map((r) => r.token), best);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(out[i].score - Math.exp(lg[best[i]] - max) / z) < 1e-6);
});

test('text-classification on a classic BERT folder: id2label and the model forward\'s softmax; batch == single', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mb-bert-cls-'));
  savePretrained(new BertForSequenceClassification(bertConfigFromDict({ ...tiny, num_labels: 2,
    id2label: { 0: 'neg', 1: 'pos' }, label2id: { neg: 0, pos: 1 } }), { initSeed: 8 }), dir);
  const clf = await pipeline('text-classification', dir, quiet);
  const texts = ['a fine film.', 'dull, slow and far too long for what it has to say.'];
  const batch = await clf(texts, { top_k: null }) as ClassificationResult[][];
  const tok = await BertTokenizer.bertBaseUncased();
  const m = fromPretrained(dir, { head: 'classification', warn: () => {} });
  for (let i = 0; i < texts.length; i++) {
    const single = await clf(texts[i], { top_k: null }) as unknown as ClassificationResult[];
    assert.deepEqual(single, batch[i]);
    const e = await tok.encode(texts[i]);
    const lg = m.forward({ batch: 1, seqlen: e.input_ids.length, input_ids: Int32Array.from(e.input_ids) }).logits;
    const p1 = 1 / (1 + Math.exp(lg[0] - lg[1]));
    const pos = batch[i].find((r) => r.label === 'pos')!;
    assert.ok(Math.abs(pos.score - p1) < 1e-6, `${pos.score} vs ${p1}`);
  }
});
