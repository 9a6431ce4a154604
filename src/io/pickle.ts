/**
 * A restricted Python unpickler (protocols 0-5 data opcodes, written from the `pickletools` opcode specification).
 * It builds plain data only: None, bools, ints (number, or bigint beyond 2^53), floats, str, bytes (Uint8Array),
 * lists (arrays), tuples (frozen arrays), dicts ({@link PyDict}). A GLOBAL is resolved only through the caller's
 * allowlist; any other name (`os.system`, `builtins.eval`, ...) is refused with an Error naming it, before
 * anything could be called. REDUCE / NEWOBJ call only the {@link SafeCallable}s of that allowlist, which are
 * TypeScript functions building data; nothing from the pickle is ever executed. INST, OBJ, the extension registry
 * and BUILD on anything but a dict (or a {@link PyOpaque}) are refused.
 */

/** An allowlisted Python callable, implemented in TypeScript (e.g. `collections.OrderedDict`). */
export class SafeCallable {
  constructor(readonly qualname: string, readonly fn: (args: readonly unknown[]) => unknown) {}
}

/** An allowlisted global that is data, not callable (e.g. `torch.FloatStorage` as a storage type tag). */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualname(): string { return `${this.module}.${this.name}`; }
}

/** A Python dict (or OrderedDict): insertion-ordered map; `state` holds what a BUILD set (e.g. `_metadata`). */
export class PyDict {
  readonly map = new Map<unknown, unknown>();
  state: unknown = undefined;
  constructor(readonly ordered = false) {}
}

/**
 * An object of a class outside the allowlist, kept as inert data: the class name, the arguments REDUCE / NEWOBJ
 * passed and the state BUILD set. Nothing is called; only a caller that opts in produces these (see
 * `readTorchCheckpoint`'s `opaque` option, used for the non-model parts of Composer checkpoints).
 */
export class PyOpaque {
  state: unknown = undefined;
  constructor(readonly qualname: string, readonly args: readonly unknown[]) {}
}

/** True for a Python tuple (tuples are frozen arrays, lists plain arrays). */
export function isTuple(v: unknown): v is readonly unknown[] {
  return Array.isArray(v) && Object.isFrozen(v);
}

export interface UnpickleOptions {
  /** Allowed globals by `module.name`: a SafeCallable, or any other value pushed as is (e.g. a PyGlobal). */
  globals: ReadonlyMap<string, unknown>;
  /** Resolves a persistent id (BINPERSID / PERSID); without it such opcodes are refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** For error messages (a file name). */
  label?: string;
}

/** Thrown for a pickle that this unpickler refuses or cannot parse. */
export class UnpicklingError extends Error {}

const MARK = Symbol('mark');

/**
 * Unpickles `data` starting at `start`; returns the value and the offset just after STOP (so that several pickles
 * written back to back can be read in turn).
 * @throws UnpicklingError naming the refused global or the bad opcode and its offset.
 */
export function unpickle(data: Uint8Array, opts: UnpickleOptions, start = 0): { value: unknown; end: number } {
  const label = opts.label ?? 'pickle';
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let p = start;
  let op = 0, opPos = 0;

  const fail = (msg: string): never => { throw new UnpicklingError(`${label}: ${msg} (opcode 0x${op.toString(16)} at offset ${opPos})`); };
  const need = (n: number) => { if (n < 0 || p + n > data.length) fail(`truncated: need ${n} bytes`); };
  const u8 = () => { need(1); return data[p++]; };
  const u16 = () => { need(2); const v = dv.getUint16(p, true); p += 2; return v; };
  const u32 = () => { need(4); const v = dv.getUint32(p, true); p += 4; return v; };
  const i32 = () => { need(4); const v = dv.getInt32(p, true); p += 4; return v; };
  const u64 = () => {
    need(8); const v = dv.getBigUint64(p, true); p += 8;
    if (v > BigInt(data.length)) fail(`length ${v} exceeds the data`);
    return Number(v);
  };
  const bytes = (n: number) => { need(n); const b = data.subarray(p, p + n); p += n; return b; };
  const line = () => {
    let e = p;
    while (e < data.length && data[e] !== 0x0a) e++;
    if (e >= data.length) fail('unterminated text argument');
    const s = latin1(data.subarray(p, e));
    p = e + 1;
    return s;
  };
  const pop = () => { if (!stack.length) fail('stack underflow'); return stack.pop(); };
  const top = () => { if (!stack.length) fail('stack underflow'); return stack[stack.length - 1]; };
  // Note: callers must take popMark()'s result before touching `stack` (it switches to the outer stack).
  const popMark = () => {
    const items = stack;
    if (!metastack.length) fail('MARK missing');
    stack = metastack.pop()!;
    return items;
  };
  const memoGet = (i: number) => { if (!memo.has(i)) fail(`memo key ${i} not defined`); return memo.get(i); };
  const str = (b: Uint8Array) => { try { return utf8.decode(b); } catch { return fail('invalid UTF-8 string'); } };
  const resolve = (module: string, name: string) => {
    const q = `${module}.${name}`;
    if (!opts.globals.has(q)) {
      fail(`refusing to load global '${q}': only the types a state dict needs are allowed, and nothing was executed`);
    }
    return opts.globals.get(q);
  };
  const call = (fnv: unknown, args: unknown) => {
    if (!(fnv instanceof SafeCallable)) fail(`object ${describe(fnv)} is not an allowed callable`);
    if (!Array.isArray(args)) fail('call arguments are not a tuple');
    return (fnv as SafeCallable).fn(args as unknown[]);
  };
  const setItems = (d: unknown, kv: unknown[]) => {
    if (!(d instanceof PyDict)) fail(`SETITEM(S) on ${describe(d)}, not a dict`);
    if (kv.length % 2) fail('odd number of items for SETITEMS');
    for (let i = 0; i < kv.length; i += 2) (d as PyDict).map.set(hashKey(kv[i], fail), kv[i + 1]);
  };
  const appendItems = (l: unknown, items: unknown[]) => {
    if (!Array.isArray(l) || Object.isFrozen(l)) fail(`APPEND(S) on ${describe(l)}, not a list`);
    for (const it of items) (l as unknown[]).push(it);
  };
  const persistent = (pid: unknown) => {
    if (!opts.persistentLoad) fail('persistent ids are not allowed here');
    return opts.persistentLoad!(pid);
  };
  const int = (v: bigint): number | bigint =>
    (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) ? Number(v) : v;
  const longLE = (b: Uint8Array): number | bigint => {
    if (!b.length) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return int(v);
  };

  for (;;) {
    opPos = p;
    op = u8();
    switch (op) {
      case 0x80: { const v = u8(); if (v > 5) fail(`unsupported pickle protocol ${v}`); break; } // PROTO
      case 0x95: u64(); break; // FRAME (length ignored: the whole buffer is in memory)
      case 0x2e: { // STOP
        if (metastack.length) fail('MARK left open at STOP');
        return { value: pop(), end: p };
      }
      case 0x28: metastack.push(stack); stack = []; break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      // Numbers.
      case 0x49: { // INT
        const s = line();
        if (s === '00') stack.push(false);
        else if (s === '01') stack.push(true);
        else { if (!/^[-+]?\d+$/.test(s)) fail(`bad INT '${s}'`); stack.push(int(BigInt(s))); }
        break;
      }
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4c: { // LONG
        const s = line().replace(/L$/, '');
        if (!/^[-+]?\d+$/.test(s)) fail(`bad LONG '${s}'`);
        stack.push(int(BigInt(s)));
        break;
      }
      case 0x8a: stack.push(longLE(bytes(u8()))); break; // LONG1
      case 0x8b: { const n = i32(); if (n < 0) fail('negative LONG4 length'); stack.push(longLE(bytes(n))); break; }
      case 0x46: { const s = line(); const v = Number(s); if (Number.isNaN(v) && !/nan/i.test(s)) fail(`bad FLOAT '${s}'`); stack.push(v); break; }
      case 0x47: { need(8); stack.push(dv.getFloat64(p, false)); p += 8; break; } // BINFLOAT (big-endian)
      // Strings and bytes.
      case 0x53: stack.push(pyStringLiteral(line(), fail)); break; // STRING
      case 0x54: { const n = i32(); if (n < 0) fail('negative BINSTRING length'); stack.push(latin1(bytes(n))); break; }
      case 0x55: stack.push(latin1(bytes(u8()))); break; // SHORT_BINSTRING
      case 0x56: stack.push(rawUnicodeEscape(line())); break; // UNICODE
      case 0x58: stack.push(str(bytes(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(str(bytes(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(str(bytes(u64()))); break; // BINUNICODE8
      case 0x42: stack.push(bytes(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(bytes(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: stack.push(bytes(u64()).slice()); break; // BINBYTES8
      // Constants.
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      // Containers.
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: { const items = popMark(); stack.push(items); break; } // LIST
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x29: stack.push(Object.freeze([])); break; // EMPTY_TUPLE
      case 0x74: { const items = popMark(); stack.push(Object.freeze(items)); break; } // TUPLE
      case 0x85: { const a = pop(); stack.push(Object.freeze([a])); break; } // TUPLE1
      case 0x86: { const b = pop(), a = pop(); stack.push(Object.freeze([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push(Object.freeze([a, b, c])); break; } // TUPLE3
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x64: { const d = new PyDict(); setItems(d, popMark()); stack.push(d); break; } // DICT
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      // Memo.
      case 0x67: { const s = line(); if (!/^\d+$/.test(s)) fail(`bad GET '${s}'`); stack.push(memoGet(Number(s))); break; }
      case 0x68: stack.push(memoGet(u8())); break; // BINGET
      case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
      case 0x70: { const s = line(); if (!/^\d+$/.test(s)) fail(`bad PUT '${s}'`); memo.set(Number(s), top()); break; }
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      // Globals and calls (allowlist only).
      case 0x63: { const module = line(), name = line(); stack.push(resolve(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(), fnv = pop(); stack.push(call(fnv, args)); break; } // REDUCE
      case 0x81: { const args = pop(), cls = pop(); stack.push(call(cls, args)); break; } // NEWOBJ
      case 0x62: { // BUILD
        const state = pop(), obj = top();
        if (!(obj instanceof PyDict) && !(obj instanceof PyOpaque)) fail(`BUILD on ${describe(obj)} is not allowed`);
        (obj as PyDict | PyOpaque).state = state;
        break;
      }
      case 0x51: stack.push(persistent(pop())); break; // BINPERSID
      case 0x50: stack.push(persistent(line())); break; // PERSID
      case 0x69: fail(`INST '${line()}.${line()}' is not allowed`); break;
      case 0x6f: fail('OBJ is not allowed'); break;
      case 0x92: fail('NEWOBJ_EX is not allowed'); break;
      case 0x82: case 0x83: case 0x84: fail('extension-registry opcodes are not allowed'); break;
      default: fail(`unsupported opcode '${String.fromCharCode(op)}'`);
    }
  }
}

function describe(v: unknown): string {
  if (v instanceof SafeCallable) return `'${v.qualname}'`;
  if (v instanceof PyGlobal) return `'${v.qualname}'`;
  if (v instanceof PyDict) return 'a dict';
  if (v instanceof PyOpaque) return `a '${v.qualname}' object`;
  if (v === null) return 'None';
  if (Array.isArray(v)) return Object.isFrozen(v) ? 'a tuple' : 'a list';
  return `a ${typeof v}`;
}

/** Dict keys: strings, numbers, bools, None and tuples of those (tuples keyed by a canonical string). */
function hashKey(k: unknown, fail: (m: string) => never): unknown {
  if (k === null || ['string', 'number', 'boolean', 'bigint'].includes(typeof k)) return k;
  if (isTuple(k)) return `(tuple)${JSON.stringify(k, (_, x) => typeof x === 'bigint' ? `${x}n` : x)}`;
  return fail(`unhashable dict key (${describe(k)})`);
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

/** A Python 2 `repr(str)` literal ('...' or "...") with the common escapes. */
function pyStringLiteral(s: string, fail: (m: string) => never): string {
  if (s.length < 2 || (s[0] !== "'" && s[0] !== '"') || s[s.length - 1] !== s[0]) fail('STRING is not quoted');
  const body = s.slice(1, -1);
  const esc: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
  return body.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) =>
    e[0] === 'x' && e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : (esc[e] ?? `\\${e}`));
}

function rawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, a?: string, b?: string) =>
    String.fromCodePoint(parseInt((a ?? b)!, 16)));
}
