// Composer DecoupledAdamW, elementwise core (adamw.cc binds it; the AVX2 build is in adamw_avx2.cc).
#pragma once
#include <cstdint>

namespace mb {

// The per-step scalars, each rounded once to float32 from its float64 value, as PyTorch does when a Python float
// meets a float32 tensor.
struct AdamWScalars {
  bool decay;        // weightDecay != 0 (the reference skips the decay multiply otherwise)
  float decay_mul;   // 1 - decayFactor * weightDecay
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float bias_correction2_sqrt, eps;
  float neg_step;    // -stepSize = -(lr / (1 - beta1^t))
};

// One step on n elements, float32, per element and in this order (no FMA, no reassociation):
//   p = p * decay_mul                      (only when decay)
//   m = m * beta1 + one_minus_beta1 * g
//   v = v * beta2 + (one_minus_beta2 * g) * g
//   d = sqrt(v) / bias_correction2_sqrt + eps
//   p = p + (neg_step * m) / d
// Every operation is a correctly rounded IEEE float32 operation, so both builds give identical bits.
void adamw_avx2(float* p, const float* g, float* m, float* v, int64_t n, const AdamWScalars& s);
void adamw_portable(float* p, const float* g, float* m, float* v, int64_t n, const AdamWScalars& s);

}  // namespace mb
