/** Test helpers: temporary folders and tiny hand-made compressed files. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary folder; `cleanup()` removes it. */
export function tempDir(prefix = 'mosaicbert-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A valid Zstandard frame holding `data` in raw (stored) blocks: magic, frame header with a 4-byte content size
 * and the single-segment flag, then blocks of at most 128 KiB (RFC 8878 section 3.1).
 */
export function zstdRawFrame(data: Uint8Array): Uint8Array {
  const parts: number[] = [0x28, 0xb5, 0x2f, 0xfd, 0xa0];   // magic; FHD: FCS 4 bytes, single segment
  const n = data.length;
  parts.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  const out: Uint8Array[] = [Uint8Array.from(parts)];
  let off = 0;
  do {
    const size = Math.min(128 * 1024, n - off);
    const last = off + size >= n ? 1 : 0;
    const h = (size << 3) | (0 << 1) | last;   // block type 0 = raw
    out.push(Uint8Array.from([h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff]), data.subarray(off, off + size));
    off += size;
  } while (off < n);
  return Buffer.concat(out);
}

/**
 * An MDS shard (mosaicml-streaming layout) of string/int64 columns: uint32 n, uint32 offsets[n + 1], samples of
 * [uint32 sizes of the variable columns][column bytes...].
 */
export function mdsShard(samples: Array<Record<string, string | number>>, names: string[], encodings: string[]):
  Uint8Array {
  const enc = new TextEncoder();
  const bodies = samples.map((s) => {
    const sizes: number[] = [];
    const data: Uint8Array[] = [];
    names.forEach((name, c) => {
      if (encodings[c] === 'int') {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setBigInt64(0, BigInt(s[name] as number), true);
        data.push(b);
      } else {
        const b = enc.encode(String(s[name]));
        sizes.push(b.length);
        data.push(b);
      }
    });
    const head = new Uint8Array(4 * sizes.length);
    sizes.forEach((v, i) => new DataView(head.buffer).setUint32(4 * i, v, true));
    return Buffer.concat([head, ...data]);
  });
  const n = samples.length;
  const header = new Uint8Array(4 + 4 * (n + 1));
  const dv = new DataView(header.buffer);
  dv.setUint32(0, n, true);
  let off = header.length;
  for (let i = 0; i <= n; i++) {
    dv.setUint32(4 + 4 * i, off, true);
    if (i < n) off += bodies[i].length;
  }
  return Buffer.concat([header, ...bodies]);
}
