/**
 * Writes samples into shard files of at most `shard_max_tokens` tokens each (see shard_format.ts), one shard in
 * memory at a time, each written atomically with its SHA-256.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { SHARD_HEADER_BYTES, SHARD_MAGIC, type ShardInfo } from './shard_format.js';

/** Shard file name of shard `i`: shard.00000.bin. */
export function shardFileName(i: number): string {
  return `shard.${String(i).padStart(5, '0')}.bin`;
}

export class ShardWriter {
  readonly shards: ShardInfo[] = [];
  private tokens: Uint16Array;
  private offsets: number[] = [0];
  private used = 0;

  /**
   * @param dir the split folder (must exist).
   * @param shard_max_tokens tokens per shard before a new one starts (a single sample is never split); < 2^31.
   */
  constructor(private readonly dir: string, private readonly shard_max_tokens: number) {
    if (!(shard_max_tokens >= 1 && shard_max_tokens < 2 ** 31)) throw new Error(`shard_max_tokens out of range: ${shard_max_tokens}`);
    this.tokens = new Uint16Array(Math.min(shard_max_tokens, 1 << 16));
  }

  /**
   * Appends one sample (token ids in [0, 65536), specials included).
   * @throws Error for an id outside uint16.
   */
  add(ids: ArrayLike<number>): void {
    if (this.used > 0 && this.used + ids.length > this.shard_max_tokens) this.flush();
    if (this.used + ids.length > this.tokens.length) {
      const grown = new Uint16Array(Math.max(this.used + ids.length, this.tokens.length * 2));
      grown.set(this.tokens.subarray(0, this.used));
      this.tokens = grown;
    }
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i];
      if (!(v >= 0 && v < 65536)) throw new Error(`token id ${v} does not fit uint16`);
      this.tokens[this.used + i] = v;
    }
    this.used += ids.length;
    this.offsets.push(this.used);
  }

  private flush(): void {
    const n = this.offsets.length - 1;
    if (n === 0) return;
    const bytes = new Uint8Array(SHARD_HEADER_BYTES + 4 * (n + 1) + 2 * this.used);
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < 8; i++) bytes[i] = SHARD_MAGIC.charCodeAt(i);
    dv.setUint32(8, n, true);
    dv.setUint32(12, 0, true);
    let p = SHARD_HEADER_BYTES;
    for (const o of this.offsets) { dv.setUint32(p, o, true); p += 4; }
    for (let i = 0; i < this.used; i++) { dv.setUint16(p, this.tokens[i], true); p += 2; }
    const file = shardFileName(this.shards.length);
    writeFileAtomic(join(this.dir, file), bytes);
    this.shards.push({ file, num_samples: n, num_tokens: this.used, bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex') });
    this.offsets = [0];
    this.used = 0;
  }

  /** Writes the last partial shard; returns every shard written. */
  finish(): ShardInfo[] {
    this.flush();
    return this.shards;
  }
}
