/**
 * Float64 oracles of the pruning kernels (native/kernels/pruning/), written to be obviously correct rather than
 * fast: the block Fisher inverse by Woodbury updates, the same inverse by direct inversion of
 * `lambda I + (1/m) sum g g^T`, the OBS saliencies and weight update (Kurtic et al. 2022, "The Optimal BERT
 * Surgeon", §3), and the selection of the k smallest scores by a full sort.
 *
 * `referencePruningKernels` has the signatures of `PruningKernels` (src/pruning/kernels.ts): float64 arithmetic,
 * float32 storage of `finv` and of the weights, like the native kernels. The `*64` functions keep everything in
 * float64 and are the tests' ground truth.
 */

/** Solves `A z = w` (A `n x n` float64, row-major, copied) by Gaussian elimination with partial pivoting. */
export function solveDense64(A: ArrayLike<number>, n: number, w: ArrayLike<number>): Float64Array {
  const M = Float64Array.from(A as ArrayLike<number>), z = Float64Array.from(w as ArrayLike<number>);
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let r = k + 1; r < n; r++) if (Math.abs(M[r * n + k]) > Math.abs(M[p * n + k])) p = r;
    if (M[p * n + k] === 0) throw new Error('solveDense64: singular matrix');
    if (p !== k) {
      for (let c = 0; c < n; c++) { const t = M[k * n + c]; M[k * n + c] = M[p * n + c]; M[p * n + c] = t; }
      const t = z[k]; z[k] = z[p]; z[p] = t;
    }
    for (let r = k + 1; r < n; r++) {
      const f = M[r * n + k] / M[k * n + k];
      for (let c = k; c < n; c++) M[r * n + c] -= f * M[k * n + c];
      z[r] -= f * z[k];
    }
  }
  for (let k = n - 1; k >= 0; k--) {
    let s = z[k];
    for (let c = k + 1; c < n; c++) s -= M[k * n + c] * z[c];
    z[k] = s / M[k * n + k];
  }
  return z;
}

/** Number of Fisher blocks of a d-element weight at block size B. */
const numBlocks = (d: number, B: number) => Math.ceil(d / B);

/**
 * The block Fisher inverse computed directly: each block `(lambda I + (1/m) sum_i g_i g_i^T)^-1` in float64
 * (the inverse column by column with {@link solveDense64}). Same `[ceil(d/B), B, B]` layout as the kernels (the
 * padded part of the last block is `(1/lambda) I`).
 * @param grads `[nGrads, d]` float32 gradients; m the Fisher's `1/m` (normally nGrads).
 */
export function directFisherInverse64(grads: Float32Array, nGrads: number, d: number, B: number, m: number,
  lambda: number): Float64Array {
  const nb = numBlocks(d, B), out = new Float64Array(nb * B * B);
  for (let b = 0; b < nb; b++) {
    const off = b * B, bs = Math.min(B, d - off);
    const F = new Float64Array(bs * bs);
    for (let r = 0; r < bs; r++) F[r * bs + r] = lambda;
    for (let i = 0; i < nGrads; i++) {
      for (let r = 0; r < bs; r++) {
        const gr = grads[i * d + off + r];
        for (let c = 0; c < bs; c++) F[r * bs + c] += gr * grads[i * d + off + c] / m;
      }
    }
    const base = b * B * B;
    for (let c = 0; c < bs; c++) {
      const e = new Float64Array(bs); e[c] = 1;
      const col = solveDense64(F, bs, e);
      for (let r = 0; r < bs; r++) out[base + r * B + c] = col[r];
    }
    for (let r = bs; r < B; r++) out[base + r * B + r] = 1 / lambda;
  }
  return out;
}

/** The same inverse by the rank-1 Woodbury updates, all in float64 (storage included). */
export function woodburyFisherInverse64(grads: Float32Array, nGrads: number, d: number, B: number, m: number,
  lambda: number): Float64Array {
  const nb = numBlocks(d, B), F = new Float64Array(nb * B * B);
  for (let b = 0; b < nb; b++) for (let r = 0; r < B; r++) F[b * B * B + r * B + r] = 1 / lambda;
  woodbury(F, grads, nGrads, d, B, m);
  return F;
}

function woodbury(F: Float64Array | Float32Array, grads: Float32Array, nGrads: number, d: number, B: number,
  m: number): void {
  const nb = numBlocks(d, B), u = new Float64Array(B);
  for (let b = 0; b < nb; b++) {
    const off = b * B, bs = Math.min(B, d - off), base = b * B * B;
    for (let i = 0; i < nGrads; i++) {
      const g = grads.subarray(i * d + off, i * d + off + bs);
      let alpha = m;
      for (let r = 0; r < bs; r++) {
        let s = 0;
        for (let c = 0; c < bs; c++) s += F[base + r * B + c] * g[c];
        u[r] = s;
        alpha += g[r] * s;
      }
      for (let r = 0; r < bs; r++) for (let c = 0; c < bs; c++) F[base + r * B + c] -= u[r] * u[c] / alpha;
    }
  }
}

/** The 4x4 sub-block of block `b` at rows/columns `r..r+3`, as a float64 row-major array. */
function sub4(F: ArrayLike<number>, base: number, B: number, r: number): number[] {
  const A: number[] = [];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) A.push(F[base + (r + i) * B + r + j]);
  return A;
}

/** Float32 machine epsilon (the `eps` of the unstructured score). */
export const FLOAT32_EPS = 2 ** -23;

export const referencePruningKernels = {
  name: 'reference' as const,

  fisherInverseUpdate(finv: Float32Array, grads: Float32Array, nGrads: number, d: number, B: number, m: number): void {
    woodbury(finv, grads, nGrads, d, B, m);
  },

  obsScores(finv: Float32Array, w: Float32Array, mask: Uint8Array | null, d: number, B: number, block4: boolean,
    out: Float32Array): void {
    for (let j = 0; j < d; j += block4 ? 4 : 1) {
      const b = Math.floor(j / B), r = j % B, base = b * B * B;
      const pruned = mask !== null && !mask[j];
      if (!block4) {
        out[j] = pruned ? -Infinity : w[j] * w[j] / (2 * finv[base + r * B + r] + FLOAT32_EPS);
      } else {
        const wq = [w[j], w[j + 1], w[j + 2], w[j + 3]];
        const z = solveDense64(sub4(finv, base, B, r), 4, wq);
        out[j / 4] = pruned ? -Infinity : 0.5 * (wq[0] * z[0] + wq[1] * z[1] + wq[2] * z[2] + wq[3] * z[3]);
      }
    }
  },

  obsUpdate(finv: Float32Array, w: Float32Array, pruned: Uint8Array, d: number, B: number, block4: boolean): void {
    const nb = numBlocks(d, B);
    for (let b = 0; b < nb; b++) {
      const off = b * B, bs = Math.min(B, d - off), base = b * B * B, z = new Float64Array(bs);
      for (let r = 0; r < bs; r += block4 ? 4 : 1) {
        if (!pruned[off + r]) continue;
        if (!block4) z[r] = w[off + r] / finv[base + r * B + r];
        else z.set(solveDense64(sub4(finv, base, B, r), 4, [w[off + r], w[off + r + 1], w[off + r + 2], w[off + r + 3]]), r);
      }
      const delta = new Float64Array(bs);
      for (let r = 0; r < bs; r++) for (let c = 0; c < bs; c++) delta[r] += finv[base + r * B + c] * z[c];
      for (let r = 0; r < bs; r++) w[off + r] = pruned[off + r] ? 0 : w[off + r] - delta[r];
    }
  },

  selectSmallest(scores: Float32Array, n: number, k: number, keep: Uint8Array): number {
    const idx = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < n; i++) if (Number.isNaN(scores[i])) throw new RangeError(`scores[${i}] is NaN`);
    idx.sort((a, b) => (scores[a] - scores[b]) || (a - b) || 0);
    keep.fill(1, 0, n);
    for (let i = 0; i < k; i++) keep[idx[i]] = 0;
    return k === 0 ? -Infinity : scores[idx[k - 1]];
  },
};
