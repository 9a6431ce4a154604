/**
 * A minimal protobuf writer (the wire format only: varints, fixed32, length-delimited fields), enough to encode the
 * ONNX messages the exporter needs. A message is a list of chunks; nesting a message appends its chunks without
 * copying them, so large tensor payloads are copied once, by {@link PbWriter.finish}.
 */

const WIRE_VARINT = 0, WIRE_LEN = 2, WIRE_FIXED32 = 5;

/** Encodes a non-negative or negative integer (int64 semantics, two's complement for negatives) as a varint. */
function varintBytes(v: number | bigint): Uint8Array {
  let x = typeof v === 'bigint' ? BigInt.asUintN(64, v) : BigInt.asUintN(64, BigInt(Math.trunc(v)));
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return Uint8Array.from(out);
}

/** One protobuf message under construction. */
export class PbWriter {
  private chunks: Uint8Array[] = [];
  private len = 0;

  /** Encoded size so far, in bytes. */
  get length(): number {
    return this.len;
  }

  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.len += b.length;
  }

  private tag(field: number, wire: number): void {
    this.push(varintBytes(field * 8 + wire));
  }

  /** An int32/int64/enum/bool field (varint). */
  int(field: number, v: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.push(varintBytes(v));
    return this;
  }

  /** A float field (fixed32). */
  float(field: number, v: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  /** A bytes field; the bytes are referenced, not copied, until {@link finish}. */
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.push(varintBytes(b.length));
    this.push(b);
    return this;
  }

  /** A string field (UTF-8). */
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  /** A packed repeated int64 field. */
  packedInts(field: number, vs: ReadonlyArray<number | bigint>): this {
    const inner = new PbWriter();
    for (const v of vs) inner.push(varintBytes(v));
    return this.message(field, inner);
  }

  /** Already-encoded fields (tags included), appended as they are; referenced, not copied, until {@link finish}. */
  raw(b: Uint8Array): this {
    this.push(b);
    return this;
  }

  /** An embedded message field. */
  message(field: number, m: PbWriter): this {
    this.tag(field, WIRE_LEN);
    this.push(varintBytes(m.len));
    for (const c of m.chunks) this.push(c);
    return this;
  }

  /** The encoded message as one contiguous buffer. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.len);
    let o = 0;
    for (const c of this.chunks) { out.set(c, o); o += c.length; }
    return out;
  }
}
