/**
 * Activation memory, allocated once and reused (llm.c's `ActivationTensors` discipline): every layer holds its
 * saved activations as typed fields (`GrowF32`, `GrowI32`, `GrowU8`) that grow to the largest batch seen and then
 * stay put, so a training loop with a fixed batch shape allocates nothing per step. A backward pass reads the very
 * fields its forward wrote; no buffer is ever looked up by name. The {@link ActivationArena} of a model counts the
 * bytes held (`activationBytes()`), which the long-input benchmark reports.
 */

/** Byte counter shared by every buffer of one model. */
export class ActivationArena {
  /** Bytes currently held by the arena's buffers. */
  bytes = 0;
  f32(): GrowF32 { return new GrowF32(this); }
  i32(): GrowI32 { return new GrowI32(this); }
  u8(): GrowU8 { return new GrowU8(this); }
  /** One float32 buffer per name: a layer's activation struct, e.g. `arena.f32s('qkv', 'ctx')`. */
  f32s<K extends string>(...names: K[]): Record<K, GrowF32> {
    return Object.fromEntries(names.map((n) => [n, this.f32()])) as Record<K, GrowF32>;
  }
}

type Typed = Float32Array | Int32Array | Uint8Array;

abstract class Grow<T extends Typed> {
  protected buf: T | null = null;
  protected n = 0;
  constructor(private readonly arena: ActivationArena) {}
  protected abstract make(n: number): T;

  /**
   * A view of the first `n` elements, growing the storage (by at least 1.25x) when it is too small. Contents are
   * unspecified on growth; otherwise they are what the last writer left.
   */
  get(n: number): T {
    if (!this.buf || this.buf.length < n) {
      const cap = Math.max(1, this.buf ? Math.max(n, Math.ceil(this.buf.length * 1.25)) : n);
      if (this.buf) this.arena.bytes -= this.buf.byteLength;
      this.buf = this.make(cap);
      this.arena.bytes += this.buf.byteLength;
    }
    this.n = n;
    return this.buf.subarray(0, n) as T;
  }

  /** The view the last `get` returned (same length). @throws Error before any `get`. */
  get last(): T {
    if (!this.buf) throw new Error('activation buffer read before the forward wrote it');
    return this.buf.subarray(0, this.n) as T;
  }

  /** A view of `n` zeros. */
  zeros(n: number): T {
    const v = this.get(n);
    v.fill(0);
    return v;
  }
}

/** A growable float32 activation buffer. */
export class GrowF32 extends Grow<Float32Array> {
  protected make(n: number): Float32Array { return new Float32Array(n); }
}

/** A growable int32 buffer (position ids, row indices). */
export class GrowI32 extends Grow<Int32Array> {
  protected make(n: number): Int32Array { return new Int32Array(n); }
}

/** A growable uint8 buffer (dropout keep masks). */
export class GrowU8 extends Grow<Uint8Array> {
  protected make(n: number): Uint8Array { return new Uint8Array(n); }
}
