import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { sharedDir } from '../helpers.js';
import { BertTokenizer } from '../../src/tokenizer/bert_tokenizer.js';
import { encodePrefixes, prepare, type PrepareProgress } from '../../src/data/prepare.js';
import { TokenDataset } from '../../src/data/token_dataset.js';
import { isValidationDocument } from '../../src/data/split.js';
import { tempDir } from './fixtures.js';

const tokP = BertTokenizer.bertBaseUncased();

function corpus(n: number): string[] {
  // Document i has about 5*i words, so lengths span short and long.
  return Array.from({ length: n }, (_, i) => Array.from({ length: 5 * i + 1 }, (_, w) => `word${w % 13} is-${i}`).join(' '));
}

async function allSamples(dir: string): Promise<number[][]> {
  const ds = TokenDataset.open(dir);
  try {
    return Array.from({ length: ds.num_samples }, (_, i) => Array.from(ds.sample(i)));
  } finally { ds.close(); }
}

test('truncate mode: one sample a document, [CLS] first max_seq_len-2 tokens [SEP], as the reference', async () => {
  const tok = await tokP;
  const docs = corpus(40);
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'c.jsonl'), docs.map((text) => JSON.stringify({ text })).join('\n') + '\n');
    const r = await prepare({ inputs: [join(dir, 'c.jsonl')], out_dir: join(dir, 'out'), max_seq_len: 16,
      val_fraction: 0, shard_max_tokens: 100, tokenizer: tok });
    assert.equal(r.val, undefined);
    assert.equal(r.train.num_samples, 40);
    assert.ok(r.train.shards.length > 3, 'small shard_max_tokens makes several shards');
    const expected = await tok.encodeBatch(docs, { max_length: 16 });   // HF tokenizer(text, truncation=True, max_length=16)
    assert.deepEqual(await allSamples(join(dir, 'out', 'train')), expected.map((e) => e.input_ids));
    const full = await tok.encodeIdsBatch(docs);
    assert.equal(r.train.num_truncated_documents, full.filter((ids) => ids.length > 14).length);
    assert.equal(r.train.num_tokens, expected.reduce((a, e) => a + e.input_ids.length, 0));
  } finally { cleanup(); }
});

test('chunk mode: consecutive windows of max_seq_len-2 tokens cover every token', async () => {
  const tok = await tokP;
  const docs = corpus(12);
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'c.txt'), docs.join('\n\n'));
    const r = await prepare({ inputs: [dir], out_dir: join(dir, 'out'), max_seq_len: 10, mode: 'chunk',
      val_fraction: 0, tokenizer: tok });
    const expected: number[][] = [];
    for (const ids of await tok.encodeIdsBatch(docs)) {
      for (let s = 0; s < ids.length; s += 8) expected.push([101, ...ids.slice(s, s + 8), 102]);
    }
    assert.deepEqual(await allSamples(join(dir, 'out', 'train')), expected);
    assert.equal(r.train.num_documents, 12);
    assert.equal(r.train.num_truncated_documents, 0);
  } finally { cleanup(); }
});

test('validation split by document hash; index, checksums, atomic files, progress', async () => {
  const tok = await tokP;
  const docs = corpus(200).map((d, i) => (i === 7 ? '' : d));   // one empty document, skipped
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'c.jsonl'), docs.map((text) => JSON.stringify({ text })).join('\n'));
    const seen: PrepareProgress[] = [];
    const out = join(dir, 'out');
    const r = await prepare({ inputs: [join(dir, 'c.jsonl')], out_dir: out, max_seq_len: 12, val_fraction: 0.2,
      seed: 5, batch_documents: 16, tokenizer: tok, onProgress: (p) => seen.push(p) });
    const valDocs = docs.map((_, i) => i).filter((i) => i !== 7 && isValidationDocument(i, 5, 0.2));
    assert.ok(valDocs.length > 20 && valDocs.length < 60, `${valDocs.length} validation documents`);
    assert.equal(r.val!.num_samples, valDocs.length);
    assert.equal(r.train.num_samples + r.val!.num_samples, 199);
    assert.equal(r.empty_documents, 1);
    const expected = await tok.encodeBatch(valDocs.map((i) => docs[i]), { max_length: 12 });
    assert.deepEqual(await allSamples(join(out, 'val')), expected.map((e) => e.input_ids));

    const index = JSON.parse(readFileSync(join(out, 'train', 'index.json'), 'utf8'));
    assert.equal(index.format, 'mosaicbert-tokens');
    assert.equal(index.tokenizer.name, 'bert-base-uncased');
    assert.equal(index.max_seq_len, 12);
    assert.equal(index.mode, 'truncate');
    for (const s of index.shards) {
      const bytes = readFileSync(join(out, 'train', s.file));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), s.sha256);
      assert.equal(bytes.length, s.bytes);
    }
    assert.ok(!readdirSync(join(out, 'train')).some((f) => f.includes('.tmp-')));
    await TokenDataset.open(join(out, 'train')).verify();

    assert.equal(seen.length, Math.ceil(200 / 16) + 1);
    assert.ok(seen.at(-1)!.done && seen.at(-1)!.documents === 200 && seen.at(-1)!.tokens > 0);

    // A corrupted shard fails verification, naming it.
    const f = join(out, 'train', index.shards[0].file);
    const b = readFileSync(f); b[b.length - 1] ^= 1; writeFileSync(f, b);
    await assert.rejects(TokenDataset.open(join(out, 'train')).verify(), /shard\.00000\.bin: sha256/);

    // Re-preparing into the same folder with fewer shards removes the stale ones.
    await prepare({ inputs: [join(dir, 'c.jsonl')], out_dir: out, max_seq_len: 12, val_fraction: 0.2, seed: 5,
      max_documents: 10, tokenizer: tok });
    assert.deepEqual(readdirSync(join(out, 'train')).sort(), ['index.json', 'shard.00000.bin']);
  } finally { cleanup(); }
});

test('a bad input line fails with file and line, and leaves no index', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, 'c.jsonl');
    writeFileSync(p, '{"text": "fine"}\n{"title": "no text"}\n');
    await assert.rejects(prepare({ inputs: [p], out_dir: join(dir, 'out'), tokenizer: await tokP }),
      (e: Error) => e.message.startsWith(`${p}:2:`));
    assert.ok(!existsSync(join(dir, 'out', 'train', 'index.json')));
    await assert.rejects(prepare({ inputs: [p], out_dir: join(dir, 'out'), max_seq_len: 2 }), /max_seq_len/);
  } finally { cleanup(); }
});

test('prefix tokenization equals full tokenization truncated (Wikipedia, if ../shared is present)', async (t) => {
  const shared = sharedDir();
  if (!shared) { t.skip('no ../shared'); return; }
  const tok = await tokP;
  const lines = gunzipSync(readFileSync(join(shared, 'data', 'wikipedia', 'wiki-en-train.00003.json.gz')))
    .toString('utf8').split('\n').filter(Boolean).slice(0, 40);
  const texts = lines.map((l) => JSON.parse(l).text as string);
  // Plus adversarial text: whitespace-like characters that BERT deletes or keeps inside words, added tokens, accents.
  const odd = ['\u000b', '\u00a0', '\u2028', '\ufeff', '\u3000', ' [MASK] ', 'e\u0301', '\t', '\r\n', '  '];
  for (let d = 0; d < 20; d++) {
    texts.push(Array.from({ length: 400 }, (_, w) => `w${(w * 7 + d) % 23}${odd[(w + d) % odd.length]}`).join(''));
  }
  for (const keep of [30, 126, 510]) {
    const fast = await encodePrefixes(tok, texts, keep);
    const full = await tok.encodeIdsBatch(texts);
    full.forEach((ids, i) => assert.deepEqual(fast[i].ids, ids.slice(0, keep), `doc ${i}, keep ${keep}`));
  }
});
