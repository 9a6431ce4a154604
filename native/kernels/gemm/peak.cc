// measurePeakGflops(ms): a native probe of the machine's fp32 arithmetic peak, the denominator of the "% of peak"
// column of the benchmarks. Every pool thread runs independent FMA chains (AVX2+FMA path: 12 chains of 8-wide
// FMAs, peak_avx2.cc; portable path: 12 chains of 4-wide SSE multiply + add) for ~ms milliseconds; the result is
// the sum over threads of each thread's FLOPs / its own elapsed time, in GFLOP/s. On a shared machine this
// measures what the cores deliver right now, which is the fair yardstick for kernels timed in the same run.
#include <atomic>
#include <chrono>
#include <vector>

#include "common/args.h"
#include "common/cpu.h"
#include "common/pool.h"
#include "common/registry.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mb {

double peak_fma_avx2(double seconds, double* secs);

namespace {

double peak_portable(double seconds, double* secs) {
#if defined(__SSE2__)
  __m128 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm_set1_ps(0.001f * static_cast<float>(i));
  const __m128 m = _mm_set1_ps(0.999999f), add = _mm_set1_ps(1e-6f);
  const auto t0 = std::chrono::steady_clock::now();
  double flops = 0, el = 0;
  do {
    for (int it = 0; it < 4096; ++it)
      for (int i = 0; i < 12; ++i) acc[i] = _mm_add_ps(_mm_mul_ps(acc[i], m), add);
    flops += 4096.0 * 12 * 4 * 2;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (el < seconds);
  __m128 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm_add_ps(s, acc[i]);
  volatile float sink = _mm_cvtss_f32(s);
  (void)sink;
  *secs = el;
  return flops;
#else
  float acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = 0.001f * static_cast<float>(i);
  const auto t0 = std::chrono::steady_clock::now();
  double flops = 0, el = 0;
  do {
    for (int it = 0; it < 4096; ++it)
      for (int i = 0; i < 12; ++i) acc[i] = acc[i] * 0.999999f + 1e-6f;
    flops += 4096.0 * 12 * 2;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (el < seconds);
  volatile float sink = acc[0] + acc[11];
  (void)sink;
  *secs = el;
  return flops;
#endif
}

Napi::Value MeasurePeakGflops(const Napi::CallbackInfo& info) {
  Args a(info, "measurePeakGflops", 1);
  const double ms = a.number(0, "ms");
  if (!(ms > 0 && ms <= 60000)) a.range_error("argument 'ms' must be in (0, 60000]");
  const int n = num_threads();
  std::vector<double> rate(static_cast<size_t>(n), 0.0);
  const bool avx2 = use_avx2();
  parallel_for(n, [&](int64_t t, int) {
    double secs = 0;
    const double flops = avx2 ? peak_fma_avx2(ms * 1e-3, &secs) : peak_portable(ms * 1e-3, &secs);
    rate[static_cast<size_t>(t)] = flops / secs;
  });
  double total = 0;
  for (double r : rate) total += r;
  return Napi::Number::New(info.Env(), total * 1e-9);
}

MB_EXPORT("measurePeakGflops", MeasurePeakGflops);

}  // namespace
}  // namespace mb
