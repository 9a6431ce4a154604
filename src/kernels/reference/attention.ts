/**
 * Float64 oracle of the unpadded bidirectional ALiBi attention (MosaicBERT `BertUnpadSelfAttention`, the PyTorch
 * path: ALiBi, Press et al. 2022; unpadding, `bert_padding.py`; `BertUnpadSelfAttention`), plus the ALiBi slopes.
 *
 * The plain materialized algorithm, one (sequence, head) at a time, every intermediate in float64:
 * - `qkv: [nnz, 3*H*d]` float32, columns `[Q | K | V]`, head h in columns `h*d .. h*d+d` of each block;
 * - sequence b is rows `cuSeqlens[b] .. cuSeqlens[b+1]` (Int32Array, `cuSeqlens[0] = 0`, non-decreasing);
 * - `S_ij = (q_i . k_j) / sqrt(d) - slope_h * |i - j|` for i, j positions in the same sequence; other sequences'
 *   keys get probability exactly 0 (the reference's -10000 key mask underflows to 0 in float32);
 * - `P = softmax_j(S)` (max-subtracted), dropout `Pd_ij = P_ij * keep_ij / (1 - p)` with
 *   `keep_ij = philoxUniform(seed, stream, (h*nnz + r)*2^20 + j) >= p` (r the global query row);
 * - `out_i = sum_j Pd_ij v_j` `[nnz, H*d]`, `lse[h*nnz + r] = logsumexp_j S_ij` `[H, nnz]`.
 * The backward uses the textbook formulas on a fresh recomputation (it does not read `out` or `lse`):
 * `dV = Pd^T dO`, `dPd = dO V^T`, `dP = dPd * keep / (1-p)`, `dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik)`,
 * `dQ = dS K / sqrt(d)`, `dK = dS^T Q / sqrt(d)`, written into `dQkv` (overwritten).
 */
import type { Kernels } from '../types.js';
import { dropoutKeep } from './philox.js';

// ALiBi slopes live in src/model/alibi.ts (one implementation); re-exported for the kernel tests and benchmark.
export { alibiSlopes } from '../../model/alibi.js';

interface Shape { nnz: number; H: number; d: number; ld: number; ldo: number }

function checkArgs(fn: string, qkv: Float32Array, cuSeqlens: Int32Array, batch: number, numHeads: number,
  headDim: number, slopes: Float32Array, dropoutP: number): Shape {
  if (!Number.isInteger(batch) || batch < 0) throw new RangeError(`${fn}: batch must be an integer >= 0`);
  if (!Number.isInteger(numHeads) || numHeads < 1) throw new RangeError(`${fn}: numHeads must be >= 1`);
  if (!Number.isInteger(headDim) || headDim < 1) throw new RangeError(`${fn}: headDim must be >= 1`);
  if (cuSeqlens.length < batch + 1) throw new RangeError(`${fn}: cuSeqlens needs ${batch + 1} elements`);
  if (cuSeqlens[0] !== 0) throw new RangeError(`${fn}: cuSeqlens[0] must be 0`);
  for (let b = 0; b < batch; b++) {
    if (cuSeqlens[b + 1] < cuSeqlens[b]) throw new RangeError(`${fn}: cuSeqlens must be non-decreasing`);
    if (dropoutP > 0 && cuSeqlens[b + 1] - cuSeqlens[b] > 2 ** 20) {
      throw new RangeError(`${fn}: with dropout, sequences are limited to 2^20 tokens`);
    }
  }
  if (!(dropoutP >= 0 && dropoutP < 1)) throw new RangeError(`${fn}: dropoutP must be in [0, 1)`);
  const nnz = cuSeqlens[batch], H = numHeads, d = headDim;
  if (qkv.length < nnz * 3 * H * d) throw new RangeError(`${fn}: qkv needs ${nnz * 3 * H * d} elements`);
  if (slopes.length < H) throw new RangeError(`${fn}: slopes needs ${H} elements`);
  return { nnz, H, d, ld: 3 * H * d, ldo: H * d };
}

/** Per (sequence, head): float64 scores S, probabilities P (row-major L x L) and dropout multipliers M. */
function headProbs(qkv: Float32Array, sh: Shape, s0: number, L: number, h: number, slope: number, p: number,
  seed: number, stream: number): { S: Float64Array; P: Float64Array; M: Float64Array | null } {
  const { nnz, H, d, ld } = sh;
  const inv = 1 / Math.sqrt(d);
  const S = new Float64Array(L * L), P = new Float64Array(L * L);
  for (let i = 0; i < L; i++) {
    const qo = (s0 + i) * ld + h * d;
    let mx = -Infinity;
    for (let j = 0; j < L; j++) {
      const ko = (s0 + j) * ld + H * d + h * d;
      let dot = 0;
      for (let k = 0; k < d; k++) dot += qkv[qo + k] * qkv[ko + k];
      const s = dot * inv - slope * Math.abs(i - j);
      S[i * L + j] = s;
      if (s > mx) mx = s;
    }
    let sum = 0;
    for (let j = 0; j < L; j++) { const e = Math.exp(S[i * L + j] - mx); P[i * L + j] = e; sum += e; }
    for (let j = 0; j < L; j++) P[i * L + j] /= sum;
  }
  let M: Float64Array | null = null;
  if (p > 0) {
    M = new Float64Array(L * L);
    const c = 1 / (1 - p);
    for (let i = 0; i < L; i++) {
      const base = (h * nnz + s0 + i) * 2 ** 20;
      for (let j = 0; j < L; j++) M[i * L + j] = dropoutKeep(seed, stream, base + j, p) ? c : 0;
    }
  }
  return { S, P, M };
}

/**
 * Forward in float64: returns `out` `[nnz, H*d]` and `lse` `[H, nnz]` as Float64Arrays (for finite differences and
 * the float32 kernel below).
 */
export function attentionForward64(qkv: Float32Array, cuSeqlens: Int32Array, batch: number, numHeads: number,
  headDim: number, slopes: Float32Array, dropoutP: number, seed: number, stream: number):
  { out: Float64Array; lse: Float64Array } {
  const sh = checkArgs('attentionForward', qkv, cuSeqlens, batch, numHeads, headDim, slopes, dropoutP);
  const { nnz, H, d, ld, ldo } = sh;
  const out = new Float64Array(nnz * ldo), lse = new Float64Array(H * nnz);
  for (let b = 0; b < batch; b++) {
    const s0 = cuSeqlens[b], L = cuSeqlens[b + 1] - s0;
    if (L === 0) continue;
    for (let h = 0; h < H; h++) {
      const { S, P, M } = headProbs(qkv, sh, s0, L, h, slopes[h], dropoutP, seed, stream);
      for (let i = 0; i < L; i++) {
        let mx = -Infinity;
        for (let j = 0; j < L; j++) mx = Math.max(mx, S[i * L + j]);
        let sum = 0;
        for (let j = 0; j < L; j++) sum += Math.exp(S[i * L + j] - mx);
        lse[h * nnz + s0 + i] = mx + Math.log(sum);
        const oo = (s0 + i) * ldo + h * d;
        for (let j = 0; j < L; j++) {
          const w = P[i * L + j] * (M ? M[i * L + j] : 1);
          if (w === 0) continue;
          const vo = (s0 + j) * ld + 2 * H * d + h * d;
          for (let k = 0; k < d; k++) out[oo + k] += w * qkv[vo + k];
        }
      }
    }
  }
  return { out, lse };
}

/** Backward in float64 (textbook formulas, recomputing P): returns dQkv `[nnz, 3*H*d]` as a Float64Array. */
export function attentionBackward64(qkv: Float32Array, cuSeqlens: Int32Array, batch: number, numHeads: number,
  headDim: number, slopes: Float32Array, dropoutP: number, seed: number, stream: number,
  dOut: ArrayLike<number>): Float64Array {
  const sh = checkArgs('attentionBackward', qkv, cuSeqlens, batch, numHeads, headDim, slopes, dropoutP);
  const { nnz, H, d, ld, ldo } = sh;
  if (dOut.length < nnz * ldo) throw new RangeError(`attentionBackward: dOut needs ${nnz * ldo} elements`);
  const inv = 1 / Math.sqrt(d);
  const dqkv = new Float64Array(nnz * ld);
  for (let b = 0; b < batch; b++) {
    const s0 = cuSeqlens[b], L = cuSeqlens[b + 1] - s0;
    if (L === 0) continue;
    for (let h = 0; h < H; h++) {
      const { P, M } = headProbs(qkv, sh, s0, L, h, slopes[h], dropoutP, seed, stream);
      const qo = (r: number) => (s0 + r) * ld + h * d;
      const ko = (r: number) => (s0 + r) * ld + H * d + h * d;
      const vo = (r: number) => (s0 + r) * ld + 2 * H * d + h * d;
      const go = (r: number) => (s0 + r) * ldo + h * d;
      const dS = new Float64Array(L * L);
      for (let i = 0; i < L; i++) {
        // dP_ij = (dO_i . v_j) * m_ij ; dV_j += Pd_ij dO_i
        let rowDot = 0;
        for (let j = 0; j < L; j++) {
          const m = M ? M[i * L + j] : 1;
          let dot = 0;
          for (let k = 0; k < d; k++) dot += dOut[go(i) + k] * qkv[vo(j) + k];
          const dP = dot * m;
          dS[i * L + j] = dP;
          rowDot += P[i * L + j] * dP;
          const pd = P[i * L + j] * m;
          if (pd !== 0) for (let k = 0; k < d; k++) dqkv[vo(j) + k] += pd * dOut[go(i) + k];
        }
        for (let j = 0; j < L; j++) dS[i * L + j] = P[i * L + j] * (dS[i * L + j] - rowDot);
      }
      for (let i = 0; i < L; i++) {
        for (let j = 0; j < L; j++) {
          const g = dS[i * L + j] * inv;
          for (let k = 0; k < d; k++) {
            dqkv[qo(i) + k] += g * qkv[ko(j) + k];
            dqkv[ko(j) + k] += g * qkv[qo(i) + k];
          }
        }
      }
    }
  }
  return dqkv;
}

export const attentionReference: Pick<Kernels, 'attentionForward' | 'attentionBackward'> = {
  attentionForward(qkv, cuSeqlens, batch, numHeads, headDim, slopes, dropoutP, seed, stream, out, lse) {
    const r = attentionForward64(qkv, cuSeqlens, batch, numHeads, headDim, slopes, dropoutP, seed, stream);
    if (out.length < r.out.length) throw new RangeError(`attentionForward: out needs ${r.out.length} elements`);
    if (lse.length < r.lse.length) throw new RangeError(`attentionForward: lse needs ${r.lse.length} elements`);
    out.set(r.out);
    lse.set(r.lse);
  },
  attentionBackward(qkv, cuSeqlens, batch, numHeads, headDim, slopes, dropoutP, seed, stream, _out, _lse, dOut,
    dQkv) {
    const g = attentionBackward64(qkv, cuSeqlens, batch, numHeads, headDim, slopes, dropoutP, seed, stream, dOut);
    if (dQkv.length < g.length) throw new RangeError(`attentionBackward: dQkv needs ${g.length} elements`);
    dQkv.set(g);
  },
};
