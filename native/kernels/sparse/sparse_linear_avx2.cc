// AVX2+FMA fp32 sparse linears (CSR and 1x4 BSR), compiled with -mavx2 -mfma. The driver and the tile layout are
// tiled_driver.h; the arithmetic (entries split by parity, FMA in storage order) is described in sparse_linear.cc.
//
// Per output row and tile of 32 tokens: 8 ymm accumulators (4 for the even entries, 4 for the odd ones). A BSR
// block broadcasts its 4 values and does 16 FMAs against 4 consecutive Xt rows (512 contiguous bytes, the X
// columns 4g .. 4g+3 of the 32 tokens); a CSR entry does 4 FMAs against one Xt row. The Xt rows of the entries two
// ahead are prefetched: they are addressed by index, which the hardware prefetcher cannot follow.
#include <immintrin.h>

#include "kernels/sparse/tiled_driver.h"

namespace mb {
namespace {

constexpr int64_t TT = 32;

template <bool kBsr>
struct Avx2F32 {
  static constexpr int64_t TT = mb::TT;
  static int64_t tile_bytes(const SparseLinear& L) { return L.in_pad * TT * 4; }
  static void prep(const SparseLinear& L, const float* X, int64_t t0, int64_t nt, uint8_t* tile, float*) {
    prep_transpose<TT>(L, X, t0, nt, reinterpret_cast<float*>(tile));
  }
  static inline void entry(const float* xt, const float* vals, const int32_t* idx, int64_t p, __m256& c0,
                           __m256& c1, __m256& c2, __m256& c3) {
    if (kBsr) {
      const float* x = xt + static_cast<int64_t>(idx[p]) * 4 * TT;
      const float* v = vals + 4 * p;
      for (int q = 0; q < 4; ++q) {
        const __m256 w = _mm256_broadcast_ss(v + q);
        const float* xq = x + q * TT;
        c0 = _mm256_fmadd_ps(w, _mm256_load_ps(xq), c0);
        c1 = _mm256_fmadd_ps(w, _mm256_load_ps(xq + 8), c1);
        c2 = _mm256_fmadd_ps(w, _mm256_load_ps(xq + 16), c2);
        c3 = _mm256_fmadd_ps(w, _mm256_load_ps(xq + 24), c3);
      }
    } else {
      const float* x = xt + static_cast<int64_t>(idx[p]) * TT;
      const __m256 w = _mm256_broadcast_ss(vals + p);
      c0 = _mm256_fmadd_ps(w, _mm256_load_ps(x), c0);
      c1 = _mm256_fmadd_ps(w, _mm256_load_ps(x + 8), c1);
      c2 = _mm256_fmadd_ps(w, _mm256_load_ps(x + 16), c2);
      c3 = _mm256_fmadd_ps(w, _mm256_load_ps(x + 24), c3);
    }
  }
  static inline void prefetch(const float* xt, const int32_t* idx, int64_t p) {
    const char* x = reinterpret_cast<const char*>(xt + static_cast<int64_t>(idx[p]) * (kBsr ? 4 : 1) * TT);
    for (int l = 0; l < (kBsr ? 8 : 2); ++l) _mm_prefetch(x + 64 * l, _MM_HINT_T0);
  }
  static void compute(const SparseLinear& L, int64_t o0, int64_t o1, const uint8_t* tile, float* yt) {
    const float* xt = reinterpret_cast<const float*>(tile);
    const float* vals = static_cast<const float*>(L.vals);
    const int32_t* idx = L.idx;
    for (int64_t o = o0; o < o1; ++o) {
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      int64_t p = L.rowptr[o];
      const int64_t e = L.rowptr[o + 1];
      for (; p + 2 <= e; p += 2) {
        if (p + 4 <= e) {
          prefetch(xt, idx, p + 2);
          prefetch(xt, idx, p + 3);
        }
        entry(xt, vals, idx, p, a0, a1, a2, a3);
        entry(xt, vals, idx, p + 1, b0, b1, b2, b3);
      }
      if (p < e) entry(xt, vals, idx, p, a0, a1, a2, a3);
      float* y = yt + (o - o0) * TT;
      _mm256_store_ps(y, _mm256_add_ps(a0, b0));
      _mm256_store_ps(y + 8, _mm256_add_ps(a1, b1));
      _mm256_store_ps(y + 16, _mm256_add_ps(a2, b2));
      _mm256_store_ps(y + 24, _mm256_add_ps(a3, b3));
    }
  }
  static void store(const SparseLinear& L, int64_t o0, int64_t o1, int64_t t0, int64_t nt, const float* yt,
                    const float*, float* Y) {
    store_f32<TT>(L, o0, o1, t0, nt, yt, Y);
  }
};

}  // namespace

void sparse_linear_avx2(const SparseLinear& L, const float* X, int64_t rows, float* Y) {
  if (L.kind == SparseKind::kBsr4)
    tiled_linear<Avx2F32<true>>(L, X, rows, Y);
  else
    tiled_linear<Avx2F32<false>>(L, X, rows, Y);
}

}  // namespace mb
