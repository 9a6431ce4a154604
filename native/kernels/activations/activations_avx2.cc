// AVX2+FMA paths of the activation kernels (exact GELU, GeGLU, tanh); see activations.cc for the bindings and
// simd_math.h for the vectorised exp/erf/erfc/tanh and their accuracy.
//
// GELU (Hendrycks & Gimpel 2016, exact erf form): gelu(x) = x/2 (1 + erf(x/sqrt2)). For z = x/sqrt2 <= -1 the factor
// 1 + erf(z) is evaluated as erfc(|z|) = exp(-z^2) Q(|z|) directly (no cancellation), so gelu keeps ~1e-6 relative
// accuracy for negative x too; exp(-x^2/2) is computed from the exactly split x^2 (FMA residual) and shared with the
// derivative gelu'(x) = (1 + erf(z))/2 + x exp(-x^2/2)/sqrt(2 pi).
#include <immintrin.h>

#include "kernels/activations/activations.h"
#include "kernels/activations/simd_math.h"

namespace mb {
namespace act {
namespace {

using namespace mb::simd;

// h = 1 + erf(x/sqrt2) and e = exp(-x^2/2) for 8 lanes.
inline void gelu_h_e(__m256 x, __m256* h, __m256* e) {
  const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
  __m256 xc = _mm256_min_ps(_mm256_set1_ps(14.0f), _mm256_max_ps(_mm256_set1_ps(-14.0f), x));  // NaN kept
  __m256 s = _mm256_mul_ps(xc, xc);
  __m256 l = _mm256_mul_ps(_mm256_fmsub_ps(xc, xc, s), half);  // x^2/2 = s/2 + l exactly
  s = _mm256_mul_ps(s, half);
  __m256 ex = exp256(_mm256_sub_ps(_mm256_setzero_ps(), s));
  ex = _mm256_fnmadd_ps(ex, l, ex);
  __m256 z = _mm256_mul_ps(xc, _mm256_set1_ps(0.70710678118654752f));
  __m256 a = abs256(z);
  __m256 hs = _mm256_add_ps(one, erf_small256(z));
  __m256 ec = erfc_abs256(_mm256_min_ps(_mm256_set1_ps(10.0f), a), ex);
  __m256 hb = _mm256_blendv_ps(ec, _mm256_sub_ps(_mm256_set1_ps(2.0f), ec),
                               _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ));
  *h = _mm256_blendv_ps(hb, hs, _mm256_cmp_ps(a, one, _CMP_LE_OQ));
  *e = ex;
}

inline __m256 gelu8(__m256 x) {
  __m256 h, e;
  gelu_h_e(x, &h, &e);
  return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), h);
}

// gelu'(x); also returns gelu(x) in *g.
inline __m256 gelu_grad8(__m256 x, __m256* g) {
  __m256 h, e;
  gelu_h_e(x, &h, &e);
  __m256 hh = _mm256_mul_ps(h, _mm256_set1_ps(0.5f));
  *g = _mm256_mul_ps(x, hh);
  return _mm256_fmadd_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.3989422804014327f)), e, hh);
}

inline __m256i tail_mask(int64_t r) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(r)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Runs body(load, store) over n elements 8 at a time; the last partial vector uses masked loads/stores (masked-off
// lanes read as 0 and are not written), so every element goes through the same vector code.
template <typename Body>
inline void for_vectors(int64_t n, Body body) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    body(i, [](const float* p) { return _mm256_loadu_ps(p); }, [](float* p, __m256 v) { _mm256_storeu_ps(p, v); });
  }
  if (i < n) {
    __m256i m = tail_mask(n - i);
    body(i, [m](const float* p) { return _mm256_maskload_ps(p, m); },
         [m](float* p, __m256 v) { _mm256_maskstore_ps(p, m, v); });
  }
}

}  // namespace

void gelu_fwd_avx2(const float* x, int64_t n, float* out) {
  for_vectors(n, [&](int64_t i, auto ld, auto st) { st(out + i, gelu8(ld(x + i))); });
}

void gelu_bwd_avx2(const float* x, const float* dy, int64_t n, float* dx) {
  for_vectors(n, [&](int64_t i, auto ld, auto st) {
    __m256 g;
    __m256 d = gelu_grad8(ld(x + i), &g);
    st(dx + i, _mm256_mul_ps(ld(dy + i), d));
  });
}

void geglu_fwd_avx2(const float* a, const float* b, int64_t n, float* out) {
  for_vectors(n, [&](int64_t i, auto ld, auto st) { st(out + i, _mm256_mul_ps(gelu8(ld(a + i)), ld(b + i))); });
}

// d(gelu(a) b): da = (dy b) gelu'(a), db = dy gelu(a) (the order of PyTorch's autograd: the product's backward
// first, then GELU's).
void geglu_bwd_avx2(const float* a, const float* b, const float* dy, int64_t n, float* da, float* db) {
  for_vectors(n, [&](int64_t i, auto ld, auto st) {
    __m256 g, bv = ld(b + i), d = ld(dy + i);
    __m256 gp = gelu_grad8(ld(a + i), &g);
    st(da + i, _mm256_mul_ps(_mm256_mul_ps(d, bv), gp));
    st(db + i, _mm256_mul_ps(d, g));
  });
}

void tanh_fwd_avx2(const float* x, int64_t n, float* out) {
  for_vectors(n, [&](int64_t i, auto ld, auto st) { st(out + i, tanh256(ld(x + i))); });
}

void tanh_bwd_avx2(const float* y, const float* dy, int64_t n, float* dx) {
  for_vectors(n, [&](int64_t i, auto ld, auto st) {
    __m256 yv = ld(y + i);
    st(dx + i, _mm256_mul_ps(ld(dy + i), _mm256_fnmadd_ps(yv, yv, _mm256_set1_ps(1.0f))));
  });
}

void erf_avx2(const float* x, int64_t n, float* out) {
  for_vectors(n, [&](int64_t i, auto ld, auto st) { st(out + i, erf256(ld(x + i))); });
}

}  // namespace act
}  // namespace mb
