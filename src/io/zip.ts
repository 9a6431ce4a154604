/**
 * A small read-only ZIP reader (PKWARE APPNOTE: end-of-central-directory record, central directory, local file
 * headers, ZIP64 extensions), enough for PyTorch's `torch.save` archives and any ordinary zip. Entries are read on
 * demand through a byte source: a file descriptor (only the bytes of the requested entry are read, into a fresh,
 * aligned buffer) or an in-memory buffer (stored entries are returned as zero-copy views). Stored (method 0) and
 * deflated (method 8, via node:zlib) entries are supported; anything else is refused with an Error naming the entry.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

/** Random access to the bytes of an archive. */
export interface ByteSource {
  readonly size: number;
  /**
   * `length` bytes at `offset`. A memory source returns a view (no copy); a file source a new buffer whose
   * byteOffset is 0 (so typed-array views of it are aligned).
   */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

/** A {@link ByteSource} over a buffer in memory. */
export function memorySource(buf: Uint8Array): ByteSource {
  return {
    size: buf.length,
    read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > buf.length) {
        throw new RangeError(`read of ${length} bytes at ${offset} is outside the ${buf.length}-byte buffer`);
      }
      return buf.subarray(offset, offset + length);
    },
    close() { /* nothing to release */ },
  };
}

/** A {@link ByteSource} over a file; `close()` releases the descriptor. */
export function fileSource(path: string): ByteSource {
  const fd = openSync(path, 'r');
  let size: number;
  try { size = fstatSync(fd).size; } catch (e) { closeSync(fd); throw e; }
  let open = true;
  return {
    size,
    read(offset, length) {
      if (!open) throw new Error(`${path}: read after close`);
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`${path}: read of ${length} bytes at ${offset} is outside the ${size}-byte file`);
      }
      const out = new Uint8Array(new ArrayBuffer(length));
      let got = 0;
      while (got < length) {
        // readSync takes at most 2 GiB per call.
        const n = readSync(fd, out, got, Math.min(length - got, 0x40000000), offset + got);
        if (n <= 0) throw new Error(`${path}: unexpected end of file at ${offset + got}`);
        got += n;
      }
      return out;
    },
    close() { if (open) { open = false; closeSync(fd); } },
  };
}

/** One central-directory entry. */
export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Offset of the local file header. */
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50, SIG_Z64_LOC = 0x07064b50, SIG_Z64_EOCD = 0x06064b50;
const SIG_CEN = 0x02014b50, SIG_LOC = 0x04034b50;

function u64(dv: DataView, off: number, what: string): number {
  const v = dv.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`zip: ${what} ${v} is too large`);
  return Number(v);
}

/** A zip archive opened for reading. */
export class ZipReader {
  /** Entries by name, in central-directory order. */
  readonly entries = new Map<string, ZipEntry>();

  /**
   * Reads the central directory. Throws an Error naming `label` when the bytes are not a zip archive or the
   * directory is inconsistent (offsets outside the file).
   */
  constructor(readonly src: ByteSource, readonly label = 'zip') {
    const size = src.size;
    if (size < 22) throw new Error(`${label}: too short (${size} bytes) to be a zip archive`);
    // The EOCD record is the last 22 bytes plus a comment of at most 65535 bytes.
    const tailLen = Math.min(size, 22 + 0xffff);
    const tail = src.read(size - tailLen, tailLen);
    const tdv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tdv.getUint32(i, true) === SIG_EOCD && i + 22 + tdv.getUint16(i + 20, true) <= tailLen) { eocd = i; break; }
    }
    if (eocd < 0) throw new Error(`${label}: no end-of-central-directory record (not a zip archive)`);
    let count = tdv.getUint16(eocd + 10, true);
    let cdSize = tdv.getUint32(eocd + 12, true);
    let cdOffset = tdv.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || tdv.getUint32(loc, true) !== SIG_Z64_LOC) throw new Error(`${label}: ZIP64 locator missing`);
      const z64Off = u64(tdv, loc + 8, 'ZIP64 EOCD offset');
      if (z64Off + 56 > size) throw new Error(`${label}: ZIP64 end record outside the file`);
      const z = src.read(z64Off, 56);
      const zdv = new DataView(z.buffer, z.byteOffset, z.byteLength);
      if (zdv.getUint32(0, true) !== SIG_Z64_EOCD) throw new Error(`${label}: bad ZIP64 end record signature`);
      count = u64(zdv, 32, 'entry count');
      cdSize = u64(zdv, 40, 'central directory size');
      cdOffset = u64(zdv, 48, 'central directory offset');
    }
    if (cdOffset + cdSize > size) throw new Error(`${label}: central directory [${cdOffset}, +${cdSize}) outside the file`);
    const cd = src.read(cdOffset, cdSize);
    const dv = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
    const dec = new TextDecoder();
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cdSize || dv.getUint32(p, true) !== SIG_CEN) throw new Error(`${label}: corrupt central directory entry ${i}`);
      const method = dv.getUint16(p + 10, true);
      let csize = dv.getUint32(p + 20, true), usize = dv.getUint32(p + 24, true);
      const nlen = dv.getUint16(p + 28, true), xlen = dv.getUint16(p + 30, true), clen = dv.getUint16(p + 32, true);
      let lho = dv.getUint32(p + 42, true);
      if (p + 46 + nlen + xlen + clen > cdSize) throw new Error(`${label}: central directory entry ${i} overruns`);
      const name = dec.decode(cd.subarray(p + 46, p + 46 + nlen));
      // ZIP64 extended information: the 0xffffffff fields, in order usize, csize, offset.
      let x = p + 46 + nlen;
      const xend = x + xlen;
      while (x + 4 <= xend) {
        const id = dv.getUint16(x, true), len = dv.getUint16(x + 2, true);
        if (id === 0x0001) {
          let q = x + 4;
          if (usize === 0xffffffff && q + 8 <= x + 4 + len) { usize = u64(dv, q, 'entry size'); q += 8; }
          if (csize === 0xffffffff && q + 8 <= x + 4 + len) { csize = u64(dv, q, 'entry size'); q += 8; }
          if (lho === 0xffffffff && q + 8 <= x + 4 + len) { lho = u64(dv, q, 'entry offset'); q += 8; }
        }
        x += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize: csize, uncompressedSize: usize, localHeaderOffset: lho });
      p += 46 + nlen + xlen + clen;
    }
  }

  /** Opens a zip file (see the constructor). */
  static open(path: string): ZipReader {
    const src = fileSource(path);
    try { return new ZipReader(src, path); } catch (e) { src.close(); throw e; }
  }

  /** Names of the entries, in directory order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Byte offset of an entry's data in the archive (after its local header). */
  dataOffset(e: ZipEntry): number {
    if (e.localHeaderOffset + 30 > this.src.size) throw new Error(`${this.label}: '${e.name}' header outside the file`);
    const h = this.src.read(e.localHeaderOffset, 30);
    const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
    if (dv.getUint32(0, true) !== SIG_LOC) throw new Error(`${this.label}: bad local header for '${e.name}'`);
    return e.localHeaderOffset + 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
  }

  /**
   * The uncompressed bytes of entry `name`. Throws an Error naming the entry when it is absent, uses an
   * unsupported compression method or its size is inconsistent.
   */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new Error(`${this.label}: no entry '${name}'`);
    const off = this.dataOffset(e);
    if (off + e.compressedSize > this.src.size) throw new Error(`${this.label}: '${name}' data outside the file`);
    if (e.method === 0) {
      if (e.compressedSize !== e.uncompressedSize) throw new Error(`${this.label}: stored entry '${name}' has inconsistent sizes`);
      return this.src.read(off, e.compressedSize);
    }
    if (e.method === 8) {
      const raw = inflateRawSync(this.src.read(off, e.compressedSize));
      if (raw.length !== e.uncompressedSize) {
        throw new Error(`${this.label}: '${name}' inflated to ${raw.length} bytes, expected ${e.uncompressedSize}`);
      }
      // A fresh copy with byteOffset 0 so that typed views are aligned.
      const out = new Uint8Array(new ArrayBuffer(raw.length));
      out.set(raw);
      return out;
    }
    throw new Error(`${this.label}: entry '${name}' uses compression method ${e.method} (only stored and deflate are supported)`);
  }

  /** Releases the byte source (the file descriptor of {@link ZipReader.open}). */
  close(): void {
    this.src.close();
  }
}
