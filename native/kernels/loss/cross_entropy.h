// Per-row building blocks of the softmax cross-entropy (cross_entropy.cc binds them; the AVX2 builds live in
// cross_entropy_avx2.cc). One row x[0..V) at a time; target t already checked to lie in [0, V).
#pragma once
#include <cstdint>

namespace mb {

// Writes *lse = float32(logsumexp(x)) and returns logsumexp(x) - x[t] in float64 (from the float64 lse).
double ce_row_forward_avx2(const float* x, int64_t V, int32_t t, float* lse);
double ce_row_forward_portable(const float* x, int64_t V, int32_t t, float* lse);

// dx[j] = scale * (exp(x[j] - lse) - [j == t]) (float32); dx may alias x.
void ce_row_backward_avx2(const float* x, int64_t V, int32_t t, float lse, float scale, float* dx);
void ce_row_backward_portable(const float* x, int64_t V, int32_t t, float lse, float scale, float* dx);

}  // namespace mb
