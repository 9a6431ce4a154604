// LayerNorm with a fused residual add (post-LN), forward and backward: bindings and the portable path.
//
// Sources: Ba, Kiros & Hinton 2016, "Layer Normalization"; PyTorch nn.LayerNorm / F.layer_norm (biased variance, eps
// inside the square root); MosaicBERT post-LN placement `LayerNorm(dropout(dense(attn)) + input)` and
// `LayerNorm(wo(...) + residual)` with eps 1e-12 (the reference's `BertSelfOutput`). Contract:
// src/kernels/types.ts (layerNormForward / layerNormBackward).
//
// Shapes (row-major float32): x, residual, sum, out, dOut, s, dX [rows, cols]; gamma, beta, dGamma, dBeta [cols];
// mean, rstd [rows] (float32 copies of the float64 statistics).
// Forward: s = x + residual (float32 add, as PyTorch), mean and biased variance of s accumulated in float64 (two
// passes), rstd = 1/sqrt(var + eps) in float64, out = (s - mean) rstd gamma + beta.
// Backward (from the saved float32 mean/rstd, as PyTorch): g = dOut gamma, xhat = (s - mean) rstd,
// dX = rstd (g - mean_c(g) - xhat mean_c(g xhat)); dGamma += sum_r dOut xhat, dBeta += sum_r dOut.
// Determinism: rows are independent in the forward and in dX; dGamma/dBeta are summed in float64 per fixed block of
// rows (block size a function of `rows` only), then the blocks are summed in block order, so the result is
// bit-identical for any thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/args.h"
#include "common/cpu.h"
#include "common/pool.h"
#include "common/registry.h"
#include "kernels/layernorm/layernorm.h"

namespace mb {
namespace ln {

void fwd_rows_portable(const float* x, const float* residual, const float* gamma, const float* beta, int64_t cols,
                       double eps, float* sum, float* out, float* mean, float* rstd, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t o = r * cols;
    const float* xr = x + o;
    const float* rr = residual ? residual + o : nullptr;
    float* sr = sum ? sum + o : nullptr;
    double acc = 0;
    for (int64_t i = 0; i < cols; ++i) {
      float v = rr ? xr[i] + rr[i] : xr[i];
      if (sr) sr[i] = v;
      acc += v;
    }
    const double m = acc / cols;
    const float* src = sr ? sr : xr;
    const bool add = rr && !sr;
    acc = 0;
    for (int64_t i = 0; i < cols; ++i) {
      double d = static_cast<double>(add ? src[i] + rr[i] : src[i]) - m;
      acc += d * d;
    }
    const double rs = 1.0 / std::sqrt(acc / cols + eps);
    mean[r] = static_cast<float>(m);
    rstd[r] = static_cast<float>(rs);
    const float mhi = static_cast<float>(m), mlo = static_cast<float>(m - static_cast<double>(mhi));
    const float rsf = static_cast<float>(rs);
    float* orow = out + o;
    for (int64_t i = 0; i < cols; ++i) {
      float v = add ? src[i] + rr[i] : src[i];
      orow[i] = ((v - mhi) - mlo) * rsf * gamma[i] + beta[i];
    }
  }
}

void bwd_rows_portable(const float* dy, const float* s, const float* gamma, const float* mean, const float* rstd,
                       int64_t cols, float* dx, double* pg, double* pb, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* dyr = dy + r * cols;
    const float* sr = s + r * cols;
    float* dxr = dx + r * cols;
    const float mf = mean[r], rf = rstd[r];
    double sg = 0, sx = 0;
    for (int64_t i = 0; i < cols; ++i) {
      float d = dyr[i];
      float xh = (sr[i] - mf) * rf;
      float g = d * gamma[i];
      sg += g;
      sx += static_cast<double>(g) * xh;
      pg[i] += static_cast<double>(d) * xh;
      pb[i] += d;
    }
    const float mg = static_cast<float>(sg / cols), mgx = static_cast<float>(sx / cols);
    for (int64_t i = 0; i < cols; ++i) {
      float xh = (sr[i] - mf) * rf;
      float g = dyr[i] * gamma[i];
      dxr[i] = rf * ((g - mg) - xh * mgx);
    }
  }
}

namespace {

constexpr int64_t kMaxDim = int64_t(1) << 31;
constexpr int64_t kFwdChunk = 16384;  // elements per forward task (whole rows, at least one)

// layerNormForward(x, residual, gamma, beta, rows, cols, eps, sum, out, mean, rstd)
Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  Args a(info, "layerNormForward", 11);
  int64_t rows = a.integer(4, "rows", 0, kMaxDim);
  int64_t cols = a.integer(5, "cols", 1, kMaxDim);
  double eps = a.number(6, "eps");
  if (!(eps >= 0) || !std::isfinite(eps)) a.range_error("argument 'eps' must be finite and >= 0");
  const int64_t n = rows * cols;
  auto x = a.f32(0, "x", n);
  auto res = a.f32_or_null(1, "residual", n);
  auto gamma = a.f32(2, "gamma", cols);
  auto beta = a.f32(3, "beta", cols);
  auto sum = a.f32_or_null(7, "sum", n);
  auto out = a.f32(8, "out", n);
  auto mean = a.f32(9, "mean", rows);
  auto rstd = a.f32(10, "rstd", rows);
  const bool v = use_avx2();
  const int64_t rb = std::max<int64_t>(1, kFwdChunk / cols);
  parallel_for((rows + rb - 1) / rb, [&](int64_t t, int) {
    int64_t r0 = t * rb, r1 = std::min(rows, r0 + rb);
    if (v)
      fwd_rows_avx2(x.data, res.data, gamma.data, beta.data, cols, eps, sum.data, out.data, mean.data, rstd.data, r0,
                    r1);
    else
      fwd_rows_portable(x.data, res.data, gamma.data, beta.data, cols, eps, sum.data, out.data, mean.data, rstd.data,
                        r0, r1);
  });
  return info.Env().Undefined();
}

// layerNormBackward(dOut, s, gamma, mean, rstd, rows, cols, dX, dGamma, dBeta)
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "layerNormBackward", 10);
  int64_t rows = a.integer(5, "rows", 0, kMaxDim);
  int64_t cols = a.integer(6, "cols", 1, kMaxDim);
  const int64_t n = rows * cols;
  auto dy = a.f32(0, "dOut", n);
  auto s = a.f32(1, "s", n);
  auto gamma = a.f32(2, "gamma", cols);
  auto mean = a.f32(3, "mean", rows);
  auto rstd = a.f32(4, "rstd", rows);
  auto dx = a.f32(7, "dX", n);
  auto dgamma = a.f32(8, "dGamma", cols);
  auto dbeta = a.f32(9, "dBeta", cols);
  if (rows == 0) return info.Env().Undefined();
  const bool v = use_avx2();
  // Fixed row blocks: 32 rows, or more when rows > 32 * 256 (at most 256 blocks of float64 partials).
  const int64_t rb = std::max<int64_t>(32, (rows + 255) / 256);
  const int64_t nb = (rows + rb - 1) / rb;
  std::vector<double> part(static_cast<size_t>(nb * 2 * cols), 0.0);
  parallel_for(nb, [&](int64_t b, int) {
    int64_t r0 = b * rb, r1 = std::min(rows, r0 + rb);
    double* pg = part.data() + b * 2 * cols;
    double* pb = pg + cols;
    if (v) bwd_rows_avx2(dy.data, s.data, gamma.data, mean.data, rstd.data, cols, dx.data, pg, pb, r0, r1);
    else bwd_rows_portable(dy.data, s.data, gamma.data, mean.data, rstd.data, cols, dx.data, pg, pb, r0, r1);
  });
  // Sum the blocks in block order, per column (columns in parallel: each column's order is fixed).
  const int64_t cb = 1024;
  parallel_for((cols + cb - 1) / cb, [&](int64_t t, int) {
    for (int64_t c = t * cb, e = std::min(cols, (t + 1) * cb); c < e; ++c) {
      double g = 0, bsum = 0;
      for (int64_t b = 0; b < nb; ++b) {
        g += part[b * 2 * cols + c];
        bsum += part[b * 2 * cols + cols + c];
      }
      dgamma.data[c] = static_cast<float>(static_cast<double>(dgamma.data[c]) + g);
      dbeta.data[c] = static_cast<float>(static_cast<double>(dbeta.data[c]) + bsum);
    }
  });
  return info.Env().Undefined();
}

MB_EXPORT("layerNormForward", LayerNormForward);
MB_EXPORT("layerNormBackward", LayerNormBackward);

}  // namespace
}  // namespace ln
}  // namespace mb
