// Per-row building blocks of the knowledge-distillation loss (distillation.cc binds them; the AVX2 builds live in
// distillation_avx2.cc). See Kernels.distillationLoss in src/kernels/types.ts and src/train/distillation.ts.
#pragma once
#include <cstdint>

namespace mb {

// One row of C logits, student s and teacher t, at inverse temperature invT > 0:
//   p = softmax(s * invT), q = softmax(t * invT)
//   returns KL(q || p) = sum_j q_j (log q_j - log p_j) in float64;
//   when grad != nullptr writes grad[j] = scale * (p_j - q_j) (float32).
double kd_row_avx2(const float* s, const float* t, int64_t C, float invT, float scale, float* grad);
double kd_row_portable(const float* s, const float* t, int64_t C, float invT, float scale, float* grad);

}  // namespace mb
