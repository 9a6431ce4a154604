// AVX2+FMA builds of the vector primitives of vec.h (compiled with -mavx2 -mfma; called only when
// mb::use_avx2()). Loads/stores are unaligned: callers pass arbitrary subarray views.
#include <immintrin.h>

// Keep a*b+c as two rounded operations: GCC contracts them into FMAs in C++ by default (-ffp-contract=fast),
// even across intrinsics, which would change bits relative to the portable build and the reference.
#pragma GCC optimize("fp-contract=off")

#include "kernels/rows/vec.h"

namespace mb {

void vec_add_avx2(float* out, const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 x0 = _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 x1 = _mm256_add_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    _mm256_storeu_ps(out + i, x0);
    _mm256_storeu_ps(out + i + 8, x1);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < n; ++i) out[i] = a[i] + b[i];
}

void vec_acc_avx2(float* dst, const float* src, int64_t n) { vec_add_avx2(dst, dst, src, n); }

void vec_axpby_avx2(int64_t n, double a, const float* x, double b, float* y) {
  const __m256d va = _mm256_set1_pd(a), vb = _mm256_set1_pd(b);
  int64_t i = 0;
  if (b == 0.0) {
    for (; i + 8 <= n; i += 8) {
      __m256 xv = _mm256_loadu_ps(x + i);
      __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(va, _mm256_cvtps_pd(_mm256_castps256_ps128(xv))));
      __m128 hi = _mm256_cvtpd_ps(_mm256_mul_pd(va, _mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1))));
      _mm256_storeu_ps(y + i, _mm256_set_m128(hi, lo));
    }
    for (; i < n; ++i) y[i] = static_cast<float>(a * static_cast<double>(x[i]));
    return;
  }
  for (; i + 8 <= n; i += 8) {
    __m256 xv = _mm256_loadu_ps(x + i), yv = _mm256_loadu_ps(y + i);
    __m256d xl = _mm256_cvtps_pd(_mm256_castps256_ps128(xv)), xh = _mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1));
    __m256d yl = _mm256_cvtps_pd(_mm256_castps256_ps128(yv)), yh = _mm256_cvtps_pd(_mm256_extractf128_ps(yv, 1));
    __m128 lo = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_mul_pd(va, xl), _mm256_mul_pd(vb, yl)));
    __m128 hi = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_mul_pd(va, xh), _mm256_mul_pd(vb, yh)));
    _mm256_storeu_ps(y + i, _mm256_set_m128(hi, lo));
  }
  for (; i < n; ++i) y[i] = static_cast<float>(a * static_cast<double>(x[i]) + b * static_cast<double>(y[i]));
}

double vec_sumsq_avx2(const float* x, int64_t n) {
  // Four float64 accumulators of 4 lanes (16 partial sums), combined in a fixed order; each product of two
  // float32 values is exact in float64, so only the additions round.
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd(), s2 = _mm256_setzero_pd(), s3 = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
    __m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(v0)), d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(v0, 1));
    __m256d d2 = _mm256_cvtps_pd(_mm256_castps256_ps128(v1)), d3 = _mm256_cvtps_pd(_mm256_extractf128_ps(v1, 1));
    s0 = _mm256_fmadd_pd(d0, d0, s0);
    s1 = _mm256_fmadd_pd(d1, d1, s1);
    s2 = _mm256_fmadd_pd(d2, d2, s2);
    s3 = _mm256_fmadd_pd(d3, d3, s3);
  }
  __m256d s = _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3));
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, s);
  double total = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) total += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return total;
}

}  // namespace mb
