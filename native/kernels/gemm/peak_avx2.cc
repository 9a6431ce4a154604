// AVX2+FMA side of the peak-FLOPs probe (see peak.cc): 12 independent 8-wide FMA chains, enough to keep both FMA
// pipes of a Zen/Haswell core busy through the 4-5 cycle FMA latency.
#include <immintrin.h>

#include <chrono>
#include <cstdint>

namespace mb {

// Runs FMA chains for about `seconds`; returns the number of fp32 FLOPs executed and their duration in *secs.
double peak_fma_avx2(double seconds, double* secs) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i));
  const __m256 m = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-6f);
  const auto t0 = std::chrono::steady_clock::now();
  double flops = 0, el = 0;
  do {
    for (int it = 0; it < 4096; ++it) {
#pragma GCC unroll 12
      for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], m, add);
    }
    flops += 4096.0 * 12 * 8 * 2;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (el < seconds);
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  volatile float sink = _mm256_cvtss_f32(s);
  (void)sink;
  *secs = el;
  return flops;
}

}  // namespace mb
