/**
 * evaluateTask: on SST-2 dev lines it equals finetune.ts's `evaluate` called directly on the same encodings; a
 * custom dev file maps its labels by the model's id2label; a model whose labels do not fit the task is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromDict } from '../../src/model/config.js';
import { MosaicBertForSequenceClassification } from '../../src/model/classification.js';
import { BertTokenizer } from '../../src/tokenizer/index.js';
import { encodeExamples, evaluate } from '../../src/glue/finetune.js';
import { evaluateTask } from '../../src/glue/evaluate_task.js';
import { readGlueSplit } from '../../src/glue/tasks.js';

const GLUE = '../shared/data/glue';
const DEV = join(GLUE, 'SST-2', 'dev.tsv');
const skip = existsSync(DEV) ? false : 'no ../shared GLUE data';

function classifier(id2label: Record<string, string>, seed = 5) {
  return new MosaicBertForSequenceClassification(configFromDict({ hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2,
    intermediate_size: 64, id2label }), { initSeed: seed });
}

test('evaluateTask on SST-2 dev lines equals evaluate() on the same encodings', { skip }, async () => {
  const model = classifier({ 0: 'negative', 1: 'positive' }), tok = await BertTokenizer.bertBaseUncased();
  const r = await evaluateTask(model, tok, { task: 'SST-2', dataDir: GLUE, maxExamples: 40, batchSize: 16 });
  const ex = readGlueSplit('sst2', DEV).slice(0, 40);
  const direct = evaluate(model, await encodeExamples(tok, ex, 256), ex.map((e) => e.label), ['accuracy'], 16);
  assert.deepEqual(r.metrics, { dev: direct });
  assert.deepEqual(r.examples, { dev: 40 });
  assert.equal(r.score, direct.accuracy);
  assert.equal(r.task, 'sst2');
  // The progress callback sees every forward and changes nothing.
  const seen: Array<[string, number, number]> = [];
  const again = await evaluateTask(model, tok, { task: 'sst2', dataDir: GLUE, maxExamples: 40, batchSize: 16, onProgress: (...a) => seen.push(a) });
  assert.deepEqual(again.metrics, r.metrics);
  assert.deepEqual(seen, [['dev', 16, 40], ['dev', 32, 40], ['dev', 40, 40]]);
  // The labels and task must agree: STS-B is a regression, and a swapped id2label would invert every prediction.
  await assert.rejects(evaluateTask(model, tok, { task: 'stsb', dataDir: GLUE }), /stsb has a regression target \(1 label\), the model 2/);
  await assert.rejects(evaluateTask(classifier({ 0: 'positive', 1: 'negative' }), tok, { task: 'sst2', dataDir: GLUE }),
    /id2label orders the labels positive, negative; sst2's order is negative, positive/);
  await assert.rejects(evaluateTask(model, tok, { task: 'sst2', dataDir: '/nonexistent' }), /sst2: missing \/nonexistent\/SST-2\/dev.tsv/);
});

test('a custom dev file is read with the model\'s id2label and scored with accuracy and F1', { skip }, async () => {
  const d = mkdtempSync(join(tmpdir(), 'mb-evaltask-'));
  try {
    // 'yes' is class 0 in the model: a reader that sorted the file's labels instead would swap the classes.
    const model = classifier({ 0: 'yes', 1: 'no' }, 6), tok = await BertTokenizer.bertBaseUncased();
    const ex = readGlueSplit('sst2', DEV).slice(0, 30);
    writeFileSync(join(d, 'dev.csv'), 'review,verdict\n' + ex.map((e) => `"${e.text.replaceAll('"', '""')}",${e.label ? 'no' : 'yes'}`).join('\n') + '\n');
    const r = await evaluateTask(model, tok, { custom: { dev: join(d, 'dev.csv'), textColumn: 'review', labelColumn: 'verdict' }, batchSize: 8 });
    const direct = evaluate(model, await encodeExamples(tok, ex, 256), ex.map((e) => e.label), ['accuracy', 'f1'], 8);
    assert.deepEqual(r.metrics, { dev: direct });
    assert.equal(r.task, 'custom');
    writeFileSync(join(d, 'bad.csv'), 'review,verdict\ngood film,maybe\n');
    await assert.rejects(evaluateTask(model, tok, { custom: { dev: join(d, 'bad.csv'), textColumn: 'review', labelColumn: 'verdict' } }),
      /bad\.csv:2: label 'maybe' is not one of yes, no/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
