// AVX2+FMA build of the distillation row kernel (see distillation.h / distillation.cc): the same passes and the same
// float64 accumulation as the portable build, 8 lanes at a time with exp256_ps (<= 1 ulp); lanes are added in a
// fixed order, so results do not depend on the thread count (they differ from the portable build by rounding).
#include <immintrin.h>

#include <cmath>

#include "kernels/loss/distillation.h"
#include "common/exp_avx2.h"

namespace mb {

namespace {

inline float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

inline double hsum4(__m256d v) {
  alignas(32) double l[4];
  _mm256_store_pd(l, v);
  return (l[0] + l[1]) + (l[2] + l[3]);
}

inline __m256d lo_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
inline __m256d hi_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }

}  // namespace

double kd_row_avx2(const float* s, const float* t, int64_t C, float invT, float scale, float* grad) {
  const float ninf = -INFINITY;
  __m256 vms = _mm256_set1_ps(ninf), vmt = vms;
  int64_t j = 0;
  for (; j + 8 <= C; j += 8) {
    vms = _mm256_max_ps(vms, _mm256_loadu_ps(s + j));
    vmt = _mm256_max_ps(vmt, _mm256_loadu_ps(t + j));
  }
  if (j < C) {
    const int k = static_cast<int>(C - j);
    vms = _mm256_max_ps(vms, load_tail_ps(s + j, k, ninf));
    vmt = _mm256_max_ps(vmt, load_tail_ps(t + j, k, ninf));
  }
  const float bs = hmax8(vms) * invT, bt = hmax8(vmt) * invT;
  const __m256 vi = _mm256_set1_ps(invT), vbs = _mm256_set1_ps(bs), vbt = _mm256_set1_ps(bt);
  __m256d zs = _mm256_setzero_pd(), zs2 = zs, zt = zs, zt2 = zs;
  for (j = 0; j < C; j += 8) {
    const int k = C - j >= 8 ? 8 : static_cast<int>(C - j);
    // Tail lanes read -inf: exp gives exactly 0.
    const __m256 xs = k == 8 ? _mm256_loadu_ps(s + j) : load_tail_ps(s + j, k, ninf);
    const __m256 xt = k == 8 ? _mm256_loadu_ps(t + j) : load_tail_ps(t + j, k, ninf);
    const __m256 es = exp256_ps(_mm256_fmsub_ps(xs, vi, vbs)), et = exp256_ps(_mm256_fmsub_ps(xt, vi, vbt));
    zs = _mm256_add_pd(zs, lo_pd(es)); zs2 = _mm256_add_pd(zs2, hi_pd(es));
    zt = _mm256_add_pd(zt, lo_pd(et)); zt2 = _mm256_add_pd(zt2, hi_pd(et));
  }
  const double lseS = static_cast<double>(bs) + std::log(hsum4(_mm256_add_pd(zs, zs2)));
  const double lseT = static_cast<double>(bt) + std::log(hsum4(_mm256_add_pd(zt, zt2)));
  const __m256 vls = _mm256_set1_ps(static_cast<float>(lseS)), vlt = _mm256_set1_ps(static_cast<float>(lseT));
  const __m256 vsc = _mm256_set1_ps(scale);
  __m256d sq = _mm256_setzero_pd(), sq2 = sq, sd = sq, sd2 = sq;
  for (j = 0; j < C; j += 8) {
    const int k = C - j >= 8 ? 8 : static_cast<int>(C - j);
    // Tail lanes read 0 for both rows: q (t - s) = 0 there; q itself is zeroed below.
    const __m256 xs = k == 8 ? _mm256_loadu_ps(s + j) : load_tail_ps(s + j, k, 0.0f);
    const __m256 xt = k == 8 ? _mm256_loadu_ps(t + j) : load_tail_ps(t + j, k, 0.0f);
    __m256 q = exp256_ps(_mm256_fmsub_ps(xt, vi, vlt));
    if (k < 8) q = _mm256_and_ps(q, _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))));
    // q (t - s) in float64.
    const __m256d dlo = _mm256_sub_pd(lo_pd(xt), lo_pd(xs)), dhi = _mm256_sub_pd(hi_pd(xt), hi_pd(xs));
    sq = _mm256_add_pd(sq, lo_pd(q)); sq2 = _mm256_add_pd(sq2, hi_pd(q));
    sd = _mm256_fmadd_pd(lo_pd(q), dlo, sd); sd2 = _mm256_fmadd_pd(hi_pd(q), dhi, sd2);
    if (grad) {
      const __m256 p = exp256_ps(_mm256_fmsub_ps(xs, vi, vls));
      const __m256 g = _mm256_mul_ps(vsc, _mm256_sub_ps(p, q));
      if (k == 8) _mm256_storeu_ps(grad + j, g);
      else store_tail_ps(grad + j, k, g);
    }
  }
  return static_cast<double>(invT) * hsum4(_mm256_add_pd(sd, sd2)) + (lseS - lseT) * hsum4(_mm256_add_pd(sq, sq2));
}

}  // namespace mb
