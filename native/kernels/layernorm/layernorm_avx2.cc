// AVX2+FMA path of LayerNorm (fused residual add) forward and backward; see layernorm.cc.
// Row statistics are accumulated in float64 (float32 values converted exactly, 4 independent double accumulators
// in a fixed order), so mean and variance are accurate to ~1e-16 relative before rounding; the per-element
// normalisation runs in float32 with the mean split into two floats (mean = mhi + mlo) so that s - mean is accurate
// even when |mean| >> std.
#include <immintrin.h>

#include <cmath>

#include "kernels/layernorm/layernorm.h"

namespace mb {
namespace ln {
namespace {

inline double hsum_pd(__m256d v) {
  __m128d lo = _mm256_castpd256_pd128(v), hi = _mm256_extractf128_pd(v, 1);
  lo = _mm_add_pd(lo, hi);
  return _mm_cvtsd_f64(_mm_add_sd(lo, _mm_unpackhi_pd(lo, lo)));
}

inline __m256i tail_mask(int64_t r) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(r)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline __m256d lo_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
inline __m256d hi_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }

template <bool kRes>
void fwd_row(const float* xr, const float* rr, const float* gamma, const float* beta, int64_t cols, double eps,
             float* sr, float* orow, float* mean_out, float* rstd_out) {
  // Pass 1: s = x + r (stored to sum if given), sum of s in float64.
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 16 <= cols; i += 16) {
    __m256 v0 = _mm256_loadu_ps(xr + i), v1 = _mm256_loadu_ps(xr + i + 8);
    if (kRes) {
      v0 = _mm256_add_ps(v0, _mm256_loadu_ps(rr + i));
      v1 = _mm256_add_ps(v1, _mm256_loadu_ps(rr + i + 8));
    }
    if (sr) { _mm256_storeu_ps(sr + i, v0); _mm256_storeu_ps(sr + i + 8, v1); }
    a0 = _mm256_add_pd(a0, lo_pd(v0)); a1 = _mm256_add_pd(a1, hi_pd(v0));
    a2 = _mm256_add_pd(a2, lo_pd(v1)); a3 = _mm256_add_pd(a3, hi_pd(v1));
  }
  double tail = 0;
  for (; i < cols; ++i) {
    float v = kRes ? xr[i] + rr[i] : xr[i];
    if (sr) sr[i] = v;
    tail += v;
  }
  const double mean = (hsum_pd(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3))) + tail) / cols;

  // From here on s is read from sum when it was stored, else recomputed as x + r (the same float32 addition).
  const float* src = sr ? sr : xr;
  const bool add = kRes && !sr;
  auto load_s = [&](int64_t j) {
    __m256 v = _mm256_loadu_ps(src + j);
    return add ? _mm256_add_ps(v, _mm256_loadu_ps(rr + j)) : v;
  };

  // Pass 2: biased variance, sum of (s - mean)^2 in float64.
  const __m256d md = _mm256_set1_pd(mean);
  a0 = _mm256_setzero_pd(); a1 = a0; a2 = a0; a3 = a0;
  i = 0;
  for (; i + 16 <= cols; i += 16) {
    __m256 v0 = load_s(i), v1 = load_s(i + 8);
    __m256d d0 = _mm256_sub_pd(lo_pd(v0), md), d1 = _mm256_sub_pd(hi_pd(v0), md);
    __m256d d2 = _mm256_sub_pd(lo_pd(v1), md), d3 = _mm256_sub_pd(hi_pd(v1), md);
    a0 = _mm256_fmadd_pd(d0, d0, a0); a1 = _mm256_fmadd_pd(d1, d1, a1);
    a2 = _mm256_fmadd_pd(d2, d2, a2); a3 = _mm256_fmadd_pd(d3, d3, a3);
  }
  tail = 0;
  for (; i < cols; ++i) {
    double d = static_cast<double>(add ? src[i] + rr[i] : src[i]) - mean;
    tail += d * d;
  }
  const double var = (hsum_pd(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3))) + tail) / cols;
  const double rs = 1.0 / std::sqrt(var + eps);
  *mean_out = static_cast<float>(mean);
  *rstd_out = static_cast<float>(rs);

  // Pass 3: out = ((s - mhi) - mlo) * rstd * gamma + beta.
  const float mhi_f = static_cast<float>(mean), mlo_f = static_cast<float>(mean - static_cast<double>(mhi_f));
  const __m256 mhi = _mm256_set1_ps(mhi_f), mlo = _mm256_set1_ps(mlo_f);
  const __m256 rsv = _mm256_set1_ps(static_cast<float>(rs));
  i = 0;
  for (; i + 8 <= cols; i += 8) {
    __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(load_s(i), mhi), mlo), rsv);
    _mm256_storeu_ps(orow + i, _mm256_fmadd_ps(xh, _mm256_loadu_ps(gamma + i), _mm256_loadu_ps(beta + i)));
  }
  if (i < cols) {
    __m256i m = tail_mask(cols - i);
    __m256 v = _mm256_maskload_ps(src + i, m);
    if (add) v = _mm256_add_ps(v, _mm256_maskload_ps(rr + i, m));
    __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(v, mhi), mlo), rsv);
    _mm256_maskstore_ps(orow + i, m,
                        _mm256_fmadd_ps(xh, _mm256_maskload_ps(gamma + i, m), _mm256_maskload_ps(beta + i, m)));
  }
}

}  // namespace

void fwd_rows_avx2(const float* x, const float* residual, const float* gamma, const float* beta, int64_t cols,
                   double eps, float* sum, float* out, float* mean, float* rstd, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t o = r * cols;
    if (residual)
      fwd_row<true>(x + o, residual + o, gamma, beta, cols, eps, sum ? sum + o : nullptr, out + o, mean + r, rstd + r);
    else
      fwd_row<false>(x + o, nullptr, gamma, beta, cols, eps, sum ? sum + o : nullptr, out + o, mean + r, rstd + r);
  }
}

void bwd_rows_avx2(const float* dy, const float* s, const float* gamma, const float* mean, const float* rstd,
                   int64_t cols, float* dx, double* pg, double* pb, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* dyr = dy + r * cols;
    const float* sr = s + r * cols;
    float* dxr = dx + r * cols;
    const __m256 mv = _mm256_set1_ps(mean[r]), rv = _mm256_set1_ps(rstd[r]);
    // Pass 1: sums of g and g * xhat (float64), and the dGamma/dBeta partials.
    __m256d sg0 = _mm256_setzero_pd(), sg1 = sg0, sx0 = sg0, sx1 = sg0;
    int64_t i = 0;
    for (; i + 8 <= cols; i += 8) {
      __m256 d = _mm256_loadu_ps(dyr + i);
      __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(sr + i), mv), rv);
      __m256 g = _mm256_mul_ps(d, _mm256_loadu_ps(gamma + i));
      __m256d gl = lo_pd(g), gh = hi_pd(g), xl = lo_pd(xh), xhh = hi_pd(xh), dl = lo_pd(d), dh = hi_pd(d);
      sg0 = _mm256_add_pd(sg0, gl); sg1 = _mm256_add_pd(sg1, gh);
      sx0 = _mm256_fmadd_pd(gl, xl, sx0); sx1 = _mm256_fmadd_pd(gh, xhh, sx1);
      _mm256_storeu_pd(pg + i, _mm256_fmadd_pd(dl, xl, _mm256_loadu_pd(pg + i)));
      _mm256_storeu_pd(pg + i + 4, _mm256_fmadd_pd(dh, xhh, _mm256_loadu_pd(pg + i + 4)));
      _mm256_storeu_pd(pb + i, _mm256_add_pd(dl, _mm256_loadu_pd(pb + i)));
      _mm256_storeu_pd(pb + i + 4, _mm256_add_pd(dh, _mm256_loadu_pd(pb + i + 4)));
    }
    double tg = 0, tx = 0;
    const float mf = mean[r], rf = rstd[r];
    for (int64_t j = i; j < cols; ++j) {
      float d = dyr[j];
      float xh = (sr[j] - mf) * rf;
      float g = d * gamma[j];
      tg += g;
      tx += static_cast<double>(g) * xh;
      pg[j] += static_cast<double>(d) * xh;
      pb[j] += d;
    }
    const double mg = (hsum_pd(_mm256_add_pd(sg0, sg1)) + tg) / cols;
    const double mgx = (hsum_pd(_mm256_add_pd(sx0, sx1)) + tx) / cols;
    // Pass 2: dx = rstd * ((g - mean(g)) - xhat * mean(g xhat)).
    const __m256 mgv = _mm256_set1_ps(static_cast<float>(mg)), mgxv = _mm256_set1_ps(static_cast<float>(mgx));
    auto body = [&](__m256 d, __m256 sv, __m256 gam) {
      __m256 xh = _mm256_mul_ps(_mm256_sub_ps(sv, mv), rv);
      __m256 g = _mm256_mul_ps(d, gam);
      return _mm256_mul_ps(rv, _mm256_fnmadd_ps(xh, mgxv, _mm256_sub_ps(g, mgv)));
    };
    for (i = 0; i + 8 <= cols; i += 8)
      _mm256_storeu_ps(dxr + i, body(_mm256_loadu_ps(dyr + i), _mm256_loadu_ps(sr + i), _mm256_loadu_ps(gamma + i)));
    if (i < cols) {
      __m256i m = tail_mask(cols - i);
      _mm256_maskstore_ps(dxr + i, m, body(_mm256_maskload_ps(dyr + i, m), _mm256_maskload_ps(sr + i, m),
                                           _mm256_maskload_ps(gamma + i, m)));
    }
  }
}

}  // namespace ln
}  // namespace mb
