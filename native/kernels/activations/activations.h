// Internal interface between the activation bindings (activations.cc, portable paths) and the AVX2+FMA paths
// (activations_avx2.cc). Each function processes n contiguous elements on the calling thread; the bindings split the
// work into fixed chunks. Every element's result depends only on its own inputs (no position-dependent code path:
// vector tails use masked loads), so results do not depend on the chunking or the thread count.
#pragma once
#include <cstdint>

namespace mb {
namespace act {

void gelu_fwd_avx2(const float* x, int64_t n, float* out);
void gelu_bwd_avx2(const float* x, const float* dy, int64_t n, float* dx);
// GeGLU on one row piece: a = gate (first half), b = value (second half).
void geglu_fwd_avx2(const float* a, const float* b, int64_t n, float* out);
void geglu_bwd_avx2(const float* a, const float* b, const float* dy, int64_t n, float* da, float* db);
void tanh_fwd_avx2(const float* x, int64_t n, float* out);
void tanh_bwd_avx2(const float* y, const float* dy, int64_t n, float* dx);
// Test hook: erf(x) with the vectorised approximation of simd_math.h.
void erf_avx2(const float* x, int64_t n, float* out);

}  // namespace act
}  // namespace mb
