/**
 * Random access to a prepared split (see shard_format.ts): sample i -> its uint16 token ids, read with positioned
 * reads (the OS page cache does the caching). Memory: each opened shard's offsets table (4 bytes a sample) and at
 * most `max_open_files` file descriptors.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { readTokenDatasetIndex, SHARD_HEADER_BYTES, SHARD_MAGIC, type TokenDatasetIndex } from './shard_format.js';

interface OpenShard {
  fd: number;
  offsets: Uint32Array;
  dataStart: number;
}

/** Options of {@link TokenDataset.open}. */
export interface TokenDatasetOptions {
  /** Most shard files kept open at once (default 64). */
  max_open_files?: number;
}

export class TokenDataset {
  /** Samples in the split. */
  readonly num_samples: number;
  /** Longest sample, specials included. */
  readonly max_seq_len: number;
  private readonly starts: number[];   // first global sample index of each shard, plus the total
  private readonly open = new Map<number, OpenShard>();   // insertion order = LRU order

  private constructor(readonly dir: string, readonly index: TokenDatasetIndex, private readonly maxOpen: number) {
    this.num_samples = index.num_samples;
    this.max_seq_len = index.max_seq_len;
    this.starts = [0];
    for (const s of index.shards) this.starts.push(this.starts[this.starts.length - 1] + s.num_samples);
    if (this.starts[this.starts.length - 1] !== index.num_samples) {
      throw new Error(`${join(dir, 'index.json')}: shard sample counts do not add up to num_samples`);
    }
  }

  /**
   * Opens a split folder (the one holding index.json, e.g. `out/train`).
   * @throws Error when the index is missing or invalid, or on a big-endian host.
   */
  static open(dir: string, options: TokenDatasetOptions = {}): TokenDataset {
    if (endianness() !== 'LE') throw new Error('prepared datasets are little-endian; this host is big-endian');
    return new TokenDataset(dir, readTokenDatasetIndex(dir), options.max_open_files ?? 64);
  }

  private shard(s: number): OpenShard {
    const hit = this.open.get(s);
    if (hit) { this.open.delete(s); this.open.set(s, hit); return hit; }
    if (this.open.size >= this.maxOpen) {
      const [oldest, o] = this.open.entries().next().value as [number, OpenShard];
      closeSync(o.fd);
      this.open.delete(oldest);
    }
    const info = this.index.shards[s];
    const path = join(this.dir, info.file);
    const fd = openSync(path, 'r');
    try {
      const head = Buffer.alloc(SHARD_HEADER_BYTES);
      readSync(fd, head, 0, SHARD_HEADER_BYTES, 0);
      if (head.toString('latin1', 0, 8) !== SHARD_MAGIC) throw new Error(`${path}: not a token shard (bad magic)`);
      const n = head.readUInt32LE(8);
      if (n !== info.num_samples) throw new Error(`${path}: ${n} samples, index.json says ${info.num_samples}`);
      if (fstatSync(fd).size !== info.bytes) throw new Error(`${path}: size differs from index.json (truncated?)`);
      const offsets = new Uint32Array(n + 1);
      readSync(fd, new Uint8Array(offsets.buffer), 0, 4 * (n + 1), SHARD_HEADER_BYTES);
      const opened = { fd, offsets, dataStart: SHARD_HEADER_BYTES + 4 * (n + 1) };
      this.open.set(s, opened);
      return opened;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  private locate(i: number): [number, number] {
    if (!(Number.isInteger(i) && i >= 0 && i < this.num_samples)) throw new RangeError(`sample ${i} out of range [0, ${this.num_samples})`);
    let lo = 0, hi = this.starts.length - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= i) lo = mid; else hi = mid - 1;
    }
    return [lo, i - this.starts[lo]];
  }

  /** Token count of sample i ([CLS] and [SEP] included). */
  sampleLength(i: number): number {
    const [s, j] = this.locate(i);
    const o = this.shard(s).offsets;
    return o[j + 1] - o[j];
  }

  /** Token ids of sample i, [CLS] ... [SEP], unpadded (a fresh Uint16Array). */
  sample(i: number): Uint16Array {
    const [s, j] = this.locate(i);
    const sh = this.shard(s);
    const begin = sh.offsets[j], len = sh.offsets[j + 1] - begin;
    const out = new Uint16Array(len);
    readSync(sh.fd, new Uint8Array(out.buffer), 0, 2 * len, sh.dataStart + 2 * begin);
    return out;
  }

  /**
   * Recomputes every shard's SHA-256 and compares it with index.json.
   * @throws Error naming the first shard whose checksum differs.
   */
  async verify(): Promise<void> {
    for (const info of this.index.shards) {
      const path = join(this.dir, info.file);
      const h = createHash('sha256');
      for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
      const got = h.digest('hex');
      if (got !== info.sha256) throw new Error(`${path}: sha256 ${got} does not match index.json (${info.sha256})`);
    }
  }

  /** Closes the open shard files. */
  close(): void {
    for (const o of this.open.values()) closeSync(o.fd);
    this.open.clear();
  }
}
