/**
 * Forward backends of an inference Linear, `Y[rows, out] = X[rows, in] W^T + b` (W [out, in] row-major, the
 * PyTorch layout), each holding its weights prepared once:
 * - {@link packDense}: W packed into the SGEMM v2 B panels (native/kernels/gemm/sgemm_prepacked.h); bit-identical
 *   to `sgemm(false, true, ...)` + `addBias`, without re-packing W on every call.
 * - {@link toBsr4} / {@link toCsr}: fp32 1x4 block-sparse (BSR along K) and unstructured CSR
 *   (native/kernels/sparse/).
 * - {@link quantizeInt8}: int8 weights per output channel, activations quantized per token at run time, int32
 *   sums, dense or 1x4 block-sparse (native/kernels/quant/).
 * - {@link chooseBackend}: dense or sparse by the weight's own sparsity against the measured crossovers below.
 * Every backend checks its buffers on each call (the native side re-checks sizes and indices); errors are
 * RangeErrors naming the argument.
 */
import { native } from './native.js';
import { blockSparsity4, sparsity, toBsr4Arrays, toCsrArrays } from './sparse_formats.js';
import { quantizeRowsInt8 } from './quantize.js';

/** What the model's Linear calls at inference: `Y[rows, out] = X[rows, in] W^T + b`. */
export interface LinearForwardBackend {
  readonly kind: string;
  readonly outFeatures: number;
  readonly inFeatures: number;
  forward(X: Float32Array, rows: number, Y: Float32Array): void;
}

function checkWeights(W: Float32Array, b: Float32Array | null, out: number, inFeatures: number, what: string): void {
  if (!Number.isInteger(out) || !Number.isInteger(inFeatures) || out < 1 || inFeatures < 1) {
    throw new RangeError(`${what}: out = ${out} and in = ${inFeatures} must be positive integers`);
  }
  if (W.length !== out * inFeatures) {
    throw new RangeError(`${what}: W has ${W.length} elements, expected out * in = ${out} * ${inFeatures}`);
  }
  if (b && b.length !== out) throw new RangeError(`${what}: b has ${b.length} elements, expected out = ${out}`);
}

function checkCall(be: LinearForwardBackend, X: Float32Array, rows: number, Y: Float32Array): void {
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`${be.kind}.forward: rows = ${rows} must be >= 0`);
  if (X.length < rows * be.inFeatures) {
    throw new RangeError(`${be.kind}.forward: X has ${X.length} elements, needs rows * in = ${rows} * ${be.inFeatures}`);
  }
  if (Y.length < rows * be.outFeatures) {
    throw new RangeError(`${be.kind}.forward: Y has ${Y.length} elements, needs rows * out = ${rows} * ${be.outFeatures}`);
  }
}

/** The native sparse/int8 entry point of a numbered version (0: the winner). */
function sparseEntry(version: 0 | 1 | 2 | 3 | 4) {
  const a = native();
  return version === 1 ? a.sparseLinearForwardV1 : version === 2 ? a.sparseLinearForwardV2
    : version === 3 ? a.sparseLinearForwardV3 : version === 4 ? a.sparseLinearForwardV4 : a.sparseLinearForward;
}

/** A Float32Array of n floats starting on a 64-byte boundary (a view into a slightly larger buffer). */
function alignedF32(n: number): Float32Array {
  const buf = new Float32Array(n + 16);
  return buf.subarray(native().alignOffset64(buf), native().alignOffset64(buf) + n);
}

/**
 * Dense fp32 on pre-packed weights. The panel layout depends on the kernel path (AVX2: 16-column panels, portable:
 * 8), so the weights are packed for the path current at construction and again, from W, the first time another
 * path runs (tests switch paths; a model normally never does): W is kept by reference and must not change.
 */
export class DensePackedLinear implements LinearForwardBackend {
  readonly kind = 'dense-packed';
  private readonly packed = new Map<string, Float32Array>();
  constructor(private readonly W: Float32Array, readonly bias: Float32Array | null, readonly outFeatures: number,
    readonly inFeatures: number) {
    checkWeights(W, bias, outFeatures, inFeatures, 'packDense');
    this.panels();
  }

  /** The packed panels for the current kernel path (packing them on first use) and that path's name. */
  panels(): [Float32Array, string] {
    const path = native().kernelPath();
    let p = this.packed.get(path);
    if (!p) {
      p = alignedF32(native().linearPackedSize(this.outFeatures, this.inFeatures));
      native().linearPack(this.W, this.outFeatures, this.inFeatures, p);
      this.packed.set(path, p);
    }
    return [p, path];
  }

  forward(X: Float32Array, rows: number, Y: Float32Array): void {
    checkCall(this, X, rows, Y);
    const [p, path] = this.panels();
    native().linearPackedForward(p, path, this.outFeatures, this.inFeatures, this.bias, X, rows, Y);
  }
}

/**
 * fp32 row-compressed weights: 'csr' (unstructured sparsity; `idx` = column, one value each) or 'bsr4' (1x4 blocks
 * along K; `idx` = block column g for columns 4g .. 4g+3, `vals` 4 per block).
 */
export class SparseLinear implements LinearForwardBackend {
  constructor(readonly kind: 'csr' | 'bsr4', readonly rowPtr: Int32Array, readonly idx: Int32Array,
    readonly vals: Float32Array, readonly bias: Float32Array | null, readonly outFeatures: number,
    readonly inFeatures: number) {}
  /** Stored entries: non-zeros (csr) or 1x4 blocks (bsr4). */
  get stored(): number { return this.rowPtr[this.outFeatures]; }
  forward(X: Float32Array, rows: number, Y: Float32Array): void { this.forwardVersion(0, X, rows, Y); }
  /** forward with a numbered AVX2 kernel version (1 - 4; 0 = the winner, 4), for benchmarks and tests. */
  forwardVersion(version: 0 | 1 | 2 | 3 | 4, X: Float32Array, rows: number, Y: Float32Array): void {
    checkCall(this, X, rows, Y);
    sparseEntry(version)(this.kind, this.outFeatures, this.inFeatures, this.rowPtr, this.idx, this.vals, null, this.bias,
      X, rows, Y);
  }
}

/**
 * INT8 dynamic quantization (dense or 1x4 BSR). `Y[t, o] = (sum_k qx[t, k] qw[o, k]) * sx[t] * scale[o] + b[o]`
 * with qx, sx the per-token quantization of X at run time (native/kernels/sparse/sparse_linear.h).
 * {@link int8Weight} and {@link scale} are what a checkpoint stores (safetensors I8 [out, in] + F32 [out]);
 * {@link fromInt8} rebuilds the backend from them.
 */
export class Int8Linear implements LinearForwardBackend {
  readonly kind: 'q8-dense' | 'q8-bsr4';
  /** Kernel storage: q8-dense rows padded to a multiple of 4 columns; q8-bsr4 4 bytes per block. */
  private readonly vals: Int8Array;
  private readonly rowPtr: Int32Array | null;
  private readonly idx: Int32Array | null;
  /** Per row, 128 * (sum of its int8 weights) wrapped to int32: the offset correction of the v3 kernel. */
  private readonly rowCorr: Int32Array;

  /** q: int8 [out, in], scale: float32 [out]; sparse 'bsr4' stores only the aligned 1x4 groups with a non-zero. */
  constructor(private readonly q: Int8Array, readonly scale: Float32Array, readonly bias: Float32Array | null,
    readonly outFeatures: number, readonly inFeatures: number, sparse?: 'bsr4') {
    const inPad = Math.ceil(inFeatures / 4) * 4;
    if (sparse === 'bsr4') {
      this.kind = 'q8-bsr4';
      const groups = inPad / 4;
      const rowPtr = new Int32Array(outFeatures + 1);
      const keep = new Uint8Array(outFeatures * groups);
      let nb = 0;
      for (let o = 0; o < outFeatures; o++) {
        for (let g = 0; g < groups; g++) {
          for (let k = 4 * g; k < Math.min(4 * g + 4, inFeatures); k++) {
            if (q[o * inFeatures + k] !== 0) { keep[o * groups + g] = 1; nb++; break; }
          }
        }
        rowPtr[o + 1] = nb;
      }
      const idx = new Int32Array(nb), vals = new Int8Array(4 * nb);
      let p = 0;
      for (let o = 0; o < outFeatures; o++) {
        for (let g = 0; g < groups; g++) {
          if (!keep[o * groups + g]) continue;
          idx[p] = g;
          for (let e = 0; e < 4 && 4 * g + e < inFeatures; e++) vals[4 * p + e] = q[o * inFeatures + 4 * g + e];
          p++;
        }
      }
      this.rowPtr = rowPtr; this.idx = idx; this.vals = vals;
    } else {
      this.kind = 'q8-dense';
      const vals = new Int8Array(outFeatures * inPad);
      for (let o = 0; o < outFeatures; o++) vals.set(q.subarray(o * inFeatures, (o + 1) * inFeatures), o * inPad);
      this.rowPtr = null; this.idx = null; this.vals = vals;
    }
    this.rowCorr = new Int32Array(outFeatures);
    for (let o = 0; o < outFeatures; o++) {
      let s = 0;
      for (let k = o * inFeatures; k < (o + 1) * inFeatures; k++) s += q[k];
      this.rowCorr[o] = (s * 128) | 0;  // exact in a double (|s| <= 127 in), then wrapped as the kernel's int32
    }
  }

  /** The int8 weights [out, in] (row o is W[o, :] / scale[o], rounded), for saving. */
  int8Weight(): Int8Array { return this.q; }

  forward(X: Float32Array, rows: number, Y: Float32Array): void { this.forwardVersion(0, X, rows, Y); }
  /**
   * forward with a numbered AVX2 kernel version (1: sign trick, 2: VNNI when present, 3: VNNI register-blocked on
   * zmm when present, else 1; 0 = the winner, 3). All versions give bit-identical Y (exact int32 sums, one store).
   */
  forwardVersion(version: 0 | 1 | 2 | 3, X: Float32Array, rows: number, Y: Float32Array): void {
    checkCall(this, X, rows, Y);
    const bytes = new Uint8Array(this.vals.buffer, this.vals.byteOffset, this.vals.length);
    if (version === 0 || version === 3) {
      native().q8LinearForwardV3(this.kind, this.outFeatures, this.inFeatures, this.rowPtr, this.idx, bytes, this.scale,
        this.bias, X, rows, Y, this.rowCorr);
    } else {
      sparseEntry(version)(this.kind, this.outFeatures, this.inFeatures, this.rowPtr, this.idx, bytes, this.scale,
        this.bias, X, rows, Y);
    }
  }
}

/** Dense fp32 backend on pre-packed weights. */
export function packDense(W: Float32Array, b: Float32Array | null, out: number, inFeatures: number): DensePackedLinear {
  return new DensePackedLinear(W, b, out, inFeatures);
}

/** fp32 1x4 block-sparse backend (zeros of W are skipped in aligned groups of 4 along K). */
export function toBsr4(W: Float32Array, b: Float32Array | null, out: number, inFeatures: number): SparseLinear {
  checkWeights(W, b, out, inFeatures, 'toBsr4');
  const s = toBsr4Arrays(W, out, inFeatures);
  return new SparseLinear('bsr4', s.rowPtr, s.idx, s.vals, b, out, inFeatures);
}

/** fp32 CSR backend (every zero of W skipped). */
export function toCsr(W: Float32Array, b: Float32Array | null, out: number, inFeatures: number): SparseLinear {
  checkWeights(W, b, out, inFeatures, 'toCsr');
  const s = toCsrArrays(W, out, inFeatures);
  return new SparseLinear('csr', s.rowPtr, s.idx, s.vals, b, out, inFeatures);
}

/** INT8 backend: W quantized per output channel (src/kernels/quantize.ts), dense or 1x4 block-sparse. */
export function quantizeInt8(W: Float32Array, b: Float32Array | null, out: number, inFeatures: number,
  opts: { sparse?: 'bsr4' } = {}): Int8Linear {
  checkWeights(W, b, out, inFeatures, 'quantizeInt8');
  const { q, scale } = quantizeRowsInt8(W, out, inFeatures);
  return new Int8Linear(q, scale, b, out, inFeatures, opts.sparse);
}

/** INT8 backend from stored int8 weights [out, in] and scales [out] (a loaded checkpoint). */
export function fromInt8(q: Int8Array, scale: Float32Array, b: Float32Array | null, out: number, inFeatures: number,
  opts: { sparse?: 'bsr4' } = {}): Int8Linear {
  if (q.length !== out * inFeatures) {
    throw new RangeError(`fromInt8: q has ${q.length} elements, expected out * in = ${out} * ${inFeatures}`);
  }
  if (scale.length !== out) throw new RangeError(`fromInt8: scale has ${scale.length} elements, expected ${out}`);
  if (b && b.length !== out) throw new RangeError(`fromInt8: b has ${b.length} elements, expected ${out}`);
  for (let i = 0; i < q.length; i++) {
    if (q[i] === -128) throw new RangeError(`fromInt8: q[${i}] = -128; int8 weights must be in [-127, 127]`);
  }
  return new Int8Linear(q, scale, b, out, inFeatures, opts.sparse);
}

/**
 * Sparsity at which a sparse backend starts to beat the pre-packed dense one, measured on the reference 2-core
 * AMD EPYC (Zen 4, AVX2 path) over the BERT-base shapes 768x768, 3072x768, 768x3072, 2304x768 at batch 1 x 128
 * tokens and at 3072 tokens, random masks (`node bin/mosaicbert.js bench kernels --only
 * linear [--threads 1]`, bench/RESULTS.md "Linear backends"). Interpolated crossovers (2026-11-29):
 *                                   1 thread (a quiet core)      2 threads (machine shared, +-30% per point)
 *   fp32 BSR4 vs packed dense fp32: 0.36 - 0.47 block sparsity   0.34 - 0.62 (median 0.53)
 *   fp32 CSR vs packed dense fp32:  0.53 - 0.58 sparsity         0.45 - 0.71 (median 0.56)
 *   int8 BSR4 vs int8 dense:        0.31 - 0.37 block sparsity   < 0.30 - 0.52 (median 0.37)
 * The thresholds are the highest clean (1-thread) crossover plus a margin for the 2-thread run's scatter; near a
 * crossover both backends run within ~10-20% of each other, so the margin costs little either way.
 * int8 rerun with the v3 kernels (2026-11-29, 1 thread, load average ~3): 0.31 - 0.39 block sparsity for the
 * in = 768 shapes, 0.57 - 0.60 for FFN down (in = 3072: the BSR4 row walk is bound by its tile loads, dense v3 by
 * VPDPBUSD); q8Bsr4 stays 0.45, between the two (a single threshold costs at most ~20% near either crossover).
 * fp32 rerun with the v4 kernels, the winner since (v1's row walk with a lighter prefetch: the fastest in a
 * model's forward at 80-90%, 1.04-1.2x v3 there, but 1.3-1.4x slower than v3 on a single hot matrix at 50%), 1 thread,
 * same command, 2026-11-29, load average 1-2: BSR4 0.51 - 0.55, CSR 0.62 - 0.64 (with v3 as the winner, load 2-4.6:
 * 0.32 - 0.50 and 0.46 - 0.62). The fp32 thresholds moved up with it by the same rule: bsr4 0.55 -> 0.6, csr 0.65
 * -> 0.7.
 */
export const SPARSE_CROSSOVER = {
  /** fp32 BSR4 vs packed dense fp32: block sparsity (fraction of all-zero 1x4 groups). */
  bsr4: 0.6,
  /** fp32 CSR vs packed dense fp32: element sparsity. */
  csr: 0.7,
  /** int8 BSR4 vs int8 dense: block sparsity. */
  q8Bsr4: 0.45,
} as const;

/**
 * Picks the backend for one Linear from its own weights. The time of a sparse kernel is taken as proportional to
 * what it stores (the density 1 - s), so with the crossover c (where it ties with dense) its cost relative to
 * dense is (1 - s) / (1 - c). fp32: the cheapest of dense (1), BSR4 (block sparsity) and CSR (element sparsity);
 * a weight with unstructured zeros can still be cheapest as BSR4 when whole 1x4 groups are zero often enough.
 * 'q8': int8 BSR4 when its cost is below int8 dense, else int8 dense.
 */
export function chooseBackend(W: Float32Array, b: Float32Array | null, out: number, inFeatures: number,
  opts: { dtype: 'fp32' | 'q8' }): LinearForwardBackend {
  checkWeights(W, b, out, inFeatures, 'chooseBackend');
  const bs = blockSparsity4(W, out, inFeatures);
  if (opts.dtype === 'q8') {
    const sparse = (1 - bs) / (1 - SPARSE_CROSSOVER.q8Bsr4) < 1;
    return quantizeInt8(W, b, out, inFeatures, sparse ? { sparse: 'bsr4' } : {});
  }
  if (opts.dtype !== 'fp32') throw new RangeError(`chooseBackend: dtype '${String(opts.dtype)}' is not 'fp32' or 'q8'`);
  const costBsr = (1 - bs) / (1 - SPARSE_CROSSOVER.bsr4);
  const costCsr = (1 - sparsity(W)) / (1 - SPARSE_CROSSOVER.csr);
  if (Math.min(costBsr, costCsr) >= 1) return packDense(W, b, out, inFeatures);
  return costBsr <= costCsr ? toBsr4(W, b, out, inFeatures) : toCsr(W, b, out, inFeatures);
}
