// Knowledge-distillation loss over rows of logits (oBERT's KD, src/train/distillation.ts): per row r, the KL
// divergence of the student's temperature softmax from the teacher's, and its gradient scale * (p - q).
//
// Per row (rows in parallel, each row's arithmetic fixed): the two row maxima (exact), then
// Zs = sum_j exp(s_j invT - ms) and Zt = sum_j exp(t_j invT - mt) with float32 exps accumulated in float64,
// lse = m + log(Z) in float64; then one pass with q_j = exp(t_j invT - lseT), p_j = exp(s_j invT - lseS) (float32
// exps of float32 arguments), accumulating sum q_j and sum q_j (t_j - s_j) in float64:
//   KL = invT * sum_j q_j (t_j - s_j) + (lseS - lseT) * sum_j q_j       (= sum_j q_j (log q_j - log p_j))
// The returned SUM adds the rows' KL serially in row order, so it does not depend on the thread count.
// Accuracy against the float64 reference (src/kernels/reference/loss.ts): ~1e-6 relative on the sum; the gradient
// to ~1e-7 absolute (float32 exps of <= 1 ulp).
#include <cmath>
#include <vector>

#include "common/args.h"
#include "common/cpu.h"
#include "common/pool.h"
#include "common/registry.h"
#include "kernels/loss/distillation.h"

namespace mb {

double kd_row_portable(const float* s, const float* t, int64_t C, float invT, float scale, float* grad) {
  float ms = -INFINITY, mt = -INFINITY;
  for (int64_t j = 0; j < C; ++j) {
    ms = s[j] > ms ? s[j] : ms;
    mt = t[j] > mt ? t[j] : mt;
  }
  const float bs = ms * invT, bt = mt * invT;
  double zs = 0, zt = 0;
  for (int64_t j = 0; j < C; ++j) {
    zs += std::exp(s[j] * invT - bs);
    zt += std::exp(t[j] * invT - bt);
  }
  const double lseS = static_cast<double>(bs) + std::log(zs), lseT = static_cast<double>(bt) + std::log(zt);
  const float ls = static_cast<float>(lseS), lt = static_cast<float>(lseT);
  double sq = 0, sqd = 0;
  for (int64_t j = 0; j < C; ++j) {
    const float q = std::exp(t[j] * invT - lt);
    sq += q;
    sqd += static_cast<double>(q) * (static_cast<double>(t[j]) - static_cast<double>(s[j]));
    if (grad) grad[j] = scale * (std::exp(s[j] * invT - ls) - q);
  }
  return static_cast<double>(invT) * sqd + (lseS - lseT) * sq;
}

namespace {

constexpr int64_t kSerialElems = 1 << 15;

// distillationLoss(student, teacher, rows, C, invT, grad | null, scale) -> number (sum of the rows' KL)
Napi::Value DistillationLoss(const Napi::CallbackInfo& info) {
  Args a(info, "distillationLoss", 7);
  const int64_t rows = a.integer(2, "rows", 0, INT32_MAX);
  const int64_t C = a.integer(3, "C", 1, INT32_MAX);
  auto student = a.f32(0, "student", static_cast<size_t>(rows * C));
  auto teacher = a.f32(1, "teacher", static_cast<size_t>(rows * C));
  const double invT = a.number(4, "invT");
  if (!(invT > 0) || !std::isfinite(invT)) a.range_error("invT must be a finite number > 0");
  float* grad = nullptr;
  if (!info[5].IsNull() && !info[5].IsUndefined()) grad = a.f32(5, "grad", static_cast<size_t>(rows * C)).data;
  const float scale = static_cast<float>(a.number(6, "scale"));
  std::vector<double> kl(static_cast<size_t>(rows));
  const bool avx2 = use_avx2();
  const float it = static_cast<float>(invT);
  auto run = [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* s = student.data + r * C;
      const float* t = teacher.data + r * C;
      float* g = grad ? grad + r * C : nullptr;
      kl[r] = avx2 ? kd_row_avx2(s, t, C, it, scale, g) : kd_row_portable(s, t, C, it, scale, g);
    }
  };
  if (rows > 0) {
    if (rows * C < kSerialElems || num_threads() == 1) run(0, rows);
    else parallel_range(rows, [&](int64_t b, int64_t e, int) { run(b, e); });
  }
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) total += kl[r];
  return Napi::Number::New(info.Env(), total);
}

MB_EXPORT("distillationLoss", DistillationLoss);

}  // namespace
}  // namespace mb
