// One step of Composer's DecoupledAdamW (the reference's `yamls/main/mosaic-bert-base-uncased.yaml` as Composer runs it; Loshchilov & Hutter, "Decoupled Weight Decay
// Regularization", ICLR 2019, with Composer's variant: the decay is scaled by the schedule factor lr_t / lr_0, NOT
// by lr). See Kernels.adamwStep in src/kernels/types.ts for the formula and the caller's float64 scalars.
//
// The float32 operation order is that of the PyTorch reference (shared/reference/torch/mosaicbert_ref.py,
// DecoupledAdamW.step), with which the fixtures were made:
//   p.mul_(1 - factor*wd); m.mul_(b1).add_(g, alpha=1-b1); v.mul_(b2).addcmul_(g, g, value=1-b2);
//   denom = (v.sqrt() / sqrt(1-b2^t)).add_(eps); p.addcdiv_(m, denom, value=-(lr/(1-b1^t)))
// with every Python scalar rounded once to float32 (adamw.h lists the exact per-element expression). PyTorch's
// vectorised CPU `add_(alpha=)` may fuse `alpha*g + m*b1` into one FMA; we do not, so m can differ from the
// fixture's by 1 ulp in places. Parallel over fixed chunks; elementwise, so any split gives the same bits.
#include <algorithm>

#include "common/args.h"
#include "common/cpu.h"
#include "common/pool.h"
#include "common/registry.h"
#include "kernels/optim/adamw.h"

#include <cmath>

// No FMA contraction (see adamw_avx2.cc): each operation rounds on its own, as in the reference.
#pragma GCC optimize("fp-contract=off")

namespace mb {

void adamw_portable(float* p, const float* g, float* m, float* v, int64_t n, const AdamWScalars& s) {
  for (int64_t i = 0; i < n; ++i) {
    float pi = p[i];
    if (s.decay) pi = pi * s.decay_mul;
    const float gi = g[i];
    const float mi = m[i] * s.beta1 + s.one_minus_beta1 * gi;
    const float vi = v[i] * s.beta2 + (s.one_minus_beta2 * gi) * gi;
    const float d = std::sqrt(vi) / s.bias_correction2_sqrt + s.eps;
    p[i] = pi + (s.neg_step * mi) / d;
    m[i] = mi;
    v[i] = vi;
  }
}

namespace {

constexpr int64_t kChunk = 1 << 14;  // elements per task

// adamwStep(param, grad, expAvg, expAvgSq, n, beta1, beta2, eps, weightDecay, decayFactor, stepSize,
//           biasCorrection2Sqrt)
Napi::Value AdamwStep(const Napi::CallbackInfo& info) {
  Args a(info, "adamwStep", 12);
  int64_t n = a.integer(4, "n", 0, INT32_MAX);
  auto p = a.f32(0, "param", static_cast<size_t>(n));
  auto g = a.f32(1, "grad", static_cast<size_t>(n));
  auto m = a.f32(2, "expAvg", static_cast<size_t>(n));
  auto v = a.f32(3, "expAvgSq", static_cast<size_t>(n));
  const double beta1 = a.number(5, "beta1"), beta2 = a.number(6, "beta2"), eps = a.number(7, "eps");
  const double wd = a.number(8, "weightDecay"), factor = a.number(9, "decayFactor");
  const double step = a.number(10, "stepSize"), bc2 = a.number(11, "biasCorrection2Sqrt");
  if (!(beta1 >= 0 && beta1 < 1)) a.range_error("argument 'beta1' = " + std::to_string(beta1) + " is outside [0, 1)");
  if (!(beta2 >= 0 && beta2 < 1)) a.range_error("argument 'beta2' = " + std::to_string(beta2) + " is outside [0, 1)");
  if (!(bc2 > 0)) a.range_error("argument 'biasCorrection2Sqrt' must be > 0, got " + std::to_string(bc2));
  AdamWScalars s;
  s.decay = wd != 0.0;
  s.decay_mul = static_cast<float>(1.0 - factor * wd);
  s.beta1 = static_cast<float>(beta1);
  s.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  s.beta2 = static_cast<float>(beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  s.bias_correction2_sqrt = static_cast<float>(bc2);
  s.eps = static_cast<float>(eps);
  s.neg_step = static_cast<float>(-step);
  const bool avx2 = use_avx2();
  auto run = [&](int64_t b, int64_t e) {
    if (avx2) adamw_avx2(p.data + b, g.data + b, m.data + b, v.data + b, e - b, s);
    else adamw_portable(p.data + b, g.data + b, m.data + b, v.data + b, e - b, s);
  };
  if (n <= kChunk || num_threads() == 1) {
    run(0, n);
  } else {
    parallel_for((n + kChunk - 1) / kChunk, [&](int64_t c, int) { run(c * kChunk, std::min(n, (c + 1) * kChunk)); });
  }
  return info.Env().Undefined();
}

MB_EXPORT("adamwStep", AdamwStep);

}  // namespace
}  // namespace mb
