// Shared pieces of the int8 linears (both paths): the per-token quantizer's scalar formula and the dequantizing
// store. Internal linkage (included once per path).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/sparse/sparse_linear.h"

namespace mb {
namespace {

// Scale of one token row: sx = max|x| / 127 and the multiplier 127 / max|x| (both 0 for an all-zero row).
inline void q8_row_scale(float maxabs, float* sx, float* inv) {
  *sx = maxabs / 127.0f;
  *inv = maxabs > 0.0f ? 127.0f / maxabs : 0.0f;
}

// q = round_half_even(x * inv), clamped to [-127, 127] (x * inv is within [-127, 127] up to rounding already).
inline int8_t q8_quantize(float x, float inv) {
  const float p = x * inv;
  float r = std::nearbyint(p);
  r = r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r);
  return static_cast<int8_t>(static_cast<int>(r));
}

// Y[t0 + t, o] = float(acc[o - o0][t]) * (sx[t] * wscale[o]) + bias[o].
template <int64_t TT>
inline void q8_store(const SparseLinear& L, int64_t o0, int64_t o1, int64_t t0, int64_t nt, const int32_t* acc,
                     const float* sx, float* Y) {
  const int64_t out = L.out;
  for (int64_t t = 0; t < nt; ++t) {
    float* __restrict y = Y + (t0 + t) * out;
    const float s = sx[t];
    for (int64_t o = o0; o < o1; ++o) {
      const float v = static_cast<float>(acc[(o - o0) * TT + t]) * (s * L.wscale[o]);
      y[o] = L.bias ? v + L.bias[o] : v;
    }
  }
}

}  // namespace
}  // namespace mb
