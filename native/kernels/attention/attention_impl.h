// The tiled attention algorithm, written once and instantiated by each path with its primitives (`Ops`).
//
// Tiles are kept TRANSPOSED, keys x queries: ST[t][q] = k_{j0+t} . q_{i0+q}. Then
// - the score product ST = K Q^T reads K straight from qkv (rows, broadcast) against Q^T packed once per task;
// - the softmax statistics of a query are per lane: max/sum over keys are vertical vector operations (no
//   horizontal reductions), 8 queries per vector;
// - the output is kept as O^T [d, queries]: O^T += V^T P^T reads V straight from qkv, and the online-softmax
//   rescaling is an elementwise multiply of O^T's rows by the per-query correction.
// No K/V packing in the forward; the backward packs Q, dOut (both layouts) once per (sequence, head).
//
// Ops (static members):
//   gemm(M, N, K, A, am, ak, B, ldb, C, ldc, acc): C[m][n] (+)= sum_k A[m*am + k*ak] * B[k*ldb + n], any M,
//     N a multiple of 8; acc = false overwrites C.
//   fwd_softmax(ST, n, w, scale, slope, di0, mT, m, l, corr): online-softmax update by one key block for w query
//     lanes (w a multiple of 8; lane q is query i0+q, row t key j0+t, di0 = i0 - j0): S = ST*scale - slope*|di0+q-t|,
//     m_new = max(m, max_t S), corr = exp(m - m_new), p = exp(S - m_new), l = l*corr + sum_t p (in t order),
//     ST = p * (mT ? mT : 1), m = m_new.
//   scale_rows(X, rows, w, ld, corr): X[r][q] *= corr[q].
//   keep(P, base, j0, n, mult): dropout multipliers of one query row, as keep_row (attention.h).
//   transpose_in(src, ld, d, n, w, XT): XT[k*w + t] = src[t*ld + k] (t < n, k < d), zero for n <= t < w.
//   transpose_out(XT, w, d, n, dst, ld, rs, scale): dst[t*ld + k] = XT[k*w + t] * (rs ? rs[t] : scale).
//   bwd_tile(ST, dPT, n, w, scale, slope, di0, lse, D, mT): p = exp(ST*scale - slope*|di0+q-t| - lse[q]),
//     mu = mT ? mT : 1, ST = p*mu (Pd), dPT = p*(dPT*mu - D[q]) (dS).
// Everything here has internal linkage (anonymous namespace): the portable and the AVX2 translation units each get
// their own copy, compiled with their own flags (no inline function is shared between the two).
#pragma once
#include <math.h>

#include <cstdint>
#include <cstring>

#include "common/pool.h"
#include "kernels/attention/attention.h"

namespace mb {
namespace attn {
namespace {

inline int64_t up8(int64_t x) { return (x + 7) & ~int64_t(7); }
inline int64_t lmin(int64_t a, int64_t b) { return a < b ? a : b; }

// Last b with prefix[b] <= g (prefix non-decreasing, prefix[0] = 0 <= g < prefix[batch]).
inline int64_t find_seq(const int64_t* prefix, int64_t batch, int64_t g) {
  int64_t lo = 0, hi = batch;  // invariant: prefix[lo] <= g < prefix[hi]
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (prefix[mid] <= g) lo = mid; else hi = mid;
  }
  return lo;
}

// X^T of n rows (row t at src + t*ld_src, d floats): XT[k*w + t], zero for n <= t < w.
inline void pack_T(const float* src, int64_t ld_src, int64_t d, int64_t n, int64_t w, float* XT) {
  for (int64_t k = 0; k < d; ++k) {
    float* dst = XT + k * w;
    for (int64_t t = 0; t < n; ++t) dst[t] = src[t * ld_src + k];
    for (int64_t t = n; t < w; ++t) dst[t] = 0.0f;
  }
}

// n rows (d floats each) into R[t*ld + k], columns d..ld zero.
inline void pack_rows(const float* src, int64_t ld_src, int64_t d, int64_t n, int64_t ld, float* R) {
  for (int64_t t = 0; t < n; ++t) {
    std::memcpy(R + t * ld, src + t * ld_src, sizeof(float) * static_cast<size_t>(d));
    for (int64_t k = d; k < ld; ++k) R[t * ld + k] = 0.0f;
  }
}

// Dropout multipliers, transposed: mT[t*w + q] for keys j0+t (t < n) and queries i0+q (q < m); 0 for q >= m.
template <class Ops>
inline void mask_T(const Problem& P, int64_t h, int64_t s0, int64_t i0, int64_t m, int64_t w, int64_t j0, int64_t n,
                   float* tmp, float* mT) {
  for (int64_t q = 0; q < m; ++q) {
    Ops::keep(P, static_cast<uint64_t>(h * P.nnz + s0 + i0 + q) << 20, j0, n, tmp);
    for (int64_t t = 0; t < n; ++t) mT[t * w + q] = tmp[t];
  }
  for (int64_t t = 0; t < n; ++t)
    for (int64_t q = m; q < w; ++q) mT[t * w + q] = 0.0f;
}

template <class Ops>
void fwd_task(const Problem& P, int64_t task, int thread) {
  const int64_t H = P.H, d = P.d, ld = P.ld_qkv;
  const int64_t gb = task / H, h = task % H;
  const int64_t b = find_seq(P.blk_prefix, P.batch, gb);
  const int64_t s0 = P.cu[b], L = P.cu[b + 1] - s0;
  const int64_t i0 = (gb - P.blk_prefix[b]) * kFwdBlockQ;
  const int64_t m = lmin(kFwdBlockQ, L - i0), w = up8(m);
  const float slope = P.slopes[h];
  constexpr int64_t BQ = kFwdBlockQ, BK = kBlockK;

  float* ws = thread_scratch(thread, static_cast<size_t>(2 * d * BQ + 2 * BK * BQ + 3 * BQ + BK + 64));
  float* QT = ws;              // [d, w]
  float* OT = QT + d * BQ;     // [d, w]
  float* ST = OT + d * BQ;     // [n, w]
  float* mT = ST + BK * BQ;    // [n, w] dropout multipliers
  float* mrow = mT + BK * BQ;  // [w]
  float* lrow = mrow + BQ;     // [w]
  float* corr = lrow + BQ;     // [w]
  float* tmp = corr + BQ;      // [BK]

  const float* Q = P.qkv + s0 * ld + h * d;
  const float* K = Q + P.H * d;
  const float* V = K + P.H * d;
  Ops::transpose_in(Q + i0 * ld, ld, d, m, w, QT);
  std::memset(OT, 0, sizeof(float) * static_cast<size_t>(d * w));
  for (int64_t q = 0; q < w; ++q) { mrow[q] = -INFINITY; lrow[q] = 0.0f; }

  for (int64_t j0 = 0; j0 < L; j0 += BK) {
    const int64_t n = lmin(BK, L - j0);
    Ops::gemm(n, w, d, K + j0 * ld, ld, 1, QT, w, ST, w, false);          // ST = K_j Q^T
    if (P.dropout) mask_T<Ops>(P, h, s0, i0, m, w, j0, n, tmp, mT);
    Ops::fwd_softmax(ST, n, w, P.scale, slope, i0 - j0, P.dropout ? mT : nullptr, mrow, lrow, corr);
    if (j0 > 0) Ops::scale_rows(OT, d, w, w, corr);
    Ops::gemm(d, w, n, V + j0 * ld, 1, ld, ST, w, OT, w, true);          // O^T += V_j^T P^T
  }

  for (int64_t q = 0; q < m; ++q) {
    P.lse[h * P.nnz + s0 + i0 + q] = mrow[q] + logf(lrow[q]);
    corr[q] = 1.0f / lrow[q];
  }
  Ops::transpose_out(OT, w, d, m, P.out + (s0 + i0) * P.ld_out + h * d, P.ld_out, corr, 1.0f);
}

template <class Ops>
void bwd_task(const Problem& P, int64_t task, int thread) {
  const int64_t H = P.H, d = P.d, dp = up8(d), ld = P.ld_qkv;
  const int64_t b = task / H, h = task % H;
  const int64_t s0 = P.cu[b], L = P.cu[b + 1] - s0;
  if (L <= 0) return;
  const int64_t Lw = up8(L);
  const int64_t lt = Lw + 8;  // leading dimension of the transposed [d, L] buffers: never a multiple of 4 KiB
                              // (rows 4 KiB apart share L1 sets; L = 1024 would thrash the B panels)
  const float slope = P.slopes[h];
  constexpr int64_t BQ = kBwdBlockQ, BK = kBlockK;

  float* ws = thread_scratch(thread, static_cast<size_t>(3 * d * lt + 2 * Lw * dp + 2 * Lw + 2 * BK * dp +
                                                         3 * BK * BQ + BK + 64));
  float* QT = ws;                // [d, lt]
  float* dOT = QT + d * lt;      // [d, lt]
  float* dQT = dOT + d * lt;     // [d, lt]
  float* Qr = dQT + d * lt;      // [L, dp]
  float* dOr = Qr + Lw * dp;     // [L, dp]
  float* Dv = dOr + Lw * dp;     // [Lw]
  float* LS = Dv + Lw;           // [Lw]
  float* dK = LS + Lw;           // [n, dp]
  float* dV = dK + BK * dp;      // [n, dp]
  float* ST = dV + BK * dp;      // [n, w]
  float* dPT = ST + BK * BQ;     // [n, w]
  float* mT = dPT + BK * BQ;     // [n, w]
  float* tmp = mT + BK * BQ;     // [BK]

  const float* Q = P.qkv + s0 * ld + h * d;
  const float* K = Q + H * d;
  const float* V = K + H * d;
  const float* dO = P.dout + s0 * P.ld_out + h * d;
  Ops::transpose_in(Q, ld, d, L, lt, QT);
  Ops::transpose_in(dO, P.ld_out, d, L, lt, dOT);
  pack_rows(Q, ld, d, L, dp, Qr);
  pack_rows(dO, P.ld_out, d, L, dp, dOr);
  std::memset(dQT, 0, sizeof(float) * static_cast<size_t>(d * lt));
  for (int64_t r = 0; r < L; ++r) {
    const float* o = P.out + (s0 + r) * P.ld_out + h * d;
    const float* g = dOr + r * dp;
    float acc = 0.0f;
    for (int64_t k = 0; k < d; ++k) acc += g[k] * o[k];
    Dv[r] = acc;
    LS[r] = P.lse[h * P.nnz + s0 + r];
  }
  for (int64_t r = L; r < Lw; ++r) { Dv[r] = 0.0f; LS[r] = INFINITY; }  // padded query lanes: P = 0

  for (int64_t j0 = 0; j0 < L; j0 += BK) {
    const int64_t n = lmin(BK, L - j0);
    std::memset(dK, 0, sizeof(float) * static_cast<size_t>(n * dp));
    std::memset(dV, 0, sizeof(float) * static_cast<size_t>(n * dp));
    for (int64_t i0 = 0; i0 < L; i0 += BQ) {
      const int64_t m = lmin(BQ, L - i0), w = up8(m);
      Ops::gemm(n, w, d, K + j0 * ld, ld, 1, QT + i0, lt, ST, w, false);     // S^T = K_j Q_i^T
      Ops::gemm(n, w, d, V + j0 * ld, ld, 1, dOT + i0, lt, dPT, w, false);   // dPd^T = V_j dO_i^T
      if (P.dropout) mask_T<Ops>(P, h, s0, i0, m, w, j0, n, tmp, mT);
      Ops::bwd_tile(ST, dPT, n, w, P.scale, slope, i0 - j0, LS + i0, Dv + i0, P.dropout ? mT : nullptr);
      Ops::gemm(n, dp, m, ST, w, 1, dOr + i0 * dp, dp, dV, dp, true);        // dV_j += Pd^T dO_i
      Ops::gemm(n, dp, m, dPT, w, 1, Qr + i0 * dp, dp, dK, dp, true);        // dK_j += dS^T Q_i
      Ops::gemm(d, w, n, K + j0 * ld, 1, ld, dPT, w, dQT + i0, lt, true);    // dQ_i^T += K_j^T dS^T
    }
    for (int64_t t = 0; t < n; ++t) {
      float* dk = P.dqkv + (s0 + j0 + t) * ld + H * d + h * d;
      float* dv = dk + H * d;
      for (int64_t k = 0; k < d; ++k) { dk[k] = dK[t * dp + k] * P.scale; dv[k] = dV[t * dp + k]; }
    }
  }
  Ops::transpose_out(dQT, lt, d, L, P.dqkv + s0 * ld + h * d, ld, nullptr, P.scale);
}

}  // namespace
}  // namespace attn
}  // namespace mb
