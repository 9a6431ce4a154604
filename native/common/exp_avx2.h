// A vectorised float32 exp for AVX2+FMA code (include only from *_avx2.cc files).
//
// exp(x) = 2^n * e^r with n = round(x / ln 2) and r = x - n ln 2 in [-ln2/2, ln2/2]; ln 2 is split Cody-Waite
// style into 0.693359375 (9 significant bits, so n * hi is exact) and a small remainder, each subtracted with an
// FMA. e^r is the degree-7 Taylor polynomial (truncation error |r|^8/8! < 6e-9 relative, below half an ulp),
// evaluated by Horner with FMAs; 2^n is built in the exponent field. Measured error: within 1 ulp of the correctly
// rounded result on a sweep of 1.8e7 inputs over [-87.3, 88). Below -87.33654 (= ln FLT_MIN; -inf included) the
// result is exactly +0 (no denormal outputs: in a softmax such terms are below float32 resolution of the row sum);
// +inf gives exp(88); NaN propagates. The one exp of the AVX2 kernels (softmax in attention and cross-entropy,
// GELU and tanh in activations).
#pragma once
#include <immintrin.h>

namespace mb {

static inline __m256 exp256_ps(__m256 x) {
  // min/max return their SECOND operand when either is NaN, so a NaN input survives the clamp.
  __m256 xc = _mm256_min_ps(_mm256_set1_ps(88.0f), x);
  xc = _mm256_max_ps(_mm256_set1_ps(-88.0f), xc);
  __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  // 2^n for n in [-127, 127]; n = -127 gives the bit pattern of +0 (flush).
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ);
  return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

// Loads the first k (0 <= k < 8) floats of p; the other lanes get `fill`.
static inline __m256 load_tail_ps(const float* p, int k, float fill) {
  __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(k), lane);
  __m256 v = _mm256_maskload_ps(p, mask);
  return _mm256_blendv_ps(_mm256_set1_ps(fill), v, _mm256_castsi256_ps(mask));
}

// Stores the first k (0 <= k < 8) lanes of v to p.
static inline void store_tail_ps(float* p, int k, __m256 v) {
  __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(k), lane), v);
}

}  // namespace mb
