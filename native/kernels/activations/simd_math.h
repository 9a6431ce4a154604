// Vectorised float32 transcendental functions for AVX2+FMA (8 lanes): exp, erf, erfc (of |z|), tanh.
// Include only from *_avx2.cc files (compiled with -mavx2 -mfma); everything is `static inline` in mb::simd.
//
// The polynomial coefficients were fitted for this project (weighted least squares on Chebyshev nodes with Lawson
// reweighting towards minimax relative error, in float64 against scipy's erf/erfcx/exp/tanh, then rounded to
// float32). Accuracy, measured by test/kernels/activations.test.ts and the sweep in the report:
//   exp256   common/exp_avx2.h's exp256_ps: <= 1 ulp on [-87.3, 88]; 0 below -87.34 (no denormals);
//            NaN in, NaN out.
//   erf256   absolute error <= 1.4e-7 (~2.3 ulp of values near 1) on the whole real line (dense sweep of [-10, 10]),
//            relative error ~2e-7 near 0; erf(+-inf) = +-1; NaN in, NaN out.
//   erfc_abs256(|z|, exp(-z^2)) relative error ~3e-7 for |z| > 1 (used for 1 + erf(z) at negative z).
//   tanh256  relative error <= ~3 ulp.
// Range split for erf: |z| <= 1: erf(z) = z * P(z^2) (degree-6 P, fit error 1.2e-9 relative);
//                      |z| >  1: erfc(|z|) = exp(-z^2) * Q(t), t = 1/(1 + |z|/2) (degree-8 Q, fit error 5.6e-9
//                      relative on [1, 10]), with exp(-z^2) corrected for the rounding of z^2 via an FMA residual.
#pragma once
#if !(defined(__AVX2__) && defined(__FMA__))
#error "simd_math.h needs -mavx2 -mfma (include it only from *_avx2.cc files)"
#endif
#include <immintrin.h>

#include "common/exp_avx2.h"

namespace mb {
namespace simd {

static inline __m256 poly_eval(__m256 x, const float* c, int n) {  // c[0] + c[1] x + ... + c[n-1] x^(n-1)
  __m256 p = _mm256_set1_ps(c[n - 1]);
  for (int i = n - 2; i >= 0; --i) p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(c[i]));
  return p;
}

// exp: the shared exp256_ps of common/exp_avx2.h (<= 1 ulp, exact 0 below ln FLT_MIN).
static inline __m256 exp256(__m256 x) { return exp256_ps(x); }

// erf(a)/a for |a| <= 1 as a polynomial in a^2 (float evaluation error dominates the 1.2e-9 fit error: max
// |erf error| 1.4e-7 ~ 2.3 ulp, near a = 0.98).
static inline __m256 erf_small256(__m256 a) {
  static const float c[7] = {1.1283791065216064f, -0.3761262595653534f, 0.1128358542919159f,
                             -0.026853816583752632f, 0.005188334733247757f, -0.0008010247838683426f,
                             7.854026625864208e-05f};
  return _mm256_mul_ps(a, poly_eval(_mm256_mul_ps(a, a), c, 7));
}

// erfc(a) for a = |z| >= 1, given e2 = exp(-a^2) (accurately computed by the caller). Valid up to a ~ 10; beyond,
// pass a clamped to <= 10 (e2 is then 0 anyway).
static inline __m256 erfc_abs256(__m256 a, __m256 e2) {
  static const float c[9] = {-4.10302845921251e-06f, 0.2821994125843048f, 0.280990868806839f,
                             0.25296685099601746f, 0.15804314613342285f, 0.10533881932497025f,
                             0.02506527677178383f, -0.18504425883293152f, 0.08089229464530945f};
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(a, _mm256_set1_ps(0.5f), one));
  return _mm256_mul_ps(e2, poly_eval(t, c, 9));
}

// exp(-a*a) with the rounding error of a*a compensated: a*a = s + l exactly (FMA), exp(-s-l) ~ exp(-s)(1-l).
// a must be finite and |a| <= ~13 (clamp first).
static inline __m256 exp_neg_sq256(__m256 a) {
  __m256 s = _mm256_mul_ps(a, a);
  __m256 l = _mm256_fmsub_ps(a, a, s);
  __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), s));
  return _mm256_fnmadd_ps(e, l, e);
}

static inline __m256 abs256(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }

// erf(x), float32, absolute error ~1e-7.
static inline __m256 erf256(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 a = abs256(x);
  __m256 small = erf_small256(a);
  __m256 ac = _mm256_min_ps(_mm256_set1_ps(10.0f), a);  // NaN stays NaN
  __m256 big = _mm256_sub_ps(one, erfc_abs256(ac, exp_neg_sq256(ac)));
  __m256 r = _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, one, _CMP_LE_OQ));
  return _mm256_or_ps(r, _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));  // copy the sign of x
}

// tanh(x), float32: |x| < 0.625: x + x^3 R(x^2) (degree-5 R); else sign(x) (1 - e)/(1 + e), e = exp(-2|x|).
static inline __m256 tanh256(__m256 x) {
  static const float c[6] = {-0.3333333134651184f, 0.1333320587873459f, -0.05394676327705383f,
                             0.021700704470276833f, -0.008177400566637516f, 0.0021429636981338263f};
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 a = abs256(x);
  __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(a, _mm256_mul_ps(a, a)), poly_eval(_mm256_mul_ps(a, a), c, 6), a);
  __m256 ac = _mm256_min_ps(_mm256_set1_ps(9.0f), a);
  __m256 e = exp256(_mm256_mul_ps(ac, _mm256_set1_ps(-2.0f)));
  __m256 big = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
  __m256 r = _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
  return _mm256_or_ps(r, _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));  // copy the sign of x
}

}  // namespace simd
}  // namespace mb
