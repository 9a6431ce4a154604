/**
 * safetensors reader and writer (Hugging Face format: 8-byte little-endian header length, a JSON header mapping
 * tensor names to `{dtype, shape, data_offsets}` relative to the data section, then the raw little-endian data).
 * Reading returns float tensors as Float32Array (F32 zero-copy where aligned; F16/BF16/F64 converted) and integer
 * tensors as Int32Array (I32; I64 narrowed with a range check).
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../data/atomic.js';

/** A loaded tensor: data plus its shape. */
export interface Tensor {
  /** I8: int8 weights of a quantized model (with a float `<name>_scale` beside them). */
  dtype: 'F32' | 'I32' | 'I8';
  shape: number[];
  data: Float32Array | Int32Array | Int8Array;
}

const F32_VIEW_ALIGN = 4;

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * Parses a safetensors buffer. Throws an Error naming `source` and the offending tensor on a malformed header,
 * out-of-range offsets or an unsupported dtype.
 * @returns tensors by name, and the `__metadata__` map (empty if absent).
 */
export function parseSafetensors(buf: Uint8Array, source = 'safetensors'):
  { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  if (buf.length < 8) throw new Error(`${source}: file too short (${buf.length} bytes) to be safetensors`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hlen = Number(dv.getBigUint64(0, true));
  if (hlen > buf.length - 8) throw new Error(`${source}: header length ${hlen} exceeds the file size`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + hlen)));
  } catch (e) {
    throw new Error(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  const base = 8 + hlen;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = info as unknown as Record<string, string>; continue; }
    const { dtype, shape, data_offsets: [a, b] } = info;
    const numel = shape.reduce((x, y) => x * y, 1);
    if (!(a >= 0 && b >= a && base + b <= buf.length)) {
      throw new Error(`${source}: tensor '${name}' has data offsets [${a}, ${b}] outside the file`);
    }
    const bytes = buf.subarray(base + a, base + b);
    const width: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4, I64: 8, I8: 1 };
    if (!(dtype in width)) throw new Error(`${source}: tensor '${name}' has unsupported dtype ${dtype}`);
    if (bytes.length !== numel * width[dtype]) {
      throw new Error(`${source}: tensor '${name}' (${dtype} ${JSON.stringify(shape)}) has ${bytes.length} bytes, ` +
        `expected ${numel * width[dtype]}`);
    }
    const bdv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // A copy with its own ArrayBuffer (Buffer#slice would be a view of the whole file buffer).
    const copy = () => { const c = new Uint8Array(bytes.length); c.set(bytes); return c.buffer; };
    let t: Tensor;
    if (dtype === 'F32') {
      const data = (bytes.byteOffset % F32_VIEW_ALIGN === 0)
        ? new Float32Array(bytes.buffer, bytes.byteOffset, numel)
        : new Float32Array(copy());
      t = { dtype: 'F32', shape, data };
    } else if (dtype === 'F16' || dtype === 'BF16' || dtype === 'F64') {
      const data = new Float32Array(numel);
      for (let i = 0; i < numel; i++) {
        data[i] = dtype === 'F64' ? bdv.getFloat64(8 * i, true)
          : dtype === 'F16' ? f16ToF32(bdv.getUint16(2 * i, true))
            : new Float32Array(new Uint32Array([bdv.getUint16(2 * i, true) << 16]).buffer)[0];
      }
      t = { dtype: 'F32', shape, data };
    } else if (dtype === 'I32') {
      t = { dtype: 'I32', shape, data: new Int32Array(copy()) };
    } else if (dtype === 'I8') {
      t = { dtype: 'I8', shape, data: new Int8Array(copy()) };
    } else {
      const data = new Int32Array(numel);
      for (let i = 0; i < numel; i++) {
        const v = bdv.getBigInt64(8 * i, true);
        if (v < -2147483648n || v > 2147483647n) throw new Error(`${source}: tensor '${name}' value ${v} exceeds int32`);
        data[i] = Number(v);
      }
      t = { dtype: 'I32', shape, data };
    }
    tensors.set(name, t);
  }
  return { tensors, metadata };
}

/** Reads a `.safetensors` file (see {@link parseSafetensors}). */
export function readSafetensors(path: string) {
  return parseSafetensors(readFileSync(path), path);
}

/**
 * Serialises tensors (F32, I32 or I8) to safetensors bytes, names sorted, data 8-byte aligned as the reference writer
 * does. `metadata` goes to `__metadata__` (string values).
 */
export function serializeSafetensors(tensors: Map<string, Tensor>,
  metadata?: Record<string, string>): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const n of names) {
    const t = tensors.get(n)!;
    const numel = t.shape.reduce((x, y) => x * y, 1);
    if (numel !== t.data.length) throw new Error(`safetensors: tensor '${n}' shape ${JSON.stringify(t.shape)} has ${t.data.length} elements`);
    const bytes = numel * t.data.BYTES_PER_ELEMENT;
    header[n] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let hjson = JSON.stringify(header);
  while ((8 + Buffer.byteLength(hjson)) % 8 !== 0) hjson += ' ';
  const hbytes = Buffer.from(hjson, 'utf8');
  const out = new Uint8Array(8 + hbytes.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let p = 8 + hbytes.length;
  for (const n of names) {
    const d = tensors.get(n)!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), p);
    p += d.byteLength;
  }
  return out;
}

/** Writes a safetensors file atomically (temporary file, fsync, rename). */
export function writeSafetensors(path: string, tensors: Parameters<typeof serializeSafetensors>[0],
  metadata?: Record<string, string>): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
