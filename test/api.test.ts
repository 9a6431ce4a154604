/** The package's public entry points resolve by name (package.json `exports`) and hold what a user needs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';

test('mosaicbert and its subpath exports', async () => {
  const main = await import('mosaicbert');
  for (const name of ['fromPretrained', 'savePretrained', 'pipeline', 'BertTokenizer', 'MosaicBertForMaskedLM', 'BertForMaskedLM',
    'MosaicBertForSequenceClassification', 'BertForSequenceClassification', 'configFromDict', 'Trainer', 'TrainingStep',
    'DecoupledAdamW', 'linearDecayWithWarmup', 'nativeKernels', 'Linear', 'finetune', 'runGlue']) {
    assert.equal(typeof (main as Record<string, unknown>)[name], 'function', name);
  }
  assert.equal(typeof main.referenceKernels.sgemm, 'function');
  // Internals are not in the main entry point.
  for (const name of ['unpickle', 'PyGlobal', 'parseTsv', 'averageRanks', 'ZipReader']) {
    assert.equal((main as Record<string, unknown>)[name], undefined, name);
  }
  const io = await import('mosaicbert/io'), glue = await import('mosaicbert/glue');
  const data = await import('mosaicbert/data'), interop = await import('mosaicbert/interop');
  assert.equal(typeof io.unpickle, 'function');
  assert.equal(typeof io.readTorchCheckpoint, 'function');
  assert.equal(typeof glue.parseTsv, 'function');
  assert.equal(typeof glue.averageRanks, 'function');
  assert.equal(typeof data.prepare, 'function');
  assert.equal(typeof interop.checkFixture, 'function');
});
