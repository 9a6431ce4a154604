/**
 * Sparse storage of a Linear weight W [out, in] (row-major, the PyTorch `nn.Linear.weight` layout) for the sparse
 * inference kernels (native/kernels/sparse/sparse_linear.h), and the sparsity measures that choose between them.
 *
 * - CSR: `rowPtr` Int32Array[out + 1], `idx` Int32Array[nnz] (columns, increasing within a row), `vals` [nnz].
 * - BSR 1x4 along K (the oBERT / DeepSparse block, ../shared/docs/obert.md §4.2 and §4.5): blocks are the aligned
 *   groups W[o, 4g .. 4g+3]; a block is stored when any of its 4 weights is non-zero; `idx` holds g, `vals` the 4
 *   weights (columns past `in` zero when in % 4 != 0).
 * Zeros are exact zeros (`=== 0`, so -0 counts as zero); NaN counts as non-zero.
 */

export interface CsrArrays { rowPtr: Int32Array; idx: Int32Array; vals: Float32Array; }
export interface Bsr4Arrays { rowPtr: Int32Array; idx: Int32Array; vals: Float32Array; }

function checkShape(W: ArrayLike<number>, out: number, inFeatures: number, what: string): void {
  if (!Number.isInteger(out) || !Number.isInteger(inFeatures) || out < 0 || inFeatures < 0) {
    throw new RangeError(`${what}: out = ${out} and in = ${inFeatures} must be non-negative integers`);
  }
  if (W.length !== out * inFeatures) {
    throw new RangeError(`${what}: W has ${W.length} elements, expected out * in = ${out} * ${inFeatures}`);
  }
}

/** CSR of W [out, in]. Throws RangeError when W's length is not out * in. */
export function toCsrArrays(W: Float32Array, out: number, inFeatures: number): CsrArrays {
  checkShape(W, out, inFeatures, 'toCsr');
  let nnz = 0;
  for (let i = 0; i < W.length; i++) if (W[i] !== 0) nnz++;
  const rowPtr = new Int32Array(out + 1), idx = new Int32Array(nnz), vals = new Float32Array(nnz);
  let p = 0;
  for (let o = 0; o < out; o++) {
    const base = o * inFeatures;
    for (let k = 0; k < inFeatures; k++) {
      const w = W[base + k];
      if (w !== 0) { idx[p] = k; vals[p] = w; p++; }
    }
    rowPtr[o + 1] = p;
  }
  return { rowPtr, idx, vals };
}

/** 1x4 BSR of W [out, in]. Throws RangeError when W's length is not out * in. */
export function toBsr4Arrays(W: Float32Array, out: number, inFeatures: number): Bsr4Arrays {
  checkShape(W, out, inFeatures, 'toBsr4');
  const groups = Math.ceil(inFeatures / 4);
  const rowPtr = new Int32Array(out + 1);
  const keep = (o: number, g: number): boolean => {
    const base = o * inFeatures;
    for (let k = 4 * g; k < Math.min(4 * g + 4, inFeatures); k++) if (W[base + k] !== 0) return true;
    return false;
  };
  let nb = 0;
  for (let o = 0; o < out; o++) {
    for (let g = 0; g < groups; g++) if (keep(o, g)) nb++;
    rowPtr[o + 1] = nb;
  }
  const idx = new Int32Array(nb), vals = new Float32Array(4 * nb);
  let p = 0;
  for (let o = 0; o < out; o++) {
    for (let g = 0; g < groups; g++) {
      if (!keep(o, g)) continue;
      idx[p] = g;
      for (let q = 0; q < 4 && 4 * g + q < inFeatures; q++) vals[4 * p + q] = W[o * inFeatures + 4 * g + q];
      p++;
    }
  }
  return { rowPtr, idx, vals };
}

/** Fraction of exact zeros in W (0 for an empty W). */
export function sparsity(W: ArrayLike<number>): number {
  if (W.length === 0) return 0;
  let z = 0;
  for (let i = 0; i < W.length; i++) if (W[i] === 0) z++;
  return z / W.length;
}

/** Fraction of the aligned 1x4 groups W[o, 4g .. 4g+3] that are all zero (the BSR4 block sparsity). */
export function blockSparsity4(W: ArrayLike<number>, out: number, inFeatures: number): number {
  checkShape(W, out, inFeatures, 'blockSparsity4');
  const groups = Math.ceil(inFeatures / 4);
  if (out * groups === 0) return 0;
  let z = 0;
  for (let o = 0; o < out; o++) {
    for (let g = 0; g < groups; g++) {
      let zero = true;
      for (let k = 4 * g; k < Math.min(4 * g + 4, inFeatures) && zero; k++) zero = W[o * inFeatures + k] === 0;
      if (zero) z++;
    }
  }
  return z / (out * groups);
}
