/** The pretraining run's model/ is a savePretrained folder a pipeline loads; resume refuses a changed seed. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TokenDataset } from '../../src/data/token_dataset.js';
import { fromPretrained } from '../../src/interop/pretrained.js';
import { pipeline, type FillMaskResult } from '../../src/pipelines/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { tinyConfig, tinyCorpus } from './helpers.js';

let corpus: { dir: string; train: TokenDataset; val: TokenDataset; cleanup: () => void };
before(async () => { corpus = await tinyCorpus(); });
after(() => corpus.cleanup());

test('the trainer exports through savePretrained: config with auto_map, tokenizer files; fromPretrained and fill-mask load it', async () => {
  const cfg = tinyConfig(['max_duration=2ba']);
  const tr = new Trainer({ config: cfg, train: corpus.train, val: null, runDir: join(corpus.dir, 'exp') });
  const r = await tr.fit();
  for (const f of ['model.safetensors', 'config.json', 'vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json']) {
    assert.ok(existsSync(join(r.modelDir, f)), f);
  }
  const c = JSON.parse(readFileSync(join(r.modelDir, 'config.json'), 'utf8'));
  assert.equal(c.auto_map.AutoModelForMaskedLM, 'bert_layers.BertForMaskedLM');
  const m = fromPretrained(r.modelDir, { warn: () => { throw new Error('unexpected warning'); } });
  assert.deepEqual(m.params.data, tr.model.params.data);
  const unmask = await pipeline('fill-mask', r.modelDir);
  const out = await unmask('the river [MASK] the city.') as FillMaskResult[];
  assert.equal(out.length, 5);
});

test('resume with a changed seed or microbatch size is refused (documented override: allowResumeMismatch)', async () => {
  const runDir = join(corpus.dir, 'seeded');
  await new Trainer({ config: tinyConfig(['max_duration=2ba', 'save_interval=1ba']), train: corpus.train, val: null, runDir }).fit();
  assert.throws(() => new Trainer({ config: tinyConfig(['max_duration=4ba', 'seed=5']), train: corpus.train, val: null, runDir, resume: true }),
    /ba2: cannot resume exactly: seed \(Philox key of the dropout and masking streams\): checkpoint 17, now 5.*--allow-resume-mismatch/);
  assert.throws(() => new Trainer({ config: tinyConfig(['max_duration=4ba', 'device_train_microbatch_size=2']), train: corpus.train,
    val: null, runDir, resume: true }), /microbatch size .*: checkpoint 4, now 2/);
  const warned: string[] = [];
  const t = new Trainer({ config: tinyConfig(['max_duration=4ba', 'seed=5']), train: corpus.train, val: null, runDir, resume: true,
    allowResumeMismatch: true, onEvent: (e) => { if (e.type === 'warning') warned.push(e.message); } });
  assert.equal(t.state.step, 2);
  await t.fit();   // warnings found while constructing are logged with the run's start
  assert.match(warned.join('\n'), /resuming with a different seed/);
});
