/**
 * Streams the decompressed bytes of a file: gzip (`.gz`, node:zlib, multi-member included), Zstandard (`.zst` /
 * `.zstd`, fzstd's streaming decoder) or plain, chosen by the file name's last extension.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { decodeUtf8, type EncodingErrors } from './utf8.js';

/** Compression implied by a file name: 'gzip' for .gz, 'zstd' for .zst/.zstd, else 'none'. */
export function compressionOf(path: string): 'gzip' | 'zstd' | 'none' {
  const p = path.toLowerCase();
  if (p.endsWith('.gz')) return 'gzip';
  if (p.endsWith('.zst') || p.endsWith('.zstd')) return 'zstd';
  return 'none';
}

/** The file name without its compression extension, lower case: "a.jsonl.zst" -> "a.jsonl". */
export function stripCompression(path: string): string {
  return path.toLowerCase().replace(/\.(gz|zst|zstd)$/, '');
}

async function* zstdChunks(path: string): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  const dec = new Decompress((chunk) => { out.push(chunk); });
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    dec.push(chunk as Buffer);
    while (out.length) yield out.shift()!;
  }
  dec.push(new Uint8Array(0), true);
  while (out.length) yield out.shift()!;
}

/**
 * Decompressed chunks of `path`, in order, about 1 MiB at a time (bounded memory).
 * @throws the decoder's error (wrapped with the file name) for corrupt input.
 */
export async function* readBytes(path: string): AsyncGenerator<Uint8Array> {
  const kind = compressionOf(path);
  try {
    if (kind === 'zstd') {
      yield* zstdChunks(path);
    } else if (kind === 'gzip') {
      // pipeline (not pipe) so that a read error destroys the gunzip stream and surfaces here.
      yield* pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), createGunzip({ chunkSize: 1 << 20 }), () => {});
    } else {
      yield* createReadStream(path, { highWaterMark: 1 << 20 });
    }
  } catch (e) {
    throw new Error(`${path}: cannot read ${kind === 'none' ? '' : kind + ' '}data: ${(e as Error).message}`);
  }
}

/** One line of a text file: its text (no "\n", no trailing "\r") and 1-based line number. */
export interface Line {
  text: string;
  line: number;
}

/**
 * The UTF-8 lines of a (possibly compressed) file, streaming. A final line without "\n" is yielded too.
 * Decoding is strict by default: invalid UTF-8 is an {@link InvalidUtf8Error} naming the file and the byte offset
 * (in the decompressed stream for .gz / .zst); with `errors: 'replace'` it becomes U+FFFD. A NUL byte means a binary
 * file, never text, and is an error in either mode.
 * @throws Error naming the file and byte offset for a NUL byte or (strict) invalid UTF-8.
 */
export async function* readLines(path: string, errors: EncodingErrors = 'strict'): AsyncGenerator<Line> {
  const label = compressionOf(path) === 'none' ? path : `${path} (decompressed)`;
  let carry: Uint8Array | null = null;
  let lineNo = 0, lineStart = 0;
  const emit = (bytes: Uint8Array): Line => {
    const nul = bytes.indexOf(0);
    if (nul >= 0) throw new Error(`${label}: a NUL byte at byte offset ${lineStart + nul}: a binary file, not text`);
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    const text = decodeUtf8(bytes.subarray(0, end), label, errors, lineStart);
    lineStart += bytes.length + 1;
    return { text, line: ++lineNo };
  };
  let first = true;
  for await (const chunk of readBytes(path)) {
    if (first) {
      // As git and grep decide: a NUL byte near the start means a binary file (checked before any line is decoded).
      const nul = chunk.subarray(0, 8192).indexOf(0);
      if (nul >= 0) throw new Error(`${label}: a NUL byte at byte offset ${nul}: a binary file, not text`);
      first = false;
    }
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      let piece = chunk.subarray(start, nl);
      if (carry) { piece = concat(carry, piece); carry = null; }
      yield emit(piece);
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      carry = carry ? concat(carry, rest) : Uint8Array.from(rest);
    }
  }
  if (carry && carry.length) yield emit(carry);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
