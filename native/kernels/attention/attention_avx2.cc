// AVX2+FMA primitives of the unpadded ALiBi attention (see attention.h, attention_impl.h): a register-blocked
// 6 x 16 micro-kernel for the small matrix products of the tiled algorithm, vectorised ALiBi + online softmax on
// transposed (keys x queries) tiles with a fast exp, and the row primitives of the materialized peer.
// Compiled with -mavx2 -mfma; only called when mb::use_avx2().
#include <immintrin.h>

#include "common/transpose_avx2.h"

#include "common/exp_avx2.h"
#include <math.h>

#include <cstdint>

#include "kernels/attention/attention.h"
#include "kernels/attention/attention_impl.h"

namespace mb {
namespace attn {
namespace {

inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float hmax8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// |di - t - lane| as floats (exact below 2^24).
inline __m256 dist8(int64_t di, int64_t t) {
  const __m256 base = _mm256_set1_ps(static_cast<float>(di - t));
  const __m256 d = _mm256_sub_ps(base, _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7));
  return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), d);
}
// Lanes t + lane < n.
inline __m256 valid8(int64_t n, int64_t t) {
  const __m256i lim = _mm256_set1_epi32(static_cast<int>(n - t));
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(lim, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
}

float scores_max_avx2(float* s, int64_t n, int64_t np, float scale, float slope, int64_t di) {
  const __m256 vs = _mm256_set1_ps(scale), vsl = _mm256_set1_ps(slope), ninf = _mm256_set1_ps(-INFINITY);
  __m256 mx = ninf;
  for (int64_t t = 0; t < np; t += 8) {
    const __m256 bias = _mm256_mul_ps(vsl, dist8(di, t));
    __m256 v = _mm256_fmsub_ps(_mm256_loadu_ps(s + t), vs, bias);
    if (t + 8 > n) v = _mm256_blendv_ps(ninf, v, valid8(n, t));
    _mm256_storeu_ps(s + t, v);
    mx = _mm256_max_ps(mx, v);
  }
  return hmax8(mx);
}

float exp_sum_avx2(float* s, int64_t np, float mx) {
  const __m256 vm = _mm256_set1_ps(mx);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t t = 0;
  for (; t + 16 <= np; t += 16) {
    const __m256 e0 = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(s + t), vm));
    const __m256 e1 = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(s + t + 8), vm));
    _mm256_storeu_ps(s + t, e0);
    _mm256_storeu_ps(s + t + 8, e1);
    acc0 = _mm256_add_ps(acc0, e0);
    acc1 = _mm256_add_ps(acc1, e1);
  }
  for (; t < np; t += 8) {
    const __m256 e0 = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(s + t), vm));
    _mm256_storeu_ps(s + t, e0);
    acc0 = _mm256_add_ps(acc0, e0);
  }
  return hsum8(_mm256_add_ps(acc0, acc1));
}

void bwd_row_avx2(float* s, float* dp, int64_t n, int64_t np, float scale, float slope, int64_t di, float lse,
                  float D, const float* mult) {
  const __m256 vs = _mm256_set1_ps(scale), vsl = _mm256_set1_ps(slope), vl = _mm256_set1_ps(lse),
               vD = _mm256_set1_ps(D), ninf = _mm256_set1_ps(-INFINITY);
  for (int64_t t = 0; t < np; t += 8) {
    const __m256 bias = _mm256_add_ps(_mm256_mul_ps(vsl, dist8(di, t)), vl);
    __m256 x = _mm256_fmsub_ps(_mm256_loadu_ps(s + t), vs, bias);
    if (t + 8 > n) x = _mm256_blendv_ps(ninf, x, valid8(n, t));
    const __m256 p = exp256_ps(x);
    const __m256 g = _mm256_loadu_ps(dp + t);
    if (mult) {
      const __m256 mu = _mm256_loadu_ps(mult + t);
      _mm256_storeu_ps(s + t, _mm256_mul_ps(p, mu));
      _mm256_storeu_ps(dp + t, _mm256_mul_ps(p, _mm256_fmsub_ps(g, mu, vD)));
    } else {
      _mm256_storeu_ps(s + t, p);
      _mm256_storeu_ps(dp + t, _mm256_mul_ps(p, _mm256_sub_ps(g, vD)));
    }
  }
}

// C[R, 8*NV] (+)= A[R, K] B[K, 8*NV] with A element (m, k) at A[m*am + k*ak] (broadcast) and B row k at
// B + k*ldb (vector loads). R <= 6, NV <= 2: at most 12 accumulators, 2 B vectors and 1 broadcast in registers.
// Named accumulators (cRV = row R, vector V): GCC spills arrays of __m256 to the stack.
template <int R, int NV>
inline void tile(int64_t K, const float* A, int64_t am, int64_t ak, const float* B, int64_t ldb, float* C,
                 int64_t ldc, bool acc) {
  static_assert(R >= 1 && R <= 6 && NV >= 1 && NV <= 2, "tile shape");
  const __m256 z = _mm256_setzero_ps();
  __m256 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
  if (acc) {
    {
      c00 = _mm256_loadu_ps(C + 0 * ldc);
      if (NV > 1) c01 = _mm256_loadu_ps(C + 0 * ldc + 8);
    }
    if (R > 1) {
      c10 = _mm256_loadu_ps(C + 1 * ldc);
      if (NV > 1) c11 = _mm256_loadu_ps(C + 1 * ldc + 8);
    }
    if (R > 2) {
      c20 = _mm256_loadu_ps(C + 2 * ldc);
      if (NV > 1) c21 = _mm256_loadu_ps(C + 2 * ldc + 8);
    }
    if (R > 3) {
      c30 = _mm256_loadu_ps(C + 3 * ldc);
      if (NV > 1) c31 = _mm256_loadu_ps(C + 3 * ldc + 8);
    }
    if (R > 4) {
      c40 = _mm256_loadu_ps(C + 4 * ldc);
      if (NV > 1) c41 = _mm256_loadu_ps(C + 4 * ldc + 8);
    }
    if (R > 5) {
      c50 = _mm256_loadu_ps(C + 5 * ldc);
      if (NV > 1) c51 = _mm256_loadu_ps(C + 5 * ldc + 8);
    }
  }
  const float* a0 = A;
  const float* a1 = A + (R > 1 ? 1 * am : 0);
  const float* a2 = A + (R > 2 ? 2 * am : 0);
  const float* a3 = A + (R > 3 ? 3 * am : 0);
  const float* a4 = A + (R > 4 ? 4 * am : 0);
  const float* a5 = A + (R > 5 ? 5 * am : 0);
  for (int64_t k = 0; k < K; ++k) {
    const __m256 b0 = _mm256_loadu_ps(B);
    const __m256 b1 = NV > 1 ? _mm256_loadu_ps(B + 8) : z;
    __m256 x;
    {
      x = _mm256_broadcast_ss(a0);
      c00 = _mm256_fmadd_ps(x, b0, c00);
      if (NV > 1) c01 = _mm256_fmadd_ps(x, b1, c01);
      a0 += ak;
    }
    if (R > 1) {
      x = _mm256_broadcast_ss(a1);
      c10 = _mm256_fmadd_ps(x, b0, c10);
      if (NV > 1) c11 = _mm256_fmadd_ps(x, b1, c11);
      a1 += ak;
    }
    if (R > 2) {
      x = _mm256_broadcast_ss(a2);
      c20 = _mm256_fmadd_ps(x, b0, c20);
      if (NV > 1) c21 = _mm256_fmadd_ps(x, b1, c21);
      a2 += ak;
    }
    if (R > 3) {
      x = _mm256_broadcast_ss(a3);
      c30 = _mm256_fmadd_ps(x, b0, c30);
      if (NV > 1) c31 = _mm256_fmadd_ps(x, b1, c31);
      a3 += ak;
    }
    if (R > 4) {
      x = _mm256_broadcast_ss(a4);
      c40 = _mm256_fmadd_ps(x, b0, c40);
      if (NV > 1) c41 = _mm256_fmadd_ps(x, b1, c41);
      a4 += ak;
    }
    if (R > 5) {
      x = _mm256_broadcast_ss(a5);
      c50 = _mm256_fmadd_ps(x, b0, c50);
      if (NV > 1) c51 = _mm256_fmadd_ps(x, b1, c51);
      a5 += ak;
    }
    B += ldb;
  }
  {
    _mm256_storeu_ps(C + 0 * ldc, c00);
    if (NV > 1) _mm256_storeu_ps(C + 0 * ldc + 8, c01);
  }
  if (R > 1) {
    _mm256_storeu_ps(C + 1 * ldc, c10);
    if (NV > 1) _mm256_storeu_ps(C + 1 * ldc + 8, c11);
  }
  if (R > 2) {
    _mm256_storeu_ps(C + 2 * ldc, c20);
    if (NV > 1) _mm256_storeu_ps(C + 2 * ldc + 8, c21);
  }
  if (R > 3) {
    _mm256_storeu_ps(C + 3 * ldc, c30);
    if (NV > 1) _mm256_storeu_ps(C + 3 * ldc + 8, c31);
  }
  if (R > 4) {
    _mm256_storeu_ps(C + 4 * ldc, c40);
    if (NV > 1) _mm256_storeu_ps(C + 4 * ldc + 8, c41);
  }
  if (R > 5) {
    _mm256_storeu_ps(C + 5 * ldc, c50);
    if (NV > 1) _mm256_storeu_ps(C + 5 * ldc + 8, c51);
  }
}

template <int NV>
inline void tile_rows(int64_t R, int64_t K, const float* A, int64_t am, int64_t ak, const float* B, int64_t ldb,
                      float* C, int64_t ldc, bool acc) {
  switch (R) {
    case 1: tile<1, NV>(K, A, am, ak, B, ldb, C, ldc, acc); break;
    case 2: tile<2, NV>(K, A, am, ak, B, ldb, C, ldc, acc); break;
    case 3: tile<3, NV>(K, A, am, ak, B, ldb, C, ldc, acc); break;
    case 4: tile<4, NV>(K, A, am, ak, B, ldb, C, ldc, acc); break;
    case 5: tile<5, NV>(K, A, am, ak, B, ldb, C, ldc, acc); break;
    default: tile<6, NV>(K, A, am, ak, B, ldb, C, ldc, acc); break;
  }
}

// Dropout multipliers of one query row (see keep_row in attention.h), with Philox4x32-10 (native/common/philox.h)
// computed for 8 counter blocks (32 random words) at once: lanes hold blocks blk .. blk+7, the 32x32 -> 64-bit
// products come from _mm256_mul_epu32 on even and odd lanes. Bit-identical to the scalar generator (tested against
// the TypeScript one); the tail, and any chunk whose block counter would carry into the high word, use keep_row.
void keep_row_avx2(const Problem& P, uint64_t base, int64_t j0, int64_t n, float* mult) {
  uint64_t idx = base + static_cast<uint64_t>(j0);
  int64_t t = 0;
  if ((idx & 3) == 0) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i M0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
    const __m256i M1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
    const __m256 vp = _mm256_set1_ps(P.p), vks = _mm256_set1_ps(P.keep_scale);
    const __m256 inv24 = _mm256_set1_ps(1.0f / 16777216.0f);
    alignas(32) float w4[4][8];
    for (; t + 32 <= n; t += 32, idx += 32) {
      const uint64_t blk = idx >> 2;
      if (static_cast<uint32_t>(blk) > 0xFFFFFFF8u) break;  // carry inside the chunk: scalar path
      __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(blk))), lanes);
      __m256i c1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(blk >> 32)));
      __m256i c2 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(P.stream)));
      __m256i c3 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(P.stream >> 32)));
      uint32_t k0 = static_cast<uint32_t>(P.seed), k1 = static_cast<uint32_t>(P.seed >> 32);
      for (int r = 0; r < 10; ++r) {
        if (r) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        const __m256i e0 = _mm256_mul_epu32(c0, M0), o0 = _mm256_mul_epu32(_mm256_srli_epi64(c0, 32), M0);
        const __m256i e1 = _mm256_mul_epu32(c2, M1), o1 = _mm256_mul_epu32(_mm256_srli_epi64(c2, 32), M1);
        const __m256i lo0 = _mm256_blend_epi32(e0, _mm256_slli_epi64(o0, 32), 0xAA);
        const __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(e0, 32), o0, 0xAA);
        const __m256i lo1 = _mm256_blend_epi32(e1, _mm256_slli_epi64(o1, 32), 0xAA);
        const __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(e1, 32), o1, 0xAA);
        const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
        const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
      }
      const __m256i words[4] = {c0, c1, c2, c3};
      for (int q = 0; q < 4; ++q) {
        const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(words[q], 8)), inv24);
        _mm256_store_ps(w4[q], _mm256_and_ps(_mm256_cmp_ps(u, vp, _CMP_GE_OQ), vks));
      }
      for (int i = 0; i < 8; ++i)
        for (int q = 0; q < 4; ++q) mult[t + 4 * i + q] = w4[q][i];
    }
  }
  if (t < n) keep_row(P, base, j0 + t, n - t, mult + t);
}

struct Avx2Ops {
  static void keep(const Problem& P, uint64_t base, int64_t j0, int64_t n, float* mult) {
    keep_row_avx2(P, base, j0, n, mult);
  }

  // XT[k*w + t] = src[t*ld + k] for t < n, k < d; zero for n <= t < w (w a multiple of 8).
  static void transpose_in(const float* src, int64_t ld, int64_t d, int64_t n, int64_t w, float* XT) {
    const int64_t n8 = n & ~int64_t(7), d8 = d & ~int64_t(7);
    for (int64_t t0 = 0; t0 < n8; t0 += 8) {
      const float* s = src + t0 * ld;
      for (int64_t k0 = 0; k0 < d8; k0 += 8) {
        __m256 r0 = _mm256_loadu_ps(s + k0), r1 = _mm256_loadu_ps(s + ld + k0);
        __m256 r2 = _mm256_loadu_ps(s + 2 * ld + k0), r3 = _mm256_loadu_ps(s + 3 * ld + k0);
        __m256 r4 = _mm256_loadu_ps(s + 4 * ld + k0), r5 = _mm256_loadu_ps(s + 5 * ld + k0);
        __m256 r6 = _mm256_loadu_ps(s + 6 * ld + k0), r7 = _mm256_loadu_ps(s + 7 * ld + k0);
        transpose8(r0, r1, r2, r3, r4, r5, r6, r7);
        float* o = XT + k0 * w + t0;
        _mm256_storeu_ps(o, r0); _mm256_storeu_ps(o + w, r1);
        _mm256_storeu_ps(o + 2 * w, r2); _mm256_storeu_ps(o + 3 * w, r3);
        _mm256_storeu_ps(o + 4 * w, r4); _mm256_storeu_ps(o + 5 * w, r5);
        _mm256_storeu_ps(o + 6 * w, r6); _mm256_storeu_ps(o + 7 * w, r7);
      }
      for (int64_t k = d8; k < d; ++k)
        for (int64_t t = t0; t < t0 + 8; ++t) XT[k * w + t] = src[t * ld + k];
    }
    for (int64_t k = 0; k < d; ++k) {
      for (int64_t t = n8; t < n; ++t) XT[k * w + t] = src[t * ld + k];
      for (int64_t t = n; t < w; ++t) XT[k * w + t] = 0.0f;
    }
  }

  // dst[t*ld + k] = XT[k*w + t] * (rs ? rs[t] : scale) for t < n, k < d.
  static void transpose_out(const float* XT, int64_t w, int64_t d, int64_t n, float* dst, int64_t ld,
                            const float* rs, float scale) {
    const int64_t n8 = n & ~int64_t(7), d8 = d & ~int64_t(7);
    for (int64_t t0 = 0; t0 < n8; t0 += 8) {
      float* o = dst + t0 * ld;
      for (int64_t k0 = 0; k0 < d8; k0 += 8) {
        const float* x = XT + k0 * w + t0;
        __m256 r0 = _mm256_loadu_ps(x), r1 = _mm256_loadu_ps(x + w);
        __m256 r2 = _mm256_loadu_ps(x + 2 * w), r3 = _mm256_loadu_ps(x + 3 * w);
        __m256 r4 = _mm256_loadu_ps(x + 4 * w), r5 = _mm256_loadu_ps(x + 5 * w);
        __m256 r6 = _mm256_loadu_ps(x + 6 * w), r7 = _mm256_loadu_ps(x + 7 * w);
        transpose8(r0, r1, r2, r3, r4, r5, r6, r7);
        if (rs) {
          r0 = _mm256_mul_ps(r0, _mm256_set1_ps(rs[t0])); r1 = _mm256_mul_ps(r1, _mm256_set1_ps(rs[t0 + 1]));
          r2 = _mm256_mul_ps(r2, _mm256_set1_ps(rs[t0 + 2])); r3 = _mm256_mul_ps(r3, _mm256_set1_ps(rs[t0 + 3]));
          r4 = _mm256_mul_ps(r4, _mm256_set1_ps(rs[t0 + 4])); r5 = _mm256_mul_ps(r5, _mm256_set1_ps(rs[t0 + 5]));
          r6 = _mm256_mul_ps(r6, _mm256_set1_ps(rs[t0 + 6])); r7 = _mm256_mul_ps(r7, _mm256_set1_ps(rs[t0 + 7]));
        } else {
          const __m256 sc = _mm256_set1_ps(scale);
          r0 = _mm256_mul_ps(r0, sc); r1 = _mm256_mul_ps(r1, sc); r2 = _mm256_mul_ps(r2, sc);
          r3 = _mm256_mul_ps(r3, sc); r4 = _mm256_mul_ps(r4, sc); r5 = _mm256_mul_ps(r5, sc);
          r6 = _mm256_mul_ps(r6, sc); r7 = _mm256_mul_ps(r7, sc);
        }
        _mm256_storeu_ps(o + k0, r0); _mm256_storeu_ps(o + ld + k0, r1);
        _mm256_storeu_ps(o + 2 * ld + k0, r2); _mm256_storeu_ps(o + 3 * ld + k0, r3);
        _mm256_storeu_ps(o + 4 * ld + k0, r4); _mm256_storeu_ps(o + 5 * ld + k0, r5);
        _mm256_storeu_ps(o + 6 * ld + k0, r6); _mm256_storeu_ps(o + 7 * ld + k0, r7);
      }
      for (int64_t t = t0; t < t0 + 8; ++t)
        for (int64_t k = d8; k < d; ++k) dst[t * ld + k] = XT[k * w + t] * (rs ? rs[t] : scale);
    }
    for (int64_t t = n8; t < n; ++t)
      for (int64_t k = 0; k < d; ++k) dst[t * ld + k] = XT[k * w + t] * (rs ? rs[t] : scale);
  }

  static void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t am, int64_t ak, const float* B,
                   int64_t ldb, float* C, int64_t ldc, bool acc) {
    int64_t n0 = 0;
    for (; n0 + 16 <= N; n0 += 16)
      for (int64_t m0 = 0; m0 < M; m0 += 6)
        tile_rows<2>(lmin(6, M - m0), K, A + m0 * am, am, ak, B + n0, ldb, C + m0 * ldc + n0, ldc, acc);
    if (n0 < N)
      for (int64_t m0 = 0; m0 < M; m0 += 6)
        tile_rows<1>(lmin(6, M - m0), K, A + m0 * am, am, ak, B + n0, ldb, C + m0 * ldc + n0, ldc, acc);
  }

  // ALiBi distances of a key block: bias[u] = slope * |di0 + u - (n - 1)|, so that row t, lane q reads
  // bias[q - t + n - 1] (one unaligned load instead of recomputing |i - j| per vector). u < w + n - 1.
  static void bias_table(float* bias, int64_t n, int64_t w, float slope, int64_t di0) {
    for (int64_t u = 0; u < w + n - 1; ++u) {
      const int64_t dist = di0 + u - (n - 1);
      bias[u] = slope * static_cast<float>(dist >= 0 ? dist : -dist);
    }
  }

  static void fwd_softmax(float* ST, int64_t n, int64_t w, float scale, float slope, int64_t di0, const float* mT,
                          float* m, float* l, float* corr) {
    alignas(32) float bias[kFwdBlockQ + kBlockK];
    bias_table(bias, n, w, slope, di0);
    const __m256 vs = _mm256_set1_ps(scale);
    for (int64_t q0 = 0; q0 < w; q0 += 8) {
      __m256 bm0 = _mm256_set1_ps(-INFINITY), bm1 = bm0;
      const float* bq = bias + q0 + n - 1;
      int64_t t = 0;
      for (; t + 2 <= n; t += 2) {
        float* s = ST + t * w + q0;
        const __m256 v0 = _mm256_fmsub_ps(_mm256_loadu_ps(s), vs, _mm256_loadu_ps(bq - t));
        const __m256 v1 = _mm256_fmsub_ps(_mm256_loadu_ps(s + w), vs, _mm256_loadu_ps(bq - t - 1));
        _mm256_storeu_ps(s, v0);
        _mm256_storeu_ps(s + w, v1);
        bm0 = _mm256_max_ps(bm0, v0);
        bm1 = _mm256_max_ps(bm1, v1);
      }
      if (t < n) {
        float* s = ST + t * w + q0;
        const __m256 v0 = _mm256_fmsub_ps(_mm256_loadu_ps(s), vs, _mm256_loadu_ps(bq - t));
        _mm256_storeu_ps(s, v0);
        bm0 = _mm256_max_ps(bm0, v0);
      }
      const __m256 mo = _mm256_loadu_ps(m + q0);
      const __m256 mn = _mm256_max_ps(mo, _mm256_max_ps(bm0, bm1));
      const __m256 c = exp256_ps(_mm256_sub_ps(mo, mn));  // m_old = -inf: exp(-inf) = 0
      // Sum in t order per lane (two interleaved partial sums: even and odd t, added at the end).
      __m256 sum0 = _mm256_setzero_ps(), sum1 = sum0;
      t = 0;
      for (; t + 2 <= n; t += 2) {
        float* s = ST + t * w + q0;
        const __m256 p0 = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(s), mn));
        const __m256 p1 = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(s + w), mn));
        sum0 = _mm256_add_ps(sum0, p0);
        sum1 = _mm256_add_ps(sum1, p1);
        if (mT) {
          _mm256_storeu_ps(s, _mm256_mul_ps(p0, _mm256_loadu_ps(mT + t * w + q0)));
          _mm256_storeu_ps(s + w, _mm256_mul_ps(p1, _mm256_loadu_ps(mT + (t + 1) * w + q0)));
        } else {
          _mm256_storeu_ps(s, p0);
          _mm256_storeu_ps(s + w, p1);
        }
      }
      if (t < n) {
        float* s = ST + t * w + q0;
        const __m256 p0 = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(s), mn));
        sum0 = _mm256_add_ps(sum0, p0);
        _mm256_storeu_ps(s, mT ? _mm256_mul_ps(p0, _mm256_loadu_ps(mT + t * w + q0)) : p0);
      }
      _mm256_storeu_ps(l + q0, _mm256_fmadd_ps(_mm256_loadu_ps(l + q0), c, _mm256_add_ps(sum0, sum1)));
      _mm256_storeu_ps(m + q0, mn);
      _mm256_storeu_ps(corr + q0, c);
    }
  }

  static void scale_rows(float* X, int64_t rows, int64_t w, int64_t ld, const float* corr) {
    // Skip when every correction is 1 (the running max did not move: usual once the diagonal block is past).
    __m256 all1 = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    for (int64_t q0 = 0; q0 < w; q0 += 8)
      all1 = _mm256_and_ps(all1, _mm256_cmp_ps(_mm256_loadu_ps(corr + q0), _mm256_set1_ps(1.0f), _CMP_EQ_OQ));
    if (_mm256_movemask_ps(all1) == 0xFF) return;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t q0 = 0; q0 < w; q0 += 8)
        _mm256_storeu_ps(X + r * ld + q0, _mm256_mul_ps(_mm256_loadu_ps(X + r * ld + q0), _mm256_loadu_ps(corr + q0)));
  }

  static void bwd_tile(float* ST, float* dPT, int64_t n, int64_t w, float scale, float slope, int64_t di0,
                       const float* lse, const float* D, const float* mT) {
    alignas(32) float bias[kBwdBlockQ + kBlockK];
    bias_table(bias, n, w, slope, di0);
    const __m256 vs = _mm256_set1_ps(scale);
    for (int64_t t = 0; t < n; ++t) {
      const float* bt = bias + n - 1 - t;
      for (int64_t q0 = 0; q0 < w; q0 += 8) {
        float* s = ST + t * w + q0;
        float* g = dPT + t * w + q0;
        const __m256 off = _mm256_add_ps(_mm256_loadu_ps(bt + q0), _mm256_loadu_ps(lse + q0));
        const __m256 p = exp256_ps(_mm256_fmsub_ps(_mm256_loadu_ps(s), vs, off));
        const __m256 vD = _mm256_loadu_ps(D + q0);
        if (mT) {
          const __m256 mu = _mm256_loadu_ps(mT + t * w + q0);
          _mm256_storeu_ps(s, _mm256_mul_ps(p, mu));
          _mm256_storeu_ps(g, _mm256_mul_ps(p, _mm256_fmsub_ps(_mm256_loadu_ps(g), mu, vD)));
        } else {
          _mm256_storeu_ps(s, p);
          _mm256_storeu_ps(g, _mm256_mul_ps(p, _mm256_sub_ps(_mm256_loadu_ps(g), vD)));
        }
      }
    }
  }
};

}  // namespace

const RowOps kRowOpsAvx2 = {scores_max_avx2, exp_sum_avx2, bwd_row_avx2};

void fwd_task_avx2(const Problem& P, int64_t task, int thread) { fwd_task<Avx2Ops>(P, task, thread); }
void bwd_task_avx2(const Problem& P, int64_t task, int thread) { bwd_task<Avx2Ops>(P, task, thread); }

}  // namespace attn
}  // namespace mb
