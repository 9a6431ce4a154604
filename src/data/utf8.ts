/**
 * Strict UTF-8 decoding of input text (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). Input
 * files are decoded strictly by default so that a file in another encoding is an error naming the file and the
 * byte offset instead of text silently turned into U+FFFD; `'replace'` is the escape hatch (WHATWG decoding, each
 * invalid sequence becomes U+FFFD).
 */
import { isUtf8 } from 'node:buffer';

const decoder = new TextDecoder('utf-8');

/** What to do with bytes that are not UTF-8: fail ('strict', the default) or substitute U+FFFD ('replace'). */
export type EncodingErrors = 'strict' | 'replace';

/** Parses an `--encoding-errors` value. @throws Error naming the flag for anything but strict / replace. */
export function parseEncodingErrors(v: string | undefined, flag = '--encoding-errors'): EncodingErrors {
  if (v === undefined) return 'strict';
  if (v !== 'strict' && v !== 'replace') throw new Error(`${flag} must be 'strict' or 'replace', got '${v}'`);
  return v;
}

/** Thrown for invalid UTF-8; `offset` is the byte offset of the first invalid byte in the file. */
export class InvalidUtf8Error extends Error {
  constructor(readonly file: string, readonly offset: number) {
    super(`${file}: invalid UTF-8 at byte offset ${offset} (not a UTF-8 text file? ` +
      "'--encoding-errors replace' reads it with U+FFFD for each invalid sequence)");
    this.name = 'InvalidUtf8Error';
  }
}

/**
 * Byte offset of the first byte of `b` that does not start or continue a valid UTF-8 sequence, or -1 when `b` is
 * valid. A sequence cut by the end of `b` counts as invalid at its first byte.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  if (isUtf8(b)) return -1;
  for (let i = 0; i < b.length;) {
    const c = b[i];
    let n: number, lo = 0x80, hi = 0xbf;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) { n = 2; if (c === 0xe0) lo = 0xa0; else if (c === 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; if (c === 0xf0) lo = 0x90; else if (c === 0xf4) hi = 0x8f; }
    else return i;
    for (let k = 1; k <= n; k++) {
      const x = b[i + k];
      if (x === undefined || x < (k === 1 ? lo : 0x80) || x > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return -1;
}

/**
 * Decodes `bytes` as UTF-8 (a leading BOM dropped).
 * @param file the file name for the error; `base` the offset of `bytes[0]` in that file (streaming readers).
 * @throws InvalidUtf8Error naming the file and absolute byte offset, in 'strict' mode.
 */
export function decodeUtf8(bytes: Uint8Array, file: string, errors: EncodingErrors = 'strict', base = 0): string {
  if (errors === 'strict') {
    const bad = firstInvalidUtf8(bytes);
    if (bad >= 0) throw new InvalidUtf8Error(file, base + bad);
  }
  return decoder.decode(bytes);
}
