/**
 * A reader for mosaicml-streaming MDS folders (`index.json` + `shard.NNNNN.mds`, raw or `.mds.zstd`): the format
 * of the reference's C4 copy. Only what corpus preparation needs: the samples' text column.
 *
 * MDS shard layout (streaming `MDSWriter`, little-endian): uint32 num_samples; uint32 offsets[num_samples + 1]
 * (byte offsets of each sample from the start of the shard, the last = shard size); then the samples. A sample is
 * uint32 sizes of its variable-size columns (those whose `column_sizes` entry is null), in column order, followed
 * by every column's bytes in column order (fixed-size columns take `column_sizes[i]` bytes).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decompress } from 'fzstd';
import type { CorpusDocument } from './document.js';

/** One shard's entry in an MDS index.json (fields used here). */
export interface MdsShardInfo {
  format: string;
  column_names: string[];
  column_encodings: string[];
  column_sizes: Array<number | null>;
  compression: string | null;
  samples: number;
  raw_data: { basename: string; bytes: number };
  zip_data: { basename: string; bytes: number } | null;
}

/** True when `dir` holds an MDS index.json. */
export function isMdsDir(dir: string): boolean {
  if (!existsSync(join(dir, 'index.json'))) return false;
  try {
    const idx = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    return Array.isArray(idx.shards) && idx.shards.every((s: MdsShardInfo) => s.format === 'mds');
  } catch {
    return false;
  }
}

/**
 * Shards listed in `dir/index.json`.
 * @throws Error naming the file when it is not an MDS index (or uses a non-`mds` shard format).
 */
export function readMdsIndex(dir: string): MdsShardInfo[] {
  const path = join(dir, 'index.json');
  const idx = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(idx.shards)) throw new Error(`${path}: not an MDS index (no "shards" array)`);
  for (const s of idx.shards as MdsShardInfo[]) {
    if (s.format !== 'mds') throw new Error(`${path}: shard format "${s.format}" is not supported (only "mds")`);
    if (!Array.isArray(s.column_sizes) || s.column_sizes.length !== s.column_names.length) {
      throw new Error(`${path}: shard ${s.raw_data?.basename}: column_sizes missing or not one per column`);
    }
  }
  return idx.shards;
}

/**
 * The raw (decompressed) bytes of one shard: `raw_data` if present on disk, else `zip_data` decompressed
 * (compression "zstd" or "zstd:LEVEL").
 */
export function readMdsShardBytes(dir: string, shard: MdsShardInfo): Uint8Array {
  const raw = join(dir, shard.raw_data.basename);
  if (existsSync(raw)) return readFileSync(raw);
  if (!shard.zip_data) throw new Error(`${raw}: shard file missing`);
  const zip = join(dir, shard.zip_data.basename);
  const algo = (shard.compression ?? '').split(':')[0];
  if (algo !== 'zstd') throw new Error(`${zip}: compression "${shard.compression}" is not supported (only zstd)`);
  return decompress(readFileSync(zip));
}

/**
 * The bytes of column `column` of every sample of a decompressed shard, in sample order.
 * @throws Error naming the shard when the offsets table is inconsistent.
 */
export function* mdsColumn(bytes: Uint8Array, shard: MdsShardInfo, column: number, label: string):
  Generator<Uint8Array> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(0, true);
  if (n !== shard.samples) throw new Error(`${label}: header says ${n} samples, index.json ${shard.samples}`);
  const sizes = shard.column_sizes;
  const numVar = sizes.filter((s) => s === null).length;
  for (let i = 0; i < n; i++) {
    const begin = dv.getUint32(4 + 4 * i, true), end = dv.getUint32(8 + 4 * i, true);
    if (end < begin || end > bytes.length) throw new Error(`${label} sample ${i}: bad offsets ${begin}..${end}`);
    let head = begin, pos = begin + 4 * numVar;
    for (let c = 0; c < sizes.length; c++) {
      let size = sizes[c];
      if (size === null) { size = dv.getUint32(head, true); head += 4; }
      if (c === column) {
        if (pos + size > end) throw new Error(`${label} sample ${i}: column overruns the sample`);
        yield bytes.subarray(pos, pos + size);
        break;
      }
      pos += size;
    }
  }
}

/**
 * Documents of an MDS folder: column `text_field` (encoding `str`, `bytes` as UTF-8, or `json` holding a string)
 * of every sample of every shard, in index order; one shard in memory at a time.
 * @throws Error naming the folder when the column is missing or has another encoding.
 */
export async function* readMds(dir: string, text_field = 'text'): AsyncGenerator<CorpusDocument> {
  const dec = new TextDecoder('utf-8');
  for (const shard of readMdsIndex(dir)) {
    const label = join(dir, shard.raw_data.basename);
    const c = shard.column_names.indexOf(text_field);
    if (c < 0) throw new Error(`${label}: no column "${text_field}" (columns: ${shard.column_names.join(', ')})`);
    const enc = shard.column_encodings[c];
    if (enc !== 'str' && enc !== 'bytes' && enc !== 'json') {
      throw new Error(`${label}: column "${text_field}" has encoding "${enc}"; expected str, bytes or json`);
    }
    const bytes = readMdsShardBytes(dir, shard);
    let i = 0;
    for (const b of mdsColumn(bytes, shard, c, label)) {
      let text: unknown = dec.decode(b);
      if (enc === 'json') text = JSON.parse(text as string);
      if (typeof text !== 'string') throw new Error(`${label} sample ${i}: "${text_field}" is not a string`);
      yield { text, where: `${label} sample ${i}` };
      i++;
    }
    await new Promise((r) => setImmediate(r));
  }
}
