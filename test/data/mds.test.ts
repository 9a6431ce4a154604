import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listCorpusSources, readCorpus } from '../../src/data/corpus.js';
import { readMds } from '../../src/data/mds.js';
import { mdsShard, tempDir, zstdRawFrame } from './fixtures.js';

const NAMES = ['id', 'text', 'url'];   // MDSWriter sorts columns by name
const ENCODINGS = ['int', 'str', 'str'];
const SIZES = [8, null, null];

function shardEntry(basename: string, samples: number, rawBytes: number, zip: { basename: string; bytes: number } | null) {
  return { column_encodings: ENCODINGS, column_names: NAMES, column_sizes: SIZES, compression: zip ? 'zstd:7' : null,
    format: 'mds', hashes: [], raw_data: { basename, bytes: rawBytes, hashes: {} }, samples,
    size_limit: 67108864, version: 2, zip_data: zip ? { ...zip, hashes: {} } : null };
}

function writeMdsFolder(dir: string, docs: string[][], compressed: boolean) {
  mkdirSync(dir, { recursive: true });
  const shards = docs.map((texts, s) => {
    const samples = texts.map((text, i) => ({ id: s * 1000 + i, text, url: `https://x/${s}/${i}` }));
    const bytes = mdsShard(samples, NAMES, ENCODINGS);
    const basename = `shard.${String(s).padStart(5, '0')}.mds`;
    if (!compressed) {
      writeFileSync(join(dir, basename), bytes);
      return shardEntry(basename, texts.length, bytes.length, null);
    }
    const zipped = zstdRawFrame(bytes);
    writeFileSync(join(dir, basename + '.zstd'), zipped);
    return shardEntry(basename, texts.length, bytes.length, { basename: basename + '.zstd', bytes: zipped.length });
  });
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ shards, version: 2 }));
}

const DOCS = [['alpha document', 'beta: ünïcode ☕', ''], ['gamma', 'x'.repeat(5000)]];

async function collect(gen: AsyncGenerator<{ text: string; where: string }>) {
  const out: string[] = [];
  for await (const d of gen) out.push(d.text);
  return out;
}

test('MDS folder, raw shards: the text column of every sample in order', async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeMdsFolder(dir, DOCS, false);
    assert.deepEqual(await collect(readMds(dir)), DOCS.flat());
    assert.deepEqual(listCorpusSources([dir]), [{ format: 'mds', path: dir }]);
    assert.deepEqual(await collect(readCorpus(listCorpusSources([dir]))), DOCS.flat());
    assert.deepEqual((await collect(readMds(dir, 'url'))).slice(0, 2), ['https://x/0/0', 'https://x/0/1']);
  } finally { cleanup(); }
});

test('MDS folder, zstd shards (only .mds.zstd on disk)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeMdsFolder(join(dir, 'train'), DOCS, true);
    // The parent folder holds the MDS folder: it is found by the walk.
    assert.deepEqual(await collect(readCorpus(listCorpusSources([dir]))), DOCS.flat());
  } finally { cleanup(); }
});

test('MDS errors name the shard: missing column, wrong encoding, corrupt offsets', async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeMdsFolder(dir, DOCS, false);
    await assert.rejects(collect(readMds(dir, 'body')), /shard\.00000\.mds: no column "body"/);
    await assert.rejects(collect(readMds(dir, 'id')), /encoding "int"/);
    const bytes = mdsShard([{ id: 1, text: 'abc', url: 'u' }], NAMES, ENCODINGS);
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(8, 1 << 30, true);   // end offset of sample 0
    writeFileSync(join(dir, 'shard.00000.mds'), bytes);
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ shards: [shardEntry('shard.00000.mds', 1, bytes.length, null)], version: 2 }));
    await assert.rejects(collect(readMds(dir)), /shard\.00000\.mds sample 0: bad offsets/);
  } finally { cleanup(); }
});
