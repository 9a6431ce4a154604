// INT8 linears, portable path (plain loops; the AVX2 path is qlinear_avx2.cc). See qlinear.h.
// Tile layout (tiled_driver.h): the quantized token t of the tile, columns 4g .. 4g+3, is the 4 bytes at
// (g * TT + t) * 4, so a 1x4 weight block meets the same 4 columns of 32 tokens in 128 contiguous bytes.
#include "kernels/quant/qlinear.h"

#include <algorithm>
#include <cstring>

#include "kernels/quant/qlinear_common.h"
#include "kernels/sparse/tiled_driver.h"

namespace mb {
namespace {

constexpr int64_t TT = 32;

template <bool kDense>
struct PortableQ8 {
  static constexpr int64_t TT = mb::TT;
  static constexpr int64_t kScratchPerRow = TT;
  static int64_t tile_bytes(const SparseLinear& L) { return L.in_pad * TT; }
  static void prep(const SparseLinear& L, const float* X, int64_t t0, int64_t nt, uint8_t* tile, float* sx) {
    std::memset(tile, 0, static_cast<size_t>(L.in_pad * TT));
    int8_t* q = reinterpret_cast<int8_t*>(tile);
    for (int64_t t = 0; t < nt; ++t) {
      const float* x = X + (t0 + t) * L.in;
      float m = 0.0f;
      for (int64_t k = 0; k < L.in; ++k) m = std::max(m, std::fabs(x[k]));
      float inv;
      q8_row_scale(m, &sx[t], &inv);
      for (int64_t k = 0; k < L.in; ++k) q[((k >> 2) * TT + t) * 4 + (k & 3)] = q8_quantize(x[k], inv);
    }
  }
  static inline void block(const int8_t* __restrict xg, const int8_t* __restrict w, int32_t* __restrict acc) {
    for (int64_t t = 0; t < TT; ++t) {
      const int8_t* x = xg + t * 4;
      acc[t] += int32_t(x[0]) * w[0] + int32_t(x[1]) * w[1] + int32_t(x[2]) * w[2] + int32_t(x[3]) * w[3];
    }
  }
  static void compute(const SparseLinear& L, int64_t o0, int64_t o1, const uint8_t* tile, float* yt) {
    const int8_t* xt = reinterpret_cast<const int8_t*>(tile);
    const int8_t* vals = static_cast<const int8_t*>(L.vals);
    const int64_t ng = L.in_pad / 4;
    for (int64_t o = o0; o < o1; ++o) {
      int32_t acc[TT] = {};
      if (kDense) {
        const int8_t* w = vals + o * L.in_pad;
        for (int64_t g = 0; g < ng; ++g) block(xt + g * TT * 4, w + 4 * g, acc);
      } else {
        for (int64_t p = L.rowptr[o]; p < L.rowptr[o + 1]; ++p)
          block(xt + static_cast<int64_t>(L.idx[p]) * TT * 4, vals + 4 * p, acc);
      }
      std::memcpy(yt + (o - o0) * TT, acc, sizeof(acc));
    }
  }
  static void store(const SparseLinear& L, int64_t o0, int64_t o1, int64_t t0, int64_t nt, const float* yt,
                    const float* sx, float* Y) {
    q8_store<TT>(L, o0, o1, t0, nt, reinterpret_cast<const int32_t*>(yt), sx, Y);
  }
};

}  // namespace

void q8_linear_portable(const SparseLinear& L, const float* X, int64_t rows, float* Y) {
  if (L.kind == SparseKind::kQ8Dense)
    tiled_linear<PortableQ8<true>>(L, X, rows, Y);
  else
    tiled_linear<PortableQ8<false>>(L, X, rows, Y);
}

}  // namespace mb
