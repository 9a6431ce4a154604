import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromDict } from '../../src/model/config.js';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { fromPretrained, savePretrained } from '../../src/interop/pretrained.js';
import { finetune, type FinetuneResult } from '../../src/glue/finetune.js';
import { formatGlueTable, protocolDeviations, taskRow } from '../../src/glue/suite.js';

const GLUE = '../shared/data/glue';
const skip = existsSync(join(GLUE, 'SST-2/train.tsv')) && existsSync(join(GLUE, 'STS-B/train.tsv')) ? false : 'no ../shared GLUE data';

function tinyModelDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'glue-tiny-'));
  const cfg = configFromDict({ hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64 });
  savePretrained(new MosaicBertForMaskedLM(cfg, { initSeed: 3 }), join(dir, 'pretrained'));
  return dir;
}

test('smoke fine-tune SST-2 and STS-B on 64 examples: metrics JSON and a loadable model', { skip }, async () => {
  const root = tinyModelDir();
  const results: FinetuneResult[] = [];
  for (const task of ['sst2', 'stsb']) {
    const out = join(root, 'runs', task, 'seed19');
    const events: string[] = [];
    const r = await finetune({ task, model: join(root, 'pretrained'), dataDir: GLUE, outDir: out, maxSteps: 4,
      maxTrainExamples: 64, maxEvalExamples: 64, hparams: { eval_interval: 2, batch_size: 16 }, mnliCheckpoint: null,
      onEvent: (e) => events.push(e.type), warn: () => {} });
    results.push(r);
    assert.equal(r.total_steps, 4);
    assert.equal(r.steps_per_epoch, 4);
    assert.equal(r.hyperparameters.warmup_steps, 0);
    assert.deepEqual(r.evals.map((e) => e.step), [2, 4]);
    assert.equal(events.filter((e) => e === 'step').length, 4);
    const j = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as FinetuneResult;
    assert.equal(j.task, task);
    assert.equal(j.final.step, 4);
    const m = j.final.metrics.dev;
    if (task === 'sst2') assert.ok(m.accuracy >= 0 && m.accuracy <= 1);
    else assert.ok(Number.isFinite(m.spearman) && Math.abs(m.spearman) <= 1);
    assert.ok(j.wall_time_s > 0);
    const loaded = fromPretrained(join(out, 'model'), { head: 'classification', warn: () => {} });
    assert.equal(loaded.config.num_labels, task === 'stsb' ? 1 : 2);
    assert.equal(loaded.config.hidden_size, 32);
    // the saved weights are the fine-tuned ones: same dev predictions as the final eval
    assert.equal(loaded.config.attention_probs_dropout_prob, 0);
  }
  const rows = [taskRow('sst2', [results[0]]), taskRow('stsb', [results[1]])];
  const md = formatGlueTable({ model: 'tiny', random_init: false, rows,
    average: (results[0].final.score + results[1].final.score) / 2, skipped: {}, wall_time_s: 61,
    deviations: protocolDeviations({ seeds: [19], maxTrainExamples: 16 }, rows) }, 'md');
  assert.match(md, /\| SST-2 \| STS-B \| Avg \|/);
  assert.match(md, /departures from the reference protocol: STS-B started from the model, not from an MNLI checkpoint; seeds 19 for every task .*; first 16 train examples of each task/);
  assert.match(md, /wall time 1m01s/);
  assert.match(md, /- SST-2: seed \d+ accuracy [\d.]+ \(\d+m\d\ds\)/);
});

test('round 2 starts from the MNLI checkpoint found under the output root (classifier re-initialised, pooler kept)', { skip }, async () => {
  const root = tinyModelDir();
  // Stand-in for an MNLI run: a 3-label classifier saved where the suite puts MNLI.
  const mnli = await finetune({ task: 'sst2', model: join(root, 'pretrained'), dataDir: GLUE, outDir: join(root, 'runs', 'x'),
    maxSteps: 1, maxTrainExamples: 16, maxEvalExamples: 16, warn: () => {} });
  const m = fromPretrained(mnli.model_dir!, { head: 'classification', warn: () => {} });
  const mnliDir = join(root, 'runs', 'mnli', 'seed19', 'model');
  savePretrained(m, mnliDir);
  const r = await finetune({ task: 'mrpc', model: join(root, 'pretrained'), dataDir: GLUE, outDir: join(root, 'runs', 'mrpc', 'seed19'),
    maxSteps: 1, maxTrainExamples: 8, maxEvalExamples: 8, hparams: { lr: 0, weight_decay: 0 }, warn: () => {} });
  assert.equal(r.init, 'mnli');
  assert.equal(r.init_from, mnliDir);
  const after = fromPretrained(r.model_dir!, { head: 'classification', warn: () => {} });
  // lr 0, no decay: parameters unchanged, so the pooler equals MNLI's while the classifier was re-drawn.
  assert.deepEqual([...after.params.get('bert.pooler.dense.weight')], [...m.params.get('bert.pooler.dense.weight')]);
  assert.notDeepEqual([...after.params.get('classifier.weight')], [...m.params.get('classifier.weight')]);
});

test('loadClassifier from a pretraining checkpoint folder and from a preset', async () => {
  const { saveCheckpoint } = await import('../../src/train/checkpoint.js');
  const { DecoupledAdamW } = await import('../../src/train/decoupled_adamw.js');
  const { loadClassifier } = await import('../../src/glue/finetune.js');
  const dir = mkdtempSync(join(tmpdir(), 'glue-ck-'));
  const cfg = configFromDict({ hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64 });
  const mlm = new MosaicBertForMaskedLM(cfg, { initSeed: 5 });
  const opt = new DecoupledAdamW(mlm.params, { lr: 1e-3 }, mlm.k);
  saveCheckpoint(join(dir, 'checkpoints'), mlm.params, opt, { step: 7, samples: 0, tokens: 0, optimizer_t: 0,
    rng: { seed: 1, dropout_counter_base: 0 }, loader: {} as never, total: { value: 10, unit: 'ba' }, elapsed_s: 0 }, { model: cfg });
  const r = loadClassifier(dir, { numLabels: 3, seed: 19 });
  assert.match(r.dir, /checkpoints\/ba7$/);
  assert.deepEqual(r.initialised.sort(), ['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'classifier.bias', 'classifier.weight']);
  assert.deepEqual([...r.model.params.get('bert.encoder.layer.1.mlp.wo.weight')], [...mlm.params.get('bert.encoder.layer.1.mlp.wo.weight')]);
  assert.equal(r.model.config.classifier_dropout, 0.1);
  const p = loadClassifier('preset:mosaic-bert-tiny', { numLabels: 2, seed: 19 });
  assert.equal(p.model.config.hidden_size, 128);
  assert.ok(p.initialised.length > 10);
});
