/**
 * Safe reader for PyTorch checkpoints (`pytorch_model.bin`, `torch.save` of a state dict), without executing
 * anything. Two on-disk formats:
 *
 * - zip (torch >= 1.6, the default): `<archive>/data.pkl` (the pickled object), `<archive>/data/<key>` (one raw
 *   little-endian storage per key, stored uncompressed), `<archive>/version`, optionally `<archive>/byteorder`.
 * - legacy (torch < 1.6 or `_use_new_zipfile_serialization=False`): pickles of the magic number, the protocol
 *   version and the system info, then the object, then the list of storage keys, then each storage as an int64
 *   element count followed by its bytes.
 *
 * The object pickle is read by the restricted unpickler of `pickle.ts`, which allows only what a state dict
 * needs: dicts / `collections.OrderedDict`, tuples, lists, scalars, `torch._utils._rebuild_tensor_v2` (and the
 * older `_rebuild_tensor`, plus `_rebuild_parameter`), persistent ids `('storage', torch.<T>Storage, key, location,
 * numel)` and the storage classes as globals. Any other global (`os.system`, `builtins.eval`, ...) is refused with
 * an Error naming it. Tensors are materialised as the project's {@link Tensor}: float storages (fp32, fp16, bf16,
 * fp64) as Float32Array, integer / bool storages as Int32Array (int64 with a range check). Contiguous fp32 views
 * share the storage buffer (no copy, so tied tensors share memory); strided or offset views are copied contiguous.
 */
import { openSync, closeSync, readSync, fstatSync } from 'node:fs';
import type { Tensor } from './safetensors.js';
import { ZipReader, memorySource, fileSource, type ByteSource } from './zip.js';
import { PyDict, PyGlobal, PyOpaque, SafeCallable, isTuple, unpickle, UnpicklingError } from './pickle.js';

export { UnpicklingError } from './pickle.js';

/** Element types of torch storages. */
export type TorchDType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' |
  'uint8' | 'bool';

const STORAGE_CLASSES: Record<string, { dtype: TorchDType; size: number }> = {
  FloatStorage: { dtype: 'float32', size: 4 },
  HalfStorage: { dtype: 'float16', size: 2 },
  BFloat16Storage: { dtype: 'bfloat16', size: 2 },
  DoubleStorage: { dtype: 'float64', size: 8 },
  LongStorage: { dtype: 'int64', size: 8 },
  IntStorage: { dtype: 'int32', size: 4 },
  ShortStorage: { dtype: 'int16', size: 2 },
  CharStorage: { dtype: 'int8', size: 1 },
  ByteStorage: { dtype: 'uint8', size: 1 },
  BoolStorage: { dtype: 'bool', size: 1 },
};

/** A torch storage: raw bytes loaded on first use, converted once to a Float32Array or Int32Array. */
export class TorchStorage {
  private typedCache: Float32Array | Int32Array | null = null;

  constructor(readonly key: string, readonly dtype: TorchDType, readonly elementSize: number, readonly numel: number,
    readonly location: string, private readonly load: () => Uint8Array, private readonly label: string) {}

  /** True when the elements become Float32Array (float dtypes), false for Int32Array. */
  get isFloat(): boolean {
    return this.dtype === 'float32' || this.dtype === 'float16' || this.dtype === 'bfloat16' || this.dtype === 'float64';
  }

  /** The whole storage as float32 / int32 (cached; fp32 is a view of the bytes when they are 4-byte aligned). */
  typed(): Float32Array | Int32Array {
    if (this.typedCache) return this.typedCache;
    const b = this.load();
    const n = this.numel, want = n * this.elementSize;
    if (b.length !== want) {
      throw new Error(`${this.label}: storage '${this.key}' has ${b.length} bytes, expected ${want} ` +
        `(${n} x ${this.dtype})`);
    }
    this.typedCache = convertStorage(b, this.dtype, n, `${this.label}: storage '${this.key}'`);
    return this.typedCache;
  }
}

/** A tensor as `_rebuild_tensor_v2` describes it: a view (offset, shape, strides in elements) of a storage. */
export class TorchTensorRef {
  constructor(readonly storage: TorchStorage, readonly offset: number, readonly shape: number[], readonly stride: number[],
    readonly requiresGrad: boolean) {}
}

let f16Table: Float32Array | null = null;
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    t[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return (f16Table = t);
}

/** An aligned view of `b` as `Ctor`, copying only when b's offset is not a multiple of the element size. */
function aligned<T>(b: Uint8Array, size: number, make: (buf: ArrayBuffer, off: number, n: number) => T): T {
  if (b.byteOffset % size === 0) return make(b.buffer as ArrayBuffer, b.byteOffset, b.length / size);
  const c = b.slice();
  return make(c.buffer as ArrayBuffer, 0, c.length / size);
}

function convertStorage(b: Uint8Array, dtype: TorchDType, n: number, what: string): Float32Array | Int32Array {
  switch (dtype) {
    case 'float32': return aligned(b, 4, (buf, o, k) => new Float32Array(buf, o, k));
    case 'float64': return Float32Array.from(aligned(b, 8, (buf, o, k) => new Float64Array(buf, o, k)));
    case 'float16': {
      const u = aligned(b, 2, (buf, o, k) => new Uint16Array(buf, o, k)), t = halfTable(), out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = t[u[i]];
      return out;
    }
    case 'bfloat16': {
      const u = aligned(b, 2, (buf, o, k) => new Uint16Array(buf, o, k)), out = new Float32Array(n);
      const o32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) o32[i] = u[i] << 16;
      return out;
    }
    case 'int32': return aligned(b, 4, (buf, o, k) => new Int32Array(buf, o, k));
    case 'int64': {
      // Little-endian halves: the value fits int32 iff the high word is the sign extension of the low word.
      const w = aligned(b, 8, (buf, o, k) => new Int32Array(buf, o, 2 * k)), out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const lo = w[2 * i], hi = w[2 * i + 1];
        if (hi !== (lo >> 31)) {
          const v = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
          throw new Error(`${what}: int64 value ${v} at element ${i} does not fit in int32`);
        }
        out[i] = lo;
      }
      return out;
    }
    case 'int16': return Int32Array.from(aligned(b, 2, (buf, o, k) => new Int16Array(buf, o, k)));
    case 'int8': return Int32Array.from(new Int8Array(b.buffer, b.byteOffset, n));
    case 'uint8': case 'bool': return Int32Array.from(b.subarray(0, n));
  }
}

function isIntList(v: unknown): v is readonly number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0);
}

function rebuildTensor(args: readonly unknown[], label: string): TorchTensorRef {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!(storage instanceof TorchStorage)) throw new UnpicklingError(`${label}: _rebuild_tensor needs a storage`);
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) {
    throw new UnpicklingError(`${label}: bad storage offset ${String(offset)}`);
  }
  if (!isIntList(size) || !isIntList(stride) || size.length !== stride.length) {
    throw new UnpicklingError(`${label}: bad tensor size/stride ${JSON.stringify(size)} / ${JSON.stringify(stride)}`);
  }
  return new TorchTensorRef(storage, offset, [...size], [...stride], requiresGrad === true);
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expect = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expect) return false;
    expect *= shape[d];
  }
  return true;
}

/**
 * The tensor's elements, contiguous in row-major order: a zero-copy subarray of the storage when the view is
 * contiguous, otherwise a gathered copy. Throws an Error naming `name` when the view reaches outside its storage.
 */
export function materializeTensor(ref: TorchTensorRef, name: string, label = 'checkpoint'): Tensor {
  const { shape, stride, offset, storage } = ref;
  const numel = shape.reduce((a, b) => a * b, 1);
  let last = offset;
  for (let d = 0; d < shape.length; d++) if (shape[d] > 0) last += (shape[d] - 1) * stride[d];
  if (numel > 0 && last >= storage.numel) {
    throw new Error(`${label}: tensor '${name}' (offset ${offset}, shape [${shape}], stride [${stride}]) reaches ` +
      `element ${last} of a ${storage.numel}-element storage`);
  }
  const src = storage.typed();
  const dtype = storage.isFloat ? 'F32' : 'I32';
  if (isContiguous(shape, stride)) return { dtype, shape: [...shape], data: src.subarray(offset, offset + numel) };
  const out = storage.isFloat ? new Float32Array(numel) : new Int32Array(numel);
  const nd = shape.length, inner = shape[nd - 1], sIn = stride[nd - 1];
  const rows = numel / inner;
  const idx = new Array<number>(Math.max(nd - 1, 0)).fill(0);
  let base = offset;
  for (let r = 0; r < rows; r++) {
    const o = r * inner;
    if (sIn === 1) out.set(src.subarray(base, base + inner), o);
    else for (let j = 0, s = base; j < inner; j++, s += sIn) out[o + j] = src[s];
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++; base += stride[d];
      if (idx[d] < shape[d]) break;
      base -= stride[d] * shape[d]; idx[d] = 0;
    }
  }
  return { dtype, shape: [...shape], data: out };
}

/** The globals a state dict needs (everything else is refused). */
function torchGlobals(label: string): Map<string, unknown> {
  const g = new Map<string, unknown>();
  g.set('collections.OrderedDict', new SafeCallable('collections.OrderedDict', (args) => {
    const d = new PyDict(true);
    if (args.length > 1) throw new UnpicklingError(`${label}: OrderedDict takes at most one argument`);
    if (args.length === 1 && args[0] !== null) {
      const items = args[0];
      if (items instanceof PyDict) for (const [k, v] of items.map) d.map.set(k, v);
      else if (Array.isArray(items)) {
        for (const kv of items) {
          if (!Array.isArray(kv) || kv.length !== 2) throw new UnpicklingError(`${label}: OrderedDict item is not a pair`);
          d.map.set(kv[0], kv[1]);
        }
      } else throw new UnpicklingError(`${label}: OrderedDict argument is not a list of pairs`);
    }
    return d;
  }));
  g.set('torch._utils._rebuild_tensor_v2', new SafeCallable('torch._utils._rebuild_tensor_v2', (a) => rebuildTensor(a, label)));
  g.set('torch._utils._rebuild_tensor', new SafeCallable('torch._utils._rebuild_tensor', (a) => rebuildTensor(a, label)));
  g.set('torch._utils._rebuild_parameter', new SafeCallable('torch._utils._rebuild_parameter', (a) => {
    if (!(a[0] instanceof TorchTensorRef)) throw new UnpicklingError(`${label}: _rebuild_parameter needs a tensor`);
    return a[0];
  }));
  for (const name of Object.keys(STORAGE_CLASSES)) g.set(`torch.${name}`, new PyGlobal('torch', name));
  return g;
}

/**
 * Names refused even in `opaque` mode: modules and builtins whose only use in a pickle is to run code. Nothing is
 * ever called either way; refusing them names a hostile file as such instead of reading around it.
 */
const NEVER_OPAQUE = /^(os|posix|nt|subprocess|sys|shutil|socket|importlib|runpy|pickle|marshal|ctypes|code|pty|webbrowser|torch\.(load|hub|jit|ops|_ops))(\.|$)|^builtins\.(eval|exec|compile|getattr|setattr|delattr|__import__|open|globals|locals|vars|breakpoint|input|apply)$/;

/** The globals of {@link torchGlobals}, plus (when `opaque`) every other harmless name as a {@link PyOpaque} factory. */
function globalsFor(label: string, opaque: boolean): ReadonlyMap<string, unknown> {
  const g = torchGlobals(label);
  if (!opaque) return g;
  return new (class extends Map<string, unknown> {
    override has(q: string): boolean { return super.has(q) || !NEVER_OPAQUE.test(q); }
    override get(q: string): unknown {
      return super.has(q) ? super.get(q) : new SafeCallable(q, (args) => new PyOpaque(q, args));
    }
  })(g);
}

/** Options of {@link readTorchCheckpoint}. */
export interface TorchReadOptions {
  /**
   * Keep objects of classes outside the state-dict allowlist (numpy RNG states, Composer timestamps...) as inert
   * {@link PyOpaque} records instead of refusing the file; code-running names (`os.system`, `builtins.eval`, ...)
   * are still refused, and nothing is executed. Default false.
   */
  opaque?: boolean;
  /**
   * The dict whose tensors {@link TorchCheckpoint.tensors} holds, as a key path from the top-level object (default:
   * the top level, a state dict). E.g. `['state', 'model']` for Composer checkpoints. A missing path gives no tensors.
   */
  tensorsAt?: string[];
}

function descend(obj: unknown, path: string[] | undefined): unknown {
  let cur = obj;
  for (const k of path ?? []) cur = cur instanceof PyDict ? cur.map.get(k) : undefined;
  return path?.length && !(cur instanceof PyDict) ? new PyDict() : cur;
}

function storageClass(t: unknown, label: string): { dtype: TorchDType; size: number } {
  if (!(t instanceof PyGlobal) || t.module !== 'torch' || !(t.name in STORAGE_CLASSES)) {
    throw new UnpicklingError(`${label}: persistent id names an unknown storage type`);
  }
  return STORAGE_CLASSES[t.name];
}

/** What {@link parseTorchCheckpoint} returns. */
export interface TorchCheckpoint {
  /** Tensors by state-dict key (tied keys share their data). */
  tensors: Map<string, Tensor>;
  /** Top-level keys whose values are not tensors (skipped), e.g. nested dicts or numbers. */
  skipped: string[];
  format: 'zip' | 'legacy';
  /** The unpickled top-level object (a {@link PyDict} for a state dict; tensors appear as {@link TorchTensorRef}). */
  object: unknown;
}

function collect(obj: unknown, label: string): { tensors: Map<string, Tensor>; skipped: string[] } {
  if (!(obj instanceof PyDict)) throw new Error(`${label}: the checkpoint is not a state dict (top-level object is not a dict)`);
  const tensors = new Map<string, Tensor>(), skipped: string[] = [];
  for (const [k, v] of obj.map) {
    const key = String(k);
    if (v instanceof TorchTensorRef) tensors.set(key, materializeTensor(v, key, label));
    else skipped.push(key);
  }
  return { tensors, skipped };
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function readZipCheckpoint(zip: ZipReader, label: string, o: TorchReadOptions = {}): TorchCheckpoint {
  const pkl = zip.names().find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) throw new Error(`${label}: zip archive without '<archive>/data.pkl' (not a torch.save file)`);
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const bo = `${prefix}byteorder`;
  if (zip.entries.has(bo)) {
    const order = new TextDecoder().decode(zip.read(bo)).trim();
    if (order !== 'little') throw new Error(`${label}: byte order '${order}' is not supported (little-endian only)`);
  }
  const storages = new Map<string, TorchStorage>();
  const { value } = unpickle(zip.read(pkl), {
    label: `${label}:${pkl}`,
    globals: globalsFor(label, o.opaque ?? false),
    persistentLoad: (pid) => {
      if (!isTuple(pid) || pid[0] !== 'storage' || pid.length < 5) {
        throw new UnpicklingError(`${label}: unsupported persistent id (expected ('storage', type, key, location, numel))`);
      }
      const [, type, key, location, numel] = pid;
      const cls = storageClass(type, label);
      if (typeof key !== 'string' || typeof numel !== 'number' || !(numel >= 0)) {
        throw new UnpicklingError(`${label}: bad storage persistent id`);
      }
      const old = storages.get(key);
      if (old) {
        if (old.dtype !== cls.dtype) throw new UnpicklingError(`${label}: storage '${key}' used as ${old.dtype} and ${cls.dtype}`);
        return old;
      }
      const entry = `${prefix}data/${key}`;
      const s = new TorchStorage(key, cls.dtype, cls.size, numel, String(location), () => zip.read(entry), label);
      storages.set(key, s);
      return s;
    },
  });
  return { ...collect(descend(value, o.tensorsAt), label), format: 'zip', object: value };
}

function readLegacyCheckpoint(src: ByteSource, label: string, o: TorchReadOptions = {}): TorchCheckpoint {
  const data = src.read(0, src.size);
  const g = globalsFor(label, o.opaque ?? false);
  let pos = 0;
  const next = (persistentLoad?: (pid: unknown) => unknown) => {
    const r = unpickle(data, { label, globals: g, persistentLoad }, pos);
    pos = r.end;
    return r.value;
  };
  const magic = next();
  if (magic !== LEGACY_MAGIC) throw new Error(`${label}: not a PyTorch checkpoint (bad magic number)`);
  const proto = next();
  if (proto !== 1001) throw new Error(`${label}: unsupported legacy protocol version ${String(proto)}`);
  const sysInfo = next();
  if (sysInfo instanceof PyDict && sysInfo.map.get('little_endian') === false) {
    throw new Error(`${label}: big-endian legacy checkpoints are not supported`);
  }
  const storages = new Map<string, TorchStorage>();
  const bytesOf = new Map<string, Uint8Array>();
  const obj = next((pid) => {
    if (!isTuple(pid) || pid[0] !== 'storage' || pid.length < 5) {
      throw new UnpicklingError(`${label}: unsupported persistent id in legacy checkpoint`);
    }
    const [, type, key, location, numel, view] = pid;
    const cls = storageClass(type, label);
    if (typeof key !== 'string' || typeof numel !== 'number') throw new UnpicklingError(`${label}: bad storage persistent id`);
    if (view !== undefined && view !== null) {
      throw new Error(`${label}: legacy storage views (storage '${key}') are not supported; re-save with torch >= 1.6`);
    }
    let s = storages.get(key);
    if (!s) {
      s = new TorchStorage(key, cls.dtype, cls.size, numel, String(location), () => {
        const b = bytesOf.get(key);
        if (!b) throw new Error(`${label}: storage '${key}' has no data`);
        return b;
      }, label);
      storages.set(key, s);
    }
    return s;
  });
  const keys = next();
  if (!Array.isArray(keys)) throw new Error(`${label}: legacy storage key list missing`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (const k of keys) {
    const s = storages.get(String(k));
    if (!s) throw new Error(`${label}: storage '${String(k)}' listed but never used`);
    if (pos + 8 > data.length) throw new Error(`${label}: truncated at storage '${s.key}'`);
    const n = Number(dv.getBigInt64(pos, true));
    pos += 8;
    if (n !== s.numel) throw new Error(`${label}: storage '${s.key}' has ${n} elements on disk, ${s.numel} in its id`);
    const nb = n * s.elementSize;
    if (pos + nb > data.length) throw new Error(`${label}: truncated data of storage '${s.key}'`);
    bytesOf.set(s.key, data.subarray(pos, pos + nb));
    pos += nb;
  }
  return { ...collect(descend(obj, o.tensorsAt), label), format: 'legacy', object: obj };
}

function sniff(head: Uint8Array): 'zip' | 'legacy' | 'tar' | 'unknown' {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
  if (head.length >= 2 && head[0] === 0x80 && head[1] <= 5) return 'legacy';
  if (head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === 'ustar') return 'tar';
  return 'unknown';
}

function readFrom(src: ByteSource, label: string, o: TorchReadOptions = {}): TorchCheckpoint {
  const kind = sniff(src.read(0, Math.min(src.size, 512)));
  if (kind === 'zip') return readZipCheckpoint(new ZipReader(src, label), label, o);
  if (kind === 'legacy') return readLegacyCheckpoint(src, label, o);
  if (kind === 'tar') throw new Error(`${label}: tar-format torch checkpoints (torch < 0.4) are not supported`);
  throw new Error(`${label}: not a PyTorch checkpoint (neither a zip archive nor a pickle)`);
}

/**
 * Parses a `torch.save` checkpoint held in memory (zip or legacy format). Nothing in it is executed: see the
 * module comment for what is allowed.
 * @throws Error naming a refused global (e.g. `os.system`), a malformed archive or an out-of-range tensor view.
 */
export function parseTorchCheckpoint(buf: Uint8Array, label = 'checkpoint'): TorchCheckpoint {
  return readFrom(memorySource(buf), label);
}

/**
 * Reads a `torch.save` checkpoint file (e.g. `pytorch_model.bin`). For the zip format only the pickle and the
 * storages are read, each into its own aligned buffer; fp32 tensors are views of them (no per-element work).
 * @throws Error naming the file and a refused global, a malformed archive or an out-of-range tensor view.
 */
export function readTorchCheckpoint(path: string, options: TorchReadOptions = {}): TorchCheckpoint {
  const src = fileSource(path);
  try {
    return readFrom(src, path, options);
  } finally {
    src.close();
  }
}

/** The tensors of a `torch.save`d state dict file, by key (see {@link readTorchCheckpoint}). */
export function readTorchStateDict(path: string): Map<string, Tensor> {
  return readTorchCheckpoint(path).tensors;
}

/** True when the file starts like a torch checkpoint (zip archive or pickle). */
export function looksLikeTorchCheckpoint(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const n = Math.min(fstatSync(fd).size, 512), head = new Uint8Array(n);
    readSync(fd, head, 0, n, 0);
    const k = sniff(head);
    return k === 'zip' || k === 'legacy';
  } finally {
    closeSync(fd);
  }
}

