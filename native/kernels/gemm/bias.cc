// Bias kernels of the Linear layers (Kernels.addBias / Kernels.biasGrad in src/kernels/types.ts):
//   addBias:  Y[r, c] += bias[c]              Y: [rows, cols], bias: [cols]
//   biasGrad: dBias[c] += sum_r dY[r, c]      the column sum in float64, rows in increasing order
// Both are memory-bound streams; the plain loops below are vectorised by the compiler (SSE on the portable
// build), which already saturates memory bandwidth, so there is no separate AVX2 file.
// biasGrad partitions COLUMNS between tasks (the strip width depends on the thread count, which is harmless) and
// sums each column's rows in order, so the result is bit-identical for any thread count.
#include <algorithm>
#include <vector>

#include "common/args.h"
#include "common/pool.h"
#include "common/registry.h"

namespace mb {
namespace {

void add_bias(float* Y, const float* bias, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  // Row blocks of ~64 KiB per task.
  const int64_t rb = std::max<int64_t>(1, 16384 / cols);
  parallel_for((rows + rb - 1) / rb, [&](int64_t t, int) {
    const int64_t r1 = std::min(rows, (t + 1) * rb);
    for (int64_t r = t * rb; r < r1; ++r) {
      float* __restrict y = Y + r * cols;
      const float* __restrict b = bias;
      for (int64_t c = 0; c < cols; ++c) y[c] += b[c];
    }
  });
}

void bias_grad(const float* dY, int64_t rows, int64_t cols, float* dBias) {
  if (rows <= 0 || cols <= 0) return;
  // Column strips: about two per thread (up to CW_MAX floats, a multiple of 16), so that each row contributes a
  // long contiguous run (prefetch-friendly) and the float64 accumulators stay in L1.
  constexpr int64_t CW_MAX = 1024;
  const int64_t nth = num_threads();
  int64_t cw = ((cols + 2 * nth - 1) / (2 * nth) + 15) / 16 * 16;
  cw = std::min(CW_MAX, std::max<int64_t>(64, cw));
  const int64_t strips = (cols + cw - 1) / cw;
  parallel_for(strips, [&](int64_t s, int) {
    const int64_t c0 = s * cw, w = std::min(cw, cols - c0);
    double acc[CW_MAX];
    for (int64_t c = 0; c < w; ++c) acc[c] = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      const float* __restrict d = dY + r * cols + c0;
      double* __restrict a = acc;
      for (int64_t c = 0; c < w; ++c) a[c] += static_cast<double>(d[c]);
    }
    for (int64_t c = 0; c < w; ++c) dBias[c0 + c] = static_cast<float>(static_cast<double>(dBias[c0 + c]) + acc[c]);
  });
}

// addBias(Y, bias, rows, cols)
Napi::Value AddBias(const Napi::CallbackInfo& info) {
  Args a(info, "addBias", 4);
  const int64_t rows = a.integer(2, "rows", 0, Args::kMaxElems), cols = a.integer(3, "cols", 0, Args::kMaxElems);
  auto Y = a.f32(0, "Y", a.elems({rows, cols}, "rows * cols"));
  auto bias = a.f32(1, "bias", static_cast<size_t>(cols));
  add_bias(Y.data, bias.data, rows, cols);
  return info.Env().Undefined();
}

// biasGrad(dY, rows, cols, dBias)
Napi::Value BiasGrad(const Napi::CallbackInfo& info) {
  Args a(info, "biasGrad", 4);
  const int64_t rows = a.integer(1, "rows", 0, Args::kMaxElems), cols = a.integer(2, "cols", 0, Args::kMaxElems);
  auto dY = a.f32(0, "dY", a.elems({rows, cols}, "rows * cols"));
  auto dBias = a.f32(3, "dBias", static_cast<size_t>(cols));
  bias_grad(dY.data, rows, cols, dBias.data);
  return info.Env().Undefined();
}

MB_EXPORT("addBias", AddBias);
MB_EXPORT("biasGrad", BiasGrad);

}  // namespace
}  // namespace mb
