import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BertTokenizer } from '../../src/tokenizer/bert_tokenizer.js';
import { prepare } from '../../src/data/prepare.js';
import { TokenDataset } from '../../src/data/token_dataset.js';
import { DataLoader, type Batch } from '../../src/data/loader.js';
import { tempDir } from './fixtures.js';

const N = 103, MAX = 16;
const tmp = tempDir();
after(() => tmp.cleanup());

// Built on first use, so that a filtered run (--test-name-pattern) that skips every test does not race the cleanup.
let datasetP: Promise<TokenDataset> | null = null;
const dataset = () => (datasetP ??= (async () => {
  // Document i: i % 20 + 1 words, so samples have lengths 3..16 (truncated past 14 words).
  const docs = Array.from({ length: N }, (_, i) => Array.from({ length: (i % 20) + 1 }, (_, w) => `w${w}x${i}`).join(' '));
  writeFileSync(join(tmp.dir, 'c.jsonl'), docs.map((text) => JSON.stringify({ text })).join('\n'));
  await prepare({ inputs: [join(tmp.dir, 'c.jsonl')], out_dir: join(tmp.dir, 'out'), max_seq_len: MAX, mode: 'chunk',
    val_fraction: 0, shard_max_tokens: 200, tokenizer: await BertTokenizer.bertBaseUncased() });
  return TokenDataset.open(join(tmp.dir, 'out', 'train'));
})());

const plain = (b: Batch) => ({ ...b, input_ids: Array.from(b.input_ids), labels: b.labels && Array.from(b.labels),
  idx: Array.from(b.sample_indices), step: b.step, epoch: b.epoch });

test('in order, keep last: every sample once, padded [B, max_seq_len], masks and cu_seqlens consistent', async () => {
  const ds = await dataset();
  const n = ds.num_samples;
  assert.ok(n > N, 'chunk mode makes more samples than documents');
  const loader = new DataLoader(ds, { batch_size: 8, shuffle: false, drop_last: false });
  assert.equal(loader.batches_per_epoch, Math.ceil(n / 8));
  const seen: number[] = [];
  for (const b of loader.epochBatches()) {
    assert.equal(b.seq_len, MAX);
    assert.equal(b.input_ids.length, b.batch_size * MAX);
    for (let r = 0; r < b.batch_size; r++) {
      const s = ds.sample(b.sample_indices[r]);
      const len = b.cu_seqlens[r + 1] - b.cu_seqlens[r];
      assert.equal(len, s.length);
      for (let c = 0; c < MAX; c++) {
        const i = r * MAX + c;
        assert.equal(b.input_ids[i], c < len ? s[c] : 0);
        assert.equal(b.attention_mask[i], c < len ? 1 : 0);
        assert.equal(b.token_type_ids[i], 0);
      }
      assert.equal(b.input_ids[r * MAX], 101);
      assert.equal(b.input_ids[r * MAX + len - 1], 102);
    }
    seen.push(...b.sample_indices);
  }
  assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i));
  assert.equal(loader.state().position, n);
});

test('shuffle: a permutation per epoch; drop_last skips the remainder', async () => {
  const ds = await dataset();
  const n = ds.num_samples;
  const loader = new DataLoader(ds, { batch_size: 10, seed: 3, drop_last: false });
  const e0 = [...loader.epochBatches()].flatMap((b) => [...b.sample_indices]);
  const e1 = [...loader.epochBatches()].flatMap((b) => [...b.sample_indices]);
  assert.deepEqual([...e0].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  assert.deepEqual([...e1].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  assert.notDeepEqual(e0, e1);
  assert.notDeepEqual(e0, Array.from({ length: n }, (_, i) => i));

  const dl = new DataLoader(ds, { batch_size: 10, seed: 3, drop_last: true });
  const batches = [...dl.epochBatches()];
  assert.equal(batches.length, Math.floor(n / 10));
  assert.ok(batches.every((b) => b.batch_size === 10));
  assert.deepEqual(batches.flatMap((b) => [...b.sample_indices]), e0.slice(0, 10 * Math.floor(n / 10)));
  assert.equal(dl.next().epoch, 1, 'next() rolls over into the next epoch');
});

test('exact resume: N batches straight == N/2, save state, new loader, N/2 (across epochs, with masking)', async () => {
  const ds = await dataset();
  const opts = { batch_size: 7, seed: 11, drop_last: true, mlm: { mlm_probability: 0.3 } };
  const total = 2 * new DataLoader(ds, opts).batches_per_epoch + 6;   // crosses two epoch boundaries
  const straight = new DataLoader(ds, opts);
  const a = Array.from({ length: total }, () => plain(straight.next()));
  const first = new DataLoader(ds, opts);
  const b = Array.from({ length: total / 2 }, () => plain(first.next()));
  const saved = JSON.stringify(first.state());
  const resumed = new DataLoader(ds, opts, JSON.parse(saved));
  b.push(...Array.from({ length: total / 2 }, () => plain(resumed.next())));
  assert.deepEqual(b, a);
  assert.ok(a.some((x) => x.labels!.some((l) => l !== -100)), 'masking is on');
  assert.deepEqual(a.map((x) => x.step), Array.from({ length: total }, (_, i) => i));
  assert.ok(new Set(a.map((x) => x.epoch)).size === 3);
});

test('pad_to longest; bad options and states are rejected', async () => {
  const ds = await dataset();
  const b = new DataLoader(ds, { batch_size: 4, shuffle: false, pad_to: 'longest' }).next();
  assert.equal(b.seq_len, b.max_seqlen_in_batch);
  assert.equal(b.seq_len, Math.max(...[0, 1, 2, 3].map((i) => ds.sampleLength(i))));
  assert.throws(() => new DataLoader(ds, { batch_size: 0 }), /batch_size/);
  assert.throws(() => new DataLoader(ds, { batch_size: 4 }, { epoch: 0, position: ds.num_samples + 1 }), /outside/);
  assert.throws(() => new DataLoader(ds, { batch_size: ds.num_samples + 1 }), /no batch/);
  assert.throws(() => ds.sample(ds.num_samples), RangeError);
});
