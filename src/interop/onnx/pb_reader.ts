/**
 * A minimal protobuf reader (the wire format only), the counterpart of {@link PbWriter}: it splits a message into
 * its fields without a schema, keeping each field's encoded bytes so that a transformation can copy the fields it
 * does not change unchanged. Length-delimited payloads are views into the input (no copies).
 */

/** Wire types of the protobuf encoding. */
export const Wire = { VARINT: 0, FIXED64: 1, LEN: 2, FIXED32: 5 } as const;

/** One field of a message as it was encoded. */
export interface PbField {
  /** Field number. */
  field: number;
  /** Wire type ({@link Wire}). */
  wire: number;
  /** VARINT: the value (unsigned 64-bit); other wire types: 0n. */
  varint: bigint;
  /** LEN: the payload; FIXED32 / FIXED64: the 4 / 8 value bytes; VARINT: empty. */
  payload: Uint8Array;
  /** The whole field, tag included, as encoded (to copy it unchanged). */
  encoded: Uint8Array;
}

function readVarint(b: Uint8Array, pos: number, what: string): [bigint, number] {
  let v = 0n, shift = 0n;
  for (;;) {
    if (pos >= b.length) throw new Error(`protobuf: truncated varint in ${what}`);
    const byte = b[pos++];
    v |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [v, pos];
    shift += 7n;
    if (shift > 63n) throw new Error(`protobuf: varint longer than 10 bytes in ${what}`);
  }
}

/**
 * Splits the message `b` into its fields, in order. Throws an Error naming `what` on a truncated or malformed
 * message (an unknown wire type, a length past the end).
 */
export function readFields(b: Uint8Array, what = 'message'): PbField[] {
  const out: PbField[] = [];
  let pos = 0;
  while (pos < b.length) {
    const start = pos;
    const [tag, p1] = readVarint(b, pos, what);
    pos = p1;
    const field = Number(tag >> 3n), wire = Number(tag & 7n);
    let varint = 0n, payload: Uint8Array;
    if (wire === Wire.VARINT) {
      [varint, pos] = readVarint(b, pos, what);
      payload = b.subarray(pos, pos);
    } else if (wire === Wire.LEN) {
      const [len, p2] = readVarint(b, pos, what);
      if (p2 + Number(len) > b.length) throw new Error(`protobuf: field ${field} of ${what} runs past the end`);
      payload = b.subarray(p2, p2 + Number(len));
      pos = p2 + Number(len);
    } else if (wire === Wire.FIXED32 || wire === Wire.FIXED64) {
      const n = wire === Wire.FIXED32 ? 4 : 8;
      if (pos + n > b.length) throw new Error(`protobuf: field ${field} of ${what} runs past the end`);
      payload = b.subarray(pos, pos + n);
      pos += n;
    } else {
      throw new Error(`protobuf: unsupported wire type ${wire} (field ${field}) in ${what}`);
    }
    out.push({ field, wire, varint, payload, encoded: b.subarray(start, pos) });
  }
  return out;
}

/** The UTF-8 string of a LEN field. */
export function fieldString(f: PbField): string {
  return new TextDecoder().decode(f.payload);
}

/**
 * The integers of a repeated int64 field given as its fields (each either one VARINT or a packed LEN run), as
 * numbers (two's complement for negatives).
 */
export function fieldInts(fs: PbField[], what: string): number[] {
  const out: number[] = [];
  for (const f of fs) {
    if (f.wire === Wire.VARINT) out.push(Number(BigInt.asIntN(64, f.varint)));
    else if (f.wire === Wire.LEN) {
      let pos = 0;
      while (pos < f.payload.length) {
        const [v, p] = readVarint(f.payload, pos, what);
        out.push(Number(BigInt.asIntN(64, v)));
        pos = p;
      }
    } else throw new Error(`protobuf: field ${f.field} of ${what} is not an integer`);
  }
  return out;
}
