import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { listCorpusSources, readCorpus } from '../../src/data/corpus.js';
import { readLines } from '../../src/data/byte_stream.js';
import { tempDir, zstdRawFrame } from './fixtures.js';

const DOCS = ['First document.\nWith two paragraphs.', 'Zweites Dokument: Café ☕', '第三个文件', 'last'];
const jsonl = DOCS.map((text, i) => JSON.stringify({ text, url: `u${i}`, id: String(i) })).join('\n') + '\n';

async function texts(inputs: string[], opts = {}) {
  const out: string[] = [];
  for await (const d of readCorpus(listCorpusSources(inputs), opts)) out.push(d.text);
  return out;
}

test('JSON lines: plain, .json.gz and .jsonl.zst give the same documents', async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'a.jsonl'), jsonl.replace(/\n/g, '\r\n'));
    writeFileSync(join(dir, 'b.json.gz'), gzipSync(jsonl));
    // Two gzip members concatenated, as `cat a.gz b.gz` gives.
    writeFileSync(join(dir, 'c.jsonl.gz'), Buffer.concat([gzipSync(jsonl.slice(0, 40)), gzipSync(jsonl.slice(40))]));
    writeFileSync(join(dir, 'd.jsonl.zst'), zstdRawFrame(Buffer.from(jsonl)));
    for (const f of ['a.jsonl', 'b.json.gz', 'c.jsonl.gz', 'd.jsonl.zst']) {
      assert.deepEqual(await texts([join(dir, f)]), DOCS, f);
    }
    // A folder: files in sorted order, other files ignored.
    writeFileSync(join(dir, 'README.md'), '# not a corpus');
    assert.deepEqual(listCorpusSources([dir]).map((s) => s.path.slice(dir.length + 1)),
      ['a.jsonl', 'b.json.gz', 'c.jsonl.gz', 'd.jsonl.zst']);
    assert.equal((await texts([dir])).length, 16);
  } finally { cleanup(); }
});

test('lines split across read chunks and multi-byte characters survive', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const long = Array.from({ length: 3000 }, (_, i) => `line ${i} ${'é☕'.repeat(i % 300)}`);
    writeFileSync(join(dir, 'x.txt'), long.join('\n'));
    const got: string[] = [];
    for await (const l of readLines(join(dir, 'x.txt'))) got.push(l.text);
    assert.deepEqual(got, long);
  } finally { cleanup(); }
});

test('bad JSON lines are reported with file and line', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, 'bad.jsonl');
    writeFileSync(p, '{"text": "ok"}\n\n{"body": "no text"}\n');
    await assert.rejects(texts([p]), (e: Error) => e.message.startsWith(`${p}:3:`) && e.message.includes('"text"'));
    writeFileSync(p, '{"text": "ok"}\n{"text": "unterminated\n');
    await assert.rejects(texts([p]), (e: Error) => e.message.startsWith(`${p}:2: invalid JSON`));
    await assert.rejects(texts([join(dir, 'missing.jsonl')]), /no such file/);
    const gz = gzipSync(jsonl);
    writeFileSync(join(dir, 'corrupt.jsonl.gz'), gz.subarray(0, gz.length >> 1));
    await assert.rejects(texts([join(dir, 'corrupt.jsonl.gz')]), (e: Error) => e.message.includes('corrupt.jsonl.gz: cannot read gzip'));
    writeFileSync(join(dir, 'corrupt.jsonl.zst'), Buffer.from('not zstd at all'));
    await assert.rejects(texts([join(dir, 'corrupt.jsonl.zst')]), (e: Error) => e.message.includes('corrupt.jsonl.zst: cannot read zstd'));
    writeFileSync(join(dir, 'x.csv'), 'a,b');
    assert.throws(() => listCorpusSources([join(dir, 'x.csv')]), /unsupported/);
    // Another field name.
    writeFileSync(p, '{"body": "b1"}\n{"body": "b2"}\n');
    assert.deepEqual(await texts([p], { text_field: 'body' }), ['b1', 'b2']);
  } finally { cleanup(); }
});

test('plain text: blank-line separated blocks (default) or one document a line', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, 'c.txt');
    writeFileSync(p, 'a one\na two\n\n\n  \nb one\n\nc one\nc two\nc three\n');
    assert.deepEqual(await texts([p]), ['a one\na two', 'b one', 'c one\nc two\nc three']);
    assert.deepEqual(await texts([p], { txt_split: 'line' }), ['a one', 'a two', 'b one', 'c one', 'c two', 'c three']);
    writeFileSync(join(dir, 'c2.txt.gz'), gzipSync('x\n\ny'));
    assert.deepEqual(await texts([join(dir, 'c2.txt.gz')]), ['x', 'y']);
  } finally { cleanup(); }
});

test('Parquet: the text column, across row groups, snappy and uncompressed', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const many = Array.from({ length: 250 }, (_, i) => `document ${i} ${'word '.repeat(i % 7)}`);
    for (const codec of ['SNAPPY', 'UNCOMPRESSED'] as const) {
      const p = join(dir, `t-${codec}.parquet`);
      writeFileSync(p, Buffer.from(parquetWriteBuffer({
        columnData: [
          { name: 'id', data: many.map((_, i) => i), type: 'INT32' },
          { name: 'text', data: many, type: 'STRING' },
        ],
        rowGroupSize: 100,
        codec,
      })));
      assert.deepEqual(await texts([p]), many, codec);
      await assert.rejects(texts([p], { text_field: 'content' }), (e: Error) => e.message.includes(p) &&
        e.message.includes('no column "content"'));
    }
  } finally { cleanup(); }
});

test('folders nest; an MDS folder inside is read as one source', async () => {
  const { dir, cleanup } = tempDir();
  try {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'z.txt'), 'zz');
    writeFileSync(join(dir, 'a.txt'), 'aa');
    assert.deepEqual(await texts([dir]), ['aa', 'zz']);
  } finally { cleanup(); }
});

test('real zstd-compressed JSON lines (skipped without the zstd command)', async (t) => {
  const { spawnSync } = await import('node:child_process');
  if (spawnSync('zstd', ['--version']).status !== 0) { t.skip('no zstd command'); return; }
  const { dir, cleanup } = tempDir();
  try {
    const many = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ text: `doc ${i} ` + 'lorem ipsum '.repeat(i % 50) })).join('\n');
    writeFileSync(join(dir, 'm.jsonl'), many);
    assert.equal(spawnSync('zstd', ['-q', '-19', join(dir, 'm.jsonl'), '-o', join(dir, 'm.jsonl.zst')]).status, 0);
    const got = await texts([join(dir, 'm.jsonl.zst')]);
    assert.equal(got.length, 2000);
    assert.equal(got[1999], JSON.parse(many.split('\n')[1999]).text);
  } finally { cleanup(); }
});
