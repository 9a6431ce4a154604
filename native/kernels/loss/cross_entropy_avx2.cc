// AVX2+FMA build of the cross-entropy row kernels (see cross_entropy.h / cross_entropy.cc): a max pass, then one
// pass of exp(x - max) (exp256_ps, <= 1 ulp) accumulated in float64 (4 x 4 lanes, fixed order), then
// lse = max + log(sum) in float64. The backward is one pass of scale * exp(x - lse).
#include <immintrin.h>

#include <cmath>

#include "kernels/loss/cross_entropy.h"
#include "common/exp_avx2.h"

namespace mb {

static inline float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

double ce_row_forward_avx2(const float* x, int64_t V, int32_t t, float* lse) {
  const float ninf = -INFINITY;
  // 1. Row max (exact; order does not matter).
  __m256 m0 = _mm256_set1_ps(ninf), m1 = m0, m2 = m0, m3 = m0;
  int64_t j = 0;
  for (; j + 32 <= V; j += 32) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + j));
    m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + j + 8));
    m2 = _mm256_max_ps(m2, _mm256_loadu_ps(x + j + 16));
    m3 = _mm256_max_ps(m3, _mm256_loadu_ps(x + j + 24));
  }
  for (; j + 8 <= V; j += 8) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + j));
  if (j < V) m1 = _mm256_max_ps(m1, load_tail_ps(x + j, static_cast<int>(V - j), ninf));
  float mx = hmax8(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
  // A row of -inf (or a +inf) has no finite shift; fall back to 0 so the result is the IEEE one (inf or NaN).
  const float shift = std::isfinite(mx) ? mx : 0.0f;
  const __m256 vm = _mm256_set1_ps(shift);
  // 2. sum_j exp(x_j - max) in float64.
  __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  j = 0;
  for (; j + 16 <= V; j += 16) {
    __m256 e0 = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
    __m256 e1 = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j + 8), vm));
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e0)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e0, 1)));
    s2 = _mm256_add_pd(s2, _mm256_cvtps_pd(_mm256_castps256_ps128(e1)));
    s3 = _mm256_add_pd(s3, _mm256_cvtps_pd(_mm256_extractf128_ps(e1, 1)));
  }
  for (; j < V; j += 8) {
    __m256 v = V - j >= 8 ? _mm256_loadu_ps(x + j) : load_tail_ps(x + j, static_cast<int>(V - j), ninf);
    __m256 e = exp256_ps(_mm256_sub_ps(v, vm));  // -inf lanes give exactly 0
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  double l = static_cast<double>(shift) + std::log(sum);
  if (!std::isfinite(mx)) l = static_cast<double>(mx);  // all -inf -> -inf; any +inf -> +inf; NaN -> NaN
  *lse = static_cast<float>(l);
  return l - static_cast<double>(x[t]);
}

void ce_row_backward_avx2(const float* x, int64_t V, int32_t t, float lse, float scale, float* dx) {
  // The target's logit is read before the row is overwritten (dx may alias x).
  const float xt = x[t];
  const __m256 vl = _mm256_set1_ps(lse), vs = _mm256_set1_ps(scale);
  int64_t j = 0;
  for (; j + 8 <= V; j += 8)
    _mm256_storeu_ps(dx + j, _mm256_mul_ps(vs, exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), vl))));
  if (j < V) {
    int k = static_cast<int>(V - j);
    store_tail_ps(dx + j, k, _mm256_mul_ps(vs, exp256_ps(_mm256_sub_ps(load_tail_ps(x + j, k, 0.0f), vl))));
  }
  float pt = _mm256_cvtss_f32(exp256_ps(_mm256_set1_ps(xt - lse)));
  dx[t] = scale * (pt - 1.0f);
}

}  // namespace mb
