// AVX2+FMA build of the Woodbury block update (see pruning.h, fisher.cc): four float64 lanes; the float32 Finv
// entries are widened on load (vcvtps2pd) and rounded once on store (vcvtpd2ps). The float64 sums run in 4 lanes
// and FMA, so the float64 intermediates differ from the portable loop's in the last bits; after the float32
// store the two paths agree to within an ulp (tested against the float64 oracle).
#include <immintrin.h>

#include <algorithm>

#include "kernels/pruning/pruning.h"

namespace mb {

namespace {
inline double hsum(__m256d v) {
  const __m128d lo = _mm256_castpd256_pd128(v), hi = _mm256_extractf128_pd(v, 1);
  const __m128d s = _mm_add_pd(lo, hi);
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
}  // namespace

void fisher_update_blocks_avx2(float* finv, const float* G, int64_t ngrads, int64_t d, int64_t B, double m,
                               int64_t b0, int64_t b1, double* u, double* g64) {
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t off = b * B, bs = std::min(B, d - off);
    const int64_t bs4 = bs & ~int64_t(3);
    float* F = finv + b * B * B;
    for (int64_t i = 0; i < ngrads; ++i) {
      const float* g = G + i * d + off;
      bool any = false;
      for (int64_t c = 0; c < bs; ++c) { g64[c] = g[c]; any = any || g[c] != 0.0f; }
      if (!any) continue;
      double alpha = m;
      for (int64_t r = 0; r < bs; ++r) {
        const float* Fr = F + r * B;
        __m256d acc = _mm256_setzero_pd();
        int64_t c = 0;
        for (; c < bs4; c += 4) acc = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(Fr + c)), _mm256_loadu_pd(g64 + c), acc);
        double s = hsum(acc);
        for (; c < bs; ++c) s += static_cast<double>(Fr[c]) * g64[c];
        u[r] = s;
        alpha += g64[r] * s;
      }
      const double inv = 1.0 / alpha;
      for (int64_t r = 0; r < bs; ++r) {
        float* Fr = F + r * B;
        const double ur = u[r] * inv;
        const __m256d vr = _mm256_set1_pd(ur);
        int64_t c = 0;
        for (; c < bs4; c += 4) {
          const __m256d f = _mm256_fnmadd_pd(vr, _mm256_loadu_pd(u + c), _mm256_cvtps_pd(_mm_loadu_ps(Fr + c)));
          _mm_storeu_ps(Fr + c, _mm256_cvtpd_ps(f));
        }
        for (; c < bs; ++c) Fr[c] = static_cast<float>(static_cast<double>(Fr[c]) - ur * u[c]);
      }
    }
  }
}

}  // namespace mb
