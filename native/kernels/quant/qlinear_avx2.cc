// INT8 linears, AVX2 path (compiled with -mavx2 -mfma). See qlinear.h for the math, qlinear.cc for the tile layout.
//
// The 4-way int8 dot product without VNNI: for a weight block w (4 int8, broadcast to every 32-bit lane) and 8
// tokens' 4-byte groups x, vpmaddubsw(|x|, sign(w, x)) multiplies unsigned |x| by w carrying x's sign
// (vpsignb) and adds adjacent pairs into int16, then vpmaddwd with ones adds the two pairs into the int32 lane of
// each token. vpmaddubsw saturates its int16 pair sums; with |x| <= 127 and |w| <= 127 a pair is at most
// 2 * 127 * 127 = 32258 < 32767, so it never does (an unsigned |x| up to 255 could: hence the sign trick rather
// than x + 128). A tile of 32 tokens is 4 ymm of accumulators per output row.
//
// Versions (numbered entry points sparseLinearForwardV1/V2 for the q8 kinds, q8LinearForwardV3; the winner is v3,
// which Int8Linear calls with its row corrections and sparseLinearForward runs without them):
//   v1: the vpmaddubsw sign trick above (6 vector uops per block and 8 tokens), any AVX2 CPU.
//   v2: when the CPU has AVX-512 VNNI (+F/BW/VL; Zen 4, Ice Lake and later), VPDPBUSD on ymm: u8 x s8 products
//       summed 4 at a time straight into int32, no int16 stage, so nothing saturates and the activations can be
//       offset instead of sign-moved: the tile holds xu = q + 128 (0..255), and sum xu*w = sum q*w + 128 * sum w,
//       the correction 128 * sum w accumulated by one more VPDPBUSD per block (with 128 in every byte). One
//       instruction per block and 8 tokens instead of six. Without VNNI, v2 runs v1. The integer sums are exact
//       either way (|sum xu w| <= 255 * 127 * in < 2^31 for in <= 66,000), so v1 and v2 give identical results.
//       Compiled with a function-level target attribute (no separate build flags); only called after the
//       run-time check mb::cpu_has_avx512vnni().
//   v3: VNNI on zmm with 8 output rows register-blocked over the tile (16 accumulator chains instead of v2's 5,
//       ~1.8x v2 on this project's Zen 4) and the offset correction taken per row instead of per block:
//       qlinear_v3_avx2.cc. Without VNNI, v3 runs v1.
#include <immintrin.h>

#include <cstring>

#include "common/cpu.h"
#include "kernels/quant/qlinear.h"
#include "kernels/quant/qlinear_avx2_common.h"
#include "kernels/quant/qlinear_common.h"
#include "kernels/sparse/tiled_driver.h"

namespace mb {
namespace {

constexpr int64_t TT = 32;

// The 1x4 weight groups of output row o, in order: every group of a dense row (int8 rows padded to in_pad), or
// the stored groups of a BSR4 row, prefetching the tile rows two groups ahead. `block(g, w4)` gets the group's
// column index g and its 4 int8 weights. Shared by the v1 (sign trick) and v2 (VNNI) kernels; always inlined so
// the caller's `block` inlines too (the VNNI caller's target is a superset of this file's).
template <bool kDense, typename Block>
__attribute__((always_inline)) inline void for_each_group(const SparseLinear& L, int64_t o, const int8_t* vals,
                                                          const uint8_t* tile, Block&& block) {
  constexpr int64_t TT = mb::TT;
  if (kDense) {
    const int8_t* w = vals + o * L.in_pad;
    for (int64_t g = 0, ng = L.in_pad / 4; g < ng; ++g) block(g, w + 4 * g);
  } else {
    const int64_t e = L.rowptr[o + 1];
    for (int64_t p = L.rowptr[o]; p < e; ++p) {
      if (p + 2 < e) {
        const char* nx = reinterpret_cast<const char*>(tile + static_cast<int64_t>(L.idx[p + 2]) * TT * 4);
        _mm_prefetch(nx, _MM_HINT_T0);
        _mm_prefetch(nx + 64, _MM_HINT_T0);
      }
      block(L.idx[p], vals + 4 * p);
    }
  }
}

template <bool kDense>
struct Avx2Q8 {
  static constexpr int64_t TT = mb::TT;
  static constexpr int64_t kScratchPerRow = TT;
  static int64_t tile_bytes(const SparseLinear& L) { return L.in_pad * TT; }
  static void prep(const SparseLinear& L, const float* X, int64_t t0, int64_t nt, uint8_t* tile, float* sx) {
    q8_prep_avx2<TT, false>(L, X, t0, nt, tile, sx);
  }
  static void compute(const SparseLinear& L, int64_t o0, int64_t o1, const uint8_t* tile, float* yt) {
    const int8_t* vals = static_cast<const int8_t*>(L.vals);
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t o = o0; o < o1; ++o) {
      __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
      auto block = [&](int64_t g, const int8_t* w4) {
        const __m256i w = bcast4(w4);
        const __m256i* x = reinterpret_cast<const __m256i*>(tile + g * TT * 4);
        a0 = _mm256_add_epi32(a0, dot4(w, _mm256_load_si256(x), ones));
        a1 = _mm256_add_epi32(a1, dot4(w, _mm256_load_si256(x + 1), ones));
        a2 = _mm256_add_epi32(a2, dot4(w, _mm256_load_si256(x + 2), ones));
        a3 = _mm256_add_epi32(a3, dot4(w, _mm256_load_si256(x + 3), ones));
      };
      for_each_group<kDense>(L, o, vals, tile, block);
      __m256i* y = reinterpret_cast<__m256i*>(yt + (o - o0) * TT);
      _mm256_store_si256(y, a0);
      _mm256_store_si256(y + 1, a1);
      _mm256_store_si256(y + 2, a2);
      _mm256_store_si256(y + 3, a3);
    }
  }
  static void store(const SparseLinear& L, int64_t o0, int64_t o1, int64_t t0, int64_t nt, const float* yt,
                    const float* sx, float* Y) {
    q8_store_avx2<TT>(L, o0, o1, t0, nt, reinterpret_cast<const int32_t*>(yt), sx, Y);
  }
};

#define MB_TARGET_VNNI __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))

template <bool kDense>
struct VnniQ8 {
  static constexpr int64_t TT = mb::TT;
  static constexpr int64_t kScratchPerRow = TT;
  static int64_t tile_bytes(const SparseLinear& L) { return L.in_pad * TT; }
  // As v1, then every byte q -> q + 128 (= q ^ 0x80 on two's complement bytes; padding 0 -> 128, i.e. x = 0).
  static void prep(const SparseLinear& L, const float* X, int64_t t0, int64_t nt, uint8_t* tile, float* sx) {
    Avx2Q8<kDense>::prep(L, X, t0, nt, tile, sx);
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    const int64_t n = L.in_pad * TT;  // a multiple of 128
    for (int64_t i = 0; i < n; i += 32) {
      __m256i* p = reinterpret_cast<__m256i*>(tile + i);
      _mm256_store_si256(p, _mm256_xor_si256(_mm256_load_si256(p), flip));
    }
  }
  MB_TARGET_VNNI static void compute(const SparseLinear& L, int64_t o0, int64_t o1, const uint8_t* tile, float* yt) {
    const int8_t* vals = static_cast<const int8_t*>(L.vals);
    const __m256i c128 = _mm256_set1_epi8(static_cast<char>(0x80));
    for (int64_t o = o0; o < o1; ++o) {
      __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, corr = a0;
      auto block = [&](int64_t g, const int8_t* w4) MB_TARGET_VNNI {
        const __m256i w = bcast4(w4);
        const __m256i* x = reinterpret_cast<const __m256i*>(tile + g * TT * 4);
        a0 = _mm256_dpbusd_epi32(a0, _mm256_load_si256(x), w);
        a1 = _mm256_dpbusd_epi32(a1, _mm256_load_si256(x + 1), w);
        a2 = _mm256_dpbusd_epi32(a2, _mm256_load_si256(x + 2), w);
        a3 = _mm256_dpbusd_epi32(a3, _mm256_load_si256(x + 3), w);
        corr = _mm256_dpbusd_epi32(corr, c128, w);
      };
      for_each_group<kDense>(L, o, vals, tile, block);
      __m256i* y = reinterpret_cast<__m256i*>(yt + (o - o0) * TT);
      _mm256_store_si256(y, _mm256_sub_epi32(a0, corr));
      _mm256_store_si256(y + 1, _mm256_sub_epi32(a1, corr));
      _mm256_store_si256(y + 2, _mm256_sub_epi32(a2, corr));
      _mm256_store_si256(y + 3, _mm256_sub_epi32(a3, corr));
    }
  }
  static void store(const SparseLinear& L, int64_t o0, int64_t o1, int64_t t0, int64_t nt, const float* yt,
                    const float* sx, float* Y) {
    q8_store_avx2<TT>(L, o0, o1, t0, nt, reinterpret_cast<const int32_t*>(yt), sx, Y);
  }
};

}  // namespace

void q8_linear_avx2(int version, const SparseLinear& L, const float* X, int64_t rows, float* Y) {
  const bool dense = L.kind == SparseKind::kQ8Dense;
  if (version >= 3 && q8_linear_avx2_v3(L, X, rows, Y)) return;
  if (version == 2 && cpu_has_avx512vnni())
    dense ? tiled_linear<VnniQ8<true>>(L, X, rows, Y) : tiled_linear<VnniQ8<false>>(L, X, rows, Y);
  else
    dense ? tiled_linear<Avx2Q8<true>>(L, X, rows, Y) : tiled_linear<Avx2Q8<false>>(L, X, rows, Y);
}

}  // namespace mb
