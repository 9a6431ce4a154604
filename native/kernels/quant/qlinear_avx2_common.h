// Shared pieces of the AVX2 int8 kernels (qlinear_avx2.cc: v1/v2, qlinear_v3_avx2.cc: v3): the per-token
// quantizing tile preparation, the dequantizing store and the sign-trick dot product. Internal linkage; included
// only by files compiled with -mavx2 -mfma. Tile layout: qlinear.cc.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "common/transpose_avx2.h"
#include "kernels/quant/qlinear_common.h"
#include "kernels/sparse/sparse_linear.h"

namespace mb {
namespace {

// The tile of tokens t0 .. t0 + nt - 1 (TT per tile, tokens past nt and columns past `in` are q = 0) and their
// scales sx[t] (qlinear_common.h). kOffset: every byte holds q + 128 (0 .. 254, padding 128) for the VNNI kernels,
// whose u8 x s8 products need an unsigned operand; otherwise the signed q.
template <int64_t TT, bool kOffset>
void q8_prep_avx2(const SparseLinear& L, const float* X, int64_t t0, int64_t nt, uint8_t* tile, float* sx) {
  std::memset(tile, kOffset ? 0x80 : 0, static_cast<size_t>(L.in_pad * TT));
  const int64_t in = L.in;
  const int32_t flip = kOffset ? int32_t(0x80808080u) : 0;  // q -> q + 128 in every byte (two's complement)
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
  for (int64_t t = 0; t < nt; ++t) {
    const float* x = X + (t0 + t) * in;
    __m256 vm = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= in; k += 8) vm = _mm256_max_ps(vm, _mm256_and_ps(_mm256_loadu_ps(x + k), absmask));
    alignas(32) float m8[8];
    _mm256_store_ps(m8, vm);
    float m = 0.0f;
    for (int i = 0; i < 8; ++i) m = std::max(m, m8[i]);
    for (; k < in; ++k) m = std::max(m, std::fabs(x[k]));
    float inv;
    q8_row_scale(m, &sx[t], &inv);
    const __m256 vinv = _mm256_set1_ps(inv);
    uint8_t* q = tile + t * 4;
    for (k = 0; k + 8 <= in; k += 8) {
      // round-half-even of the float32 product (the default MXCSR rounding), as q8_quantize
      __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k), vinv));
      v = _mm256_max_epi32(lo, _mm256_min_epi32(hi, v));
      const __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
      const __m128i p8 = _mm_packs_epi16(p16, p16);
      const int32_t g0 = _mm_cvtsi128_si32(p8) ^ flip, g1 = _mm_extract_epi32(p8, 1) ^ flip;
      std::memcpy(q + (k >> 2) * TT * 4, &g0, 4);
      std::memcpy(q + ((k >> 2) + 1) * TT * 4, &g1, 4);
    }
    for (; k < in; ++k)
      q[(k >> 2) * TT * 4 + (k & 3)] = static_cast<uint8_t>(static_cast<uint8_t>(q8_quantize(x[k], inv)) ^ flip);
  }
}

// Y[t0 + t, o] = float(acc[o - o0][t]) * (sx[t] * wscale[o]) + bias[o] as one FMA (or the product alone
// without bias), through 8x8 transposes; the scalar edge computes the same (std::fma is the FMA instruction here),
// so where an element falls (which depends on the chunking) never changes its value.
template <int64_t TT>
inline void q8_store_avx2(const SparseLinear& L, int64_t o0, int64_t o1, int64_t t0, int64_t nt, const int32_t* acc,
                          const float* sx, float* Y) {
  const int64_t out = L.out;
  for (int64_t tt = 0; tt < nt; tt += 8) {
    const int64_t nv = std::min<int64_t>(8, nt - tt);
    int64_t o = o0;
    for (; o + 8 <= o1; o += 8) {
      const int32_t* a = acc + (o - o0) * TT + tt;
      __m256 r[8];
      for (int j = 0; j < 8; ++j)
        r[j] = _mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(a + j * TT)));
      transpose8(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
      const __m256 ws = _mm256_loadu_ps(L.wscale + o);
      const __m256 b = L.bias ? _mm256_loadu_ps(L.bias + o) : _mm256_setzero_ps();
      for (int64_t j = 0; j < nv; ++j) {
        const __m256 s = _mm256_mul_ps(_mm256_set1_ps(sx[tt + j]), ws);
        const __m256 v = L.bias ? _mm256_fmadd_ps(r[j], s, b) : _mm256_mul_ps(r[j], s);
        _mm256_storeu_ps(Y + (t0 + tt + j) * out + o, v);
      }
    }
    for (; o < o1; ++o)
      for (int64_t j = 0; j < nv; ++j) {
        const float a = static_cast<float>(acc[(o - o0) * TT + tt + j]), s = sx[tt + j] * L.wscale[o];
        Y[(t0 + tt + j) * out + o] = L.bias ? std::fma(a, s, L.bias[o]) : a * s;
      }
  }
}

inline __m256i dot4(__m256i w, __m256i x, __m256i ones) {
  const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(w, x));
  return _mm256_madd_epi16(p, ones);
}

inline __m256i bcast4(const int8_t* w) {
  int32_t v;
  std::memcpy(&v, w, 4);
  return _mm256_set1_epi32(v);
}

}  // namespace
}  // namespace mb
