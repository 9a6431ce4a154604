// Internal interface between the LayerNorm bindings (layernorm.cc, portable path) and the AVX2+FMA path
// (layernorm_avx2.cc). Each function processes rows [r0, r1) on the calling thread.
#pragma once
#include <cstdint>

namespace mb {
namespace ln {

// Forward: s = x + residual (residual may be null), optionally stored to sum (may be null; may alias x), statistics
// in float64 (two passes), out = ((s - mean) * rstd) * gamma + beta. Exact aliasing of out with x, residual or sum
// is safe (each element is read before it is written, within its row).
void fwd_rows_avx2(const float* x, const float* residual, const float* gamma, const float* beta, int64_t cols,
                   double eps, float* sum, float* out, float* mean, float* rstd, int64_t r0, int64_t r1);
void fwd_rows_portable(const float* x, const float* residual, const float* gamma, const float* beta, int64_t cols,
                       double eps, float* sum, float* out, float* mean, float* rstd, int64_t r0, int64_t r1);

// Backward: dx (may alias dy) = rstd (g - mean(g) - xhat mean(g xhat)), g = dy gamma, xhat = (s - mean) rstd from
// the saved float32 statistics; pg[c] += sum_r dy xhat, pb[c] += sum_r dy over the rows, in row order (float64).
void bwd_rows_avx2(const float* dy, const float* s, const float* gamma, const float* mean, const float* rstd,
                   int64_t cols, float* dx, double* pg, double* pb, int64_t r0, int64_t r1);
void bwd_rows_portable(const float* dy, const float* s, const float* gamma, const float* mean, const float* rstd,
                       int64_t cols, float* dx, double* pg, double* pb, int64_t r0, int64_t r1);

}  // namespace ln
}  // namespace mb
