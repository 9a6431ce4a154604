// AVX2 build of the DecoupledAdamW element loop (see adamw.h). Only IEEE mul/add/div/sqrt on 8 lanes (vsqrtps and
// vdivps are correctly rounded), no FMA: the bits equal those of the portable loop and of the reference.
#include <immintrin.h>

// Keep a*b+c as two rounded operations: GCC contracts them into FMAs in C++ by default (-ffp-contract=fast),
// even across intrinsics, which would change bits relative to the portable build and the reference.
#pragma GCC optimize("fp-contract=off")

#include <cmath>

#include "kernels/optim/adamw.h"

namespace mb {

void adamw_avx2(float* p, const float* g, float* m, float* v, int64_t n, const AdamWScalars& s) {
  const __m256 dm = _mm256_set1_ps(s.decay_mul), b1 = _mm256_set1_ps(s.beta1), a1 = _mm256_set1_ps(s.one_minus_beta1);
  const __m256 b2 = _mm256_set1_ps(s.beta2), a2 = _mm256_set1_ps(s.one_minus_beta2);
  const __m256 bc2 = _mm256_set1_ps(s.bias_correction2_sqrt), eps = _mm256_set1_ps(s.eps);
  const __m256 ns = _mm256_set1_ps(s.neg_step);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 pv = _mm256_loadu_ps(p + i);
    if (s.decay) pv = _mm256_mul_ps(pv, dm);
    const __m256 gv = _mm256_loadu_ps(g + i);
    const __m256 mv = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m + i), b1), _mm256_mul_ps(a1, gv));
    const __m256 vv = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), b2), _mm256_mul_ps(_mm256_mul_ps(a2, gv), gv));
    const __m256 d = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vv), bc2), eps);
    _mm256_storeu_ps(p + i, _mm256_add_ps(pv, _mm256_div_ps(_mm256_mul_ps(ns, mv), d)));
    _mm256_storeu_ps(m + i, mv);
    _mm256_storeu_ps(v + i, vv);
  }
  adamw_portable(p + i, g + i, m + i, v + i, n - i, s);  // the < 8 tail: the same operations, one at a time
}

}  // namespace mb
