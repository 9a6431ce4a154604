/** Data selection order, the prepared-data cache, the unigram entropy, and the fill-mask pipeline's shape. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MosaicBertForMaskedLM } from '../../src/model/mlm.js';
import { fillMaskPipeline } from '../../src/pipelines/fill_mask.js';
import { ensurePrepared, findData } from '../../src/train/data.js';
import { unigramEntropy } from '../../src/train/metrics.js';
import { tinyConfig } from './helpers.js';

test('findData: --data, then MOSAICBERT_DATA, then data_local, then ../shared/data/wikipedia, else how to get C4', () => {
  const root = mkdtempSync(join(tmpdir(), 'mosaicbert-find-'));
  try {
    const cwd = join(root, 'repo');
    mkdirSync(cwd);
    writeFileSync(join(root, 'a.txt'), 'x');
    writeFileSync(join(root, 'b.txt'), 'y');
    const cfg = { ...tinyConfig(), data_local: join(root, 'b.txt') };
    assert.deepEqual(findData(cfg, [join(root, 'a.txt')], join(root, 'b.txt'), cwd), { inputs: [join(root, 'a.txt')], source: '--data' });
    assert.equal(findData(cfg, undefined, join(root, 'b.txt'), cwd).source, 'MOSAICBERT_DATA');
    assert.equal(findData(cfg, undefined, '', cwd).source, 'data_local');
    const none = { ...cfg, data_local: './my-copy-c4' };
    assert.throws(() => findData(none, undefined, '', cwd), /allenai\/c4/);
    mkdirSync(join(root, 'shared', 'data', 'wikipedia'), { recursive: true });
    assert.deepEqual(findData(none, undefined, '', cwd), { inputs: [join(root, 'shared', 'data', 'wikipedia')], source: '../shared/data/wikipedia' });
    assert.throws(() => findData(cfg, [join(root, 'nope')], '', cwd), /--data: .*nope: no such file/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('ensurePrepared prepares raw text once into the cache, reuses it, and the unigram entropy is in nats', async () => {
  const root = mkdtempSync(join(tmpdir(), 'mosaicbert-prep-'));
  try {
    const lines = Array.from({ length: 60 }, (_, i) => JSON.stringify({ text: i % 2 ? 'red blue red blue' : 'red red red blue' }));
    writeFileSync(join(root, 'c.jsonl'), lines.join('\n') + '\n');
    const cfg = { ...tinyConfig(), val_fraction: 0.3 };
    const a = await ensurePrepared([join(root, 'c.jsonl')], join(root, 'cache'), cfg);
    assert.equal(a.prepared, true);
    assert.ok(a.val && a.val.num_samples > 0);
    const b = await ensurePrepared([join(root, 'c.jsonl')], join(root, 'cache'), cfg);
    assert.equal(b.prepared, false);
    const c = await ensurePrepared([join(root, 'cache')], join(root, 'other'), cfg);   // a prepared folder is used as it is
    assert.equal(c.dir, join(root, 'cache'));
    // Val documents alternate between p(red) = 1/2 and 3/4; entropy of the pooled counts.
    const h = unigramEntropy(a.val!);
    assert.ok(h.tokens > 0);
    let red = 0, blue = 0;
    for (let i = 0; i < a.val!.num_samples; i++) for (const t of a.val!.sample(i)) { if (t === 2417) red++; else if (t === 2630) blue++; }
    const p = red / (red + blue);
    assert.ok(Math.abs(h.entropy - (-p * Math.log(p) - (1 - p) * Math.log(1 - p))) < 1e-12, `${h.entropy}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('fill-mask: [{score, token, token_str, sequence}] top-k, best first', async () => {
  const model = new MosaicBertForMaskedLM(tinyConfig().model, { initSeed: 3 });
  const fm = await fillMaskPipeline(model);
  const r = await fm('The capital of France is [MASK].', { top_k: 5 });
  assert.equal(r.length, 5);
  for (let i = 0; i < r.length; i++) {
    assert.ok(r[i].score > 0 && r[i].score < 1);
    if (i) assert.ok(r[i].score <= r[i - 1].score);
    assert.equal(typeof r[i].token, 'number');
    assert.equal(typeof r[i].token_str, 'string');
    assert.match(r[i].sequence, /^the capital of france is/);
  }
  await assert.rejects(fm('no mask here'), /exactly one \[MASK\], found 0/);
});
