/**
 * Test-only writers: a pickle opcode builder, a zip writer (stored or deflated entries) and a `torch.save`-style
 * zip checkpoint writer for F32 / I32 tensors with arbitrary views. They let the tests craft checkpoints (strided
 * views, shards, malicious pickles) without Python.
 */
import { crc32, deflateRawSync } from 'node:zlib';
import type { Tensor } from '../../src/io/safetensors.js';

/** Emits pickle opcodes (protocol 2 plus SHORT_BINUNICODE / STACK_GLOBAL where asked). */
export class PickleBuilder {
  private bytes: number[] = [];

  raw(...b: number[]): this { this.bytes.push(...b); return this; }
  proto(v = 2): this { return this.raw(0x80, v); }
  mark(): this { return this.raw(0x28); }
  stop(): this { return this.raw(0x2e); }
  global(module: string, name: string): this {
    return this.raw(0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1'));
  }
  stackGlobal(module: string, name: string): this { return this.str(module).str(name).raw(0x93); }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const n = Buffer.alloc(4); n.writeUInt32LE(b.length);
    return this.raw(0x58, ...n, ...b);
  }
  int(v: number): this {
    const n = Buffer.alloc(4); n.writeInt32LE(v);
    return this.raw(0x4a, ...n);
  }
  tuple(): this { return this.raw(0x74); }
  emptyTuple(): this { return this.raw(0x29); }
  tuple1(): this { return this.raw(0x85); }
  reduce(): this { return this.raw(0x52); }
  binpersid(): this { return this.raw(0x51); }
  setitems(): this { return this.raw(0x75); }
  newfalse(): this { return this.raw(0x89); }
  binput(i: number): this { return this.raw(0x71, i); }
  binget(i: number): this { return this.raw(0x68, i); }
  ints(vals: number[]): this { this.mark(); for (const v of vals) this.int(v); return this.tuple(); }
  float(v: number): this { const b = Buffer.alloc(8); b.writeDoubleBE(v); return this.raw(0x47, ...b); }
  /** A JSON-like value: dicts (str keys), lists, strings, integers (int32), floats, booleans, null. */
  value(v: unknown): this {
    if (v === null || v === undefined) return this.raw(0x4e);
    if (typeof v === 'boolean') return this.raw(v ? 0x88 : 0x89);
    if (typeof v === 'string') return this.str(v);
    if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 2 ** 31 ? this.int(v) : this.float(v);
    if (Array.isArray(v)) { this.raw(0x5d).mark(); for (const x of v) this.value(x); return this.raw(0x65); }
    this.raw(0x7d).mark();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) this.str(k).value(x);
    return this.setitems();
  }
  build(): Uint8Array { return Uint8Array.from(this.bytes); }
}

/** A zip archive of the given entries (stored, or deflated when `deflate`), with correct CRCs. */
export function writeZip(entries: Array<{ name: string; data: Uint8Array; deflate?: boolean }>): Uint8Array {
  const parts: Buffer[] = [], central: Buffer[] = [];
  let off = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const body = e.deflate ? deflateRawSync(e.data) : Buffer.from(e.data);
    const crc = crc32(e.data);
    const loc = Buffer.alloc(30);
    loc.writeUInt32LE(0x04034b50, 0); loc.writeUInt16LE(20, 4); loc.writeUInt16LE(e.deflate ? 8 : 0, 8);
    loc.writeUInt32LE(crc, 14); loc.writeUInt32LE(body.length, 18); loc.writeUInt32LE(e.data.length, 22);
    loc.writeUInt16LE(name.length, 26);
    const cen = Buffer.alloc(46);
    cen.writeUInt32LE(0x02014b50, 0); cen.writeUInt16LE(20, 4); cen.writeUInt16LE(20, 6);
    cen.writeUInt16LE(e.deflate ? 8 : 0, 10); cen.writeUInt32LE(crc, 16); cen.writeUInt32LE(body.length, 20);
    cen.writeUInt32LE(e.data.length, 24); cen.writeUInt16LE(name.length, 28); cen.writeUInt32LE(off, 42);
    parts.push(loc, name, body);
    central.push(cen, name);
    off += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(entries.length, 8); eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12); eocd.writeUInt32LE(off, 16);
  return new Uint8Array(Buffer.concat([...parts, cd, eocd]));
}

/** A tensor entry for {@link writeTorchZip}: a view of storage `storage` (by index). */
export interface ViewSpec { key: string; storage: number; offset: number; shape: number[]; stride: number[] }

/**
 * A torch.save-style zip checkpoint: an OrderedDict of `_rebuild_tensor_v2` views over the given storages
 * (Float32Array -> FloatStorage, Int32Array -> IntStorage, BigInt64Array -> LongStorage, Uint16Array -> `u16Type`).
 */
export function writeTorchZip(storages: Array<Float32Array | Int32Array | BigInt64Array | Uint16Array>, views: ViewSpec[],
  opts: { archive?: string; deflate?: boolean; u16Type?: 'HalfStorage' | 'BFloat16Storage' } = {}): Uint8Array {
  const p = new PickleBuilder().proto(2).global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const v of views) {
    const s = storages[v.storage];
    const type = s instanceof Float32Array ? 'FloatStorage' : s instanceof Int32Array ? 'IntStorage'
      : s instanceof BigInt64Array ? 'LongStorage' : (opts.u16Type ?? 'HalfStorage');
    p.str(v.key).global('torch._utils', '_rebuild_tensor_v2').mark()
      .mark().str('storage').global('torch', type).str(String(v.storage)).str('cpu').int(s.length).tuple().binpersid()
      .int(v.offset).ints(v.shape).ints(v.stride).newfalse()
      .global('collections', 'OrderedDict').emptyTuple().reduce()
      .tuple().reduce();
  }
  p.setitems().stop();
  const a = opts.archive ?? 'archive';
  return writeZip([
    { name: `${a}/data.pkl`, data: p.build(), deflate: opts.deflate },
    ...storages.map((s, i) => ({ name: `${a}/data/${i}`, data: new Uint8Array(s.buffer, s.byteOffset, s.byteLength), deflate: opts.deflate })),
    { name: `${a}/version`, data: Buffer.from('3\n') },
  ]);
}

/** A contiguous torch.save-style checkpoint of F32 / I32 tensors (one storage each). */
export function writeTorchStateDict(tensors: Map<string, Tensor>): Uint8Array {
  const storages: Array<Float32Array | Int32Array> = [], views: ViewSpec[] = [];
  for (const [key, t] of tensors) {
    const stride: number[] = [];
    let s = 1;
    for (let d = t.shape.length - 1; d >= 0; d--) { stride.unshift(s); s *= t.shape[d]; }
    if (t.data instanceof Int8Array) throw new Error(`writeTorchStateDict: '${key}' is int8 (not supported here)`);
    views.push({ key, storage: storages.length, offset: 0, shape: t.shape, stride });
    storages.push(t.data.slice());
  }
  return writeTorchZip(storages, views);
}

/**
 * A Composer-style checkpoint (`torch.save(state_dict)` of Composer's Trainer): `{'state': {'model': OrderedDict of
 * 'model.<key>' -> tensor, 'optimizers': {}, 'timestamp': <composer Timestamp object>, 'run_name': ...}, 'rng':
 * [{'numpy': <numpy array object>, 'python': ...}]}` with F32 tensors (one storage each), and with `hfConfig` the
 * `state.integrations.huggingface` metadata Composer's HuggingFaceModel stores (the model config). The non-tensor objects
 * are classes outside a state dict's allowlist, as in real Composer files. `extraGlobal` adds one more object of
 * that class to the rng entry (e.g. `os.system`, to test refusal).
 */
export function writeComposerCheckpoint(tensors: Map<string, Tensor>, opts: { prefix?: string; extraGlobal?: [string, string]; noModel?: boolean;
  hfConfig?: Record<string, unknown> } = {}): Uint8Array {
  const prefix = opts.prefix ?? 'model.';
  const storages: Float32Array[] = [];
  const p = new PickleBuilder().proto(2).raw(0x7d).mark();           // EMPTY_DICT, MARK
  p.str('state').raw(0x7d).mark();
  if (!opts.noModel) {
    p.str('model').global('collections', 'OrderedDict').emptyTuple().reduce().mark();
    for (const [key, t] of tensors) {
      const stride: number[] = [];
      let s = 1;
      for (let d = t.shape.length - 1; d >= 0; d--) { stride.unshift(s); s *= t.shape[d]; }
      p.str(prefix + key).global('torch._utils', '_rebuild_tensor_v2').mark()
        .mark().str('storage').global('torch', 'FloatStorage').str(String(storages.length)).str('cpu').int(t.data.length).tuple().binpersid()
        .int(0).ints(t.shape).ints(stride).newfalse()
        .global('collections', 'OrderedDict').emptyTuple().reduce()
        .tuple().reduce();
      storages.push((t.data as Float32Array).slice());
    }
    p.setitems();
  }
  p.str('optimizers').raw(0x7d);
  p.str('timestamp').global('composer.core.time', 'Timestamp').emptyTuple().reduce().raw(0x7d).mark().str('batch').int(20).setitems().raw(0x62);
  p.str('run_name').str('mosaic-bert-test');
  // HuggingFaceModel's metadata: state.integrations.huggingface.model.config.{class, content}.
  if (opts.hfConfig) {
    p.str('integrations').value({ huggingface: { model: { config: { file_extension: '.json', content: opts.hfConfig,
      class: 'bert_layers.BertForMaskedLM' } }, tokenizer: {} } });
  }
  p.setitems();
  p.str('rng').raw(0x5d).mark().raw(0x7d).mark();                    // EMPTY_LIST, MARK, EMPTY_DICT, MARK
  p.str('numpy').global('numpy.core.multiarray', '_reconstruct').mark().global('numpy', 'ndarray').ints([0]).str('b').tuple().reduce()
    .mark().int(1).ints([624]).str('u4-state').tuple().raw(0x62);     // BUILD with a state tuple
  if (opts.extraGlobal) p.str('evil').global(opts.extraGlobal[0], opts.extraGlobal[1]).mark().str('echo hi').tuple().reduce();
  p.setitems().raw(0x65);                                              // SETITEMS, APPENDS
  p.setitems().stop();
  return writeZip([
    { name: 'ck/data.pkl', data: p.build() },
    ...storages.map((s, i) => ({ name: `ck/data/${i}`, data: new Uint8Array(s.buffer, s.byteOffset, s.byteLength) })),
    { name: 'ck/version', data: Buffer.from('3\n') },
  ]);
}
