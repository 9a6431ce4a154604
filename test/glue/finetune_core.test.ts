/**
 * Fine-tuning on the shared training step: classic BERT fine-tunes and saves HF key names; a resumed run is
 * bit-identical to an uninterrupted one (weights and evaluations); resuming with another seed is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromPretrained, loadPretrained, savePretrained } from '../../src/interop/pretrained.js';
import { bertConfigFromDict } from '../../src/model/bert_config.js';
import { configFromDict } from '../../src/model/config.js';
import { BertForMaskedLM, MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { finetune, type FinetuneResult } from '../../src/glue/finetune.js';
import { readRunLog } from '../../src/report/html.js';

const GLUE = '../shared/data/glue';
const skip = existsSync(join(GLUE, 'SST-2/train.tsv')) ? false : 'no ../shared GLUE data';
const small = { maxTrainExamples: 48, maxEvalExamples: 32, hparams: { eval_interval: 2, batch_size: 8 },
  mnliCheckpoint: null, warn: () => {} };

test('classic BERT fine-tunes through finetune(); the saved classifier keeps HF key names', { skip }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'mb-ft-bert-'));
  savePretrained(new BertForMaskedLM(bertConfigFromDict({ vocab_size: 30522, hidden_size: 16, num_hidden_layers: 2,
    num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 300 }), { initSeed: 2 }), join(root, 'mlm'));
  const r = await finetune({ task: 'sst2', model: join(root, 'mlm'), dataDir: GLUE, outDir: join(root, 'sst2'), maxSteps: 4, ...small });
  assert.equal(r.total_steps, 4);
  assert.ok(!existsSync(join(root, 'sst2', 'checkpoints')), 'checkpoints are removed once the model is saved');
  const { model, info } = loadPretrained(join(root, 'sst2', 'model'), { warn: () => {} });
  assert.equal(info.modelType, 'bert');
  assert.equal(info.head, 'classification');
  assert.ok(model.params.has('bert.encoder.layer.1.attention.self.key.weight'));
  assert.ok(model.params.has('bert.embeddings.position_embeddings.weight'));
  // the encoder was loaded (not re-initialised): its weights moved from the MLM's, by the 4 AdamW steps only
  const mlm = fromPretrained(join(root, 'mlm'), { warn: () => {} });
  const a = mlm.params.get('bert.embeddings.position_embeddings.weight'), b = model.params.get('bert.embeddings.position_embeddings.weight');
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  assert.ok(maxDiff > 0 && maxDiff < 4 * 2e-5 * 1.01 + 1e-7, `max |Δ| ${maxDiff}`);
});

test('fine-tuning resume: stop after step 2, resume, end bit-identical to an uninterrupted run; log and report', { skip }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'mb-ft-resume-'));
  const cfg = configFromDict({ vocab_size: 30528, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32,
    hidden_dropout_prob: 0.1 });
  savePretrained(new MosaicBertForMaskedLM(cfg, { initSeed: 4 }), join(root, 'mlm'));
  const base = { task: 'sst2', model: join(root, 'mlm'), dataDir: GLUE, maxSteps: 6, saveInterval: 2, keepCheckpoints: 3,
    shuffle: true, microbatchSize: 3, ...small };
  const a = await finetune({ ...base, outDir: join(root, 'a'), keepCheckpointsAtEnd: true });
  // An interrupted run: only its step-2 checkpoint survived.
  cpSync(join(root, 'a', 'checkpoints', 'ba2'), join(root, 'b', 'checkpoints', 'ba2'), { recursive: true });
  const b = await finetune({ ...base, outDir: join(root, 'b'), resume: true, keepCheckpointsAtEnd: true });
  const wa = readFileSync(join(root, 'a', 'model', 'model.safetensors')), wb = readFileSync(join(root, 'b', 'model', 'model.safetensors'));
  assert.ok(wa.equals(wb), 'final weights differ after resume');
  const strip = (r: FinetuneResult) => r.evals.map((e) => ({ step: e.step, metrics: e.metrics }));
  assert.deepEqual(strip(b), strip(a));
  const log = readRunLog(join(root, 'b', 'log.jsonl'));
  assert.deepEqual(log.steps.map((s) => s.step), [3, 4, 5, 6]);
  assert.ok(log.steps.every((s) => Number.isFinite(s.grad_norm) && s.grad_norm > 0));
  // A changed seed (another dropout stream and data order) is refused, naming the checkpoint and the setting.
  await assert.rejects(finetune({ ...base, outDir: join(root, 'b'), resume: true, seed: 7 }),
    /ba6: cannot resume exactly: seed \(Philox key of the dropout and masking streams\): checkpoint 19, now 7/);
  await assert.rejects(finetune({ ...base, outDir: join(root, 'b'), resume: true, microbatchSize: 4 }),
    /microbatch size \(dropout streams are numbered per microbatch\): checkpoint 3, now 4/);
});
