/**
 * Activation memory: named float32 / int32 / uint8 buffers that grow to the largest batch seen and are then reused,
 * so a training loop with a fixed batch shape allocates nothing per step (llm.c's "allocate once" discipline).
 */
export class Workspace {
  private f = new Map<string, Float32Array>();
  private i = new Map<string, Int32Array>();
  private u = new Map<string, Uint8Array>();
  /** Total bytes held. */
  bytes = 0;

  private get<T extends Float32Array | Int32Array | Uint8Array>(m: Map<string, T>, name: string, n: number,
    make: (n: number) => T): T {
    let b = m.get(name);
    if (!b || b.length < n) {
      const cap = b ? Math.max(n, Math.ceil(b.length * 1.25)) : n;
      if (b) this.bytes -= b.byteLength;
      b = make(Math.max(cap, 1));
      this.bytes += b.byteLength;
      m.set(name, b);
    }
    return b.subarray(0, n) as T;
  }

  /** A float32 view of `n` elements (contents unspecified: callers overwrite or zero it). */
  f32(name: string, n: number): Float32Array {
    return this.get(this.f, name, n, (c) => new Float32Array(c));
  }

  /** A float32 view of `n` zeros. */
  zeros(name: string, n: number): Float32Array {
    const b = this.f32(name, n);
    b.fill(0);
    return b;
  }

  i32(name: string, n: number): Int32Array {
    return this.get(this.i, name, n, (c) => new Int32Array(c));
  }

  u8(name: string, n: number): Uint8Array {
    return this.get(this.u, name, n, (c) => new Uint8Array(c));
  }

  /** Frees everything (the next step re-allocates). */
  clear(): void {
    this.f.clear(); this.i.clear(); this.u.clear(); this.bytes = 0;
  }
}
