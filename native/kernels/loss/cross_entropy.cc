// Softmax cross-entropy of the MLM head (the reference's `BertForMaskedLM`: `CrossEntropyLoss` over the
// masked rows only, V = 30528 classes) and of the classification head. See Kernels.crossEntropyForward/Backward in
// src/kernels/types.ts.
//
// Forward, per row r (rows in parallel): m = max_j x_j (exact), s = sum_j exp(x_j - m) with float32 exps
// accumulated in float64, lse = m + log(s) in float64; lse[r] = float32(lse), loss_r = lse - x[t_r] in float64.
// The returned SUM adds loss_0, loss_1, ... serially in row order, so it does not depend on the thread count.
// This matches PyTorch's fp32 log_softmax + nll_loss to ~1e-7 relative (the float64 reference: ~1e-7).
// Backward: dx[r, j] = scale * (exp(x[r, j] - lse[r]) - [j == t_r]) in float32 (may alias x).
// Targets outside [0, V) throw a RangeError naming the row and the target, before anything is written.
#include <cmath>
#include <string>
#include <vector>

#include "common/args.h"
#include "common/cpu.h"
#include "common/pool.h"
#include "common/registry.h"
#include "kernels/loss/cross_entropy.h"

namespace mb {

double ce_row_forward_portable(const float* x, int64_t V, int32_t t, float* lse) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < V; ++j) mx = x[j] > mx ? x[j] : mx;
  const float shift = std::isfinite(mx) ? mx : 0.0f;
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t j = 0;
  for (; j + 4 <= V; j += 4) {
    s0 += std::exp(x[j] - shift);
    s1 += std::exp(x[j + 1] - shift);
    s2 += std::exp(x[j + 2] - shift);
    s3 += std::exp(x[j + 3] - shift);
  }
  for (; j < V; ++j) s0 += std::exp(x[j] - shift);
  double l = static_cast<double>(shift) + std::log((s0 + s1) + (s2 + s3));
  if (!std::isfinite(mx)) l = static_cast<double>(mx);
  *lse = static_cast<float>(l);
  return l - static_cast<double>(x[t]);
}

void ce_row_backward_portable(const float* x, int64_t V, int32_t t, float lse, float scale, float* dx) {
  const float xt = x[t];  // read before dx (which may alias x) is written
  for (int64_t j = 0; j < V; ++j) dx[j] = scale * std::exp(x[j] - lse);
  dx[t] = scale * (std::exp(xt - lse) - 1.0f);
}

namespace {

constexpr int64_t kSerialElems = 1 << 15;

void check_targets(const Args& a, const int32_t* targets, int64_t rows, int64_t V) {
  for (int64_t r = 0; r < rows; ++r) {
    int64_t t = targets[r];
    if (t < 0 || t >= V)
      a.range_error("targets[" + std::to_string(r) + "] = " + std::to_string(t) + " is outside [0, " +
                    std::to_string(V) + ") (row " + std::to_string(r) + ")");
  }
}

template <typename Fn>
void for_rows(int64_t rows, int64_t V, Fn&& fn) {
  if (rows <= 0) return;
  if (rows * V < kSerialElems || num_threads() == 1) { fn(int64_t(0), rows); return; }
  parallel_range(rows, [&](int64_t b, int64_t e, int) { fn(b, e); });
}

// crossEntropyForward(logits, targets, rows, V, lse) -> number
Napi::Value CrossEntropyForward(const Napi::CallbackInfo& info) {
  Args a(info, "crossEntropyForward", 5);
  int64_t rows = a.integer(2, "rows", 0, INT32_MAX);
  int64_t V = a.integer(3, "V", 0, INT32_MAX);
  auto logits = a.f32(0, "logits", static_cast<size_t>(rows * V));
  auto targets = a.i32(1, "targets", static_cast<size_t>(rows));
  auto lse = a.f32(4, "lse", static_cast<size_t>(rows));
  check_targets(a, targets.data, rows, V);
  std::vector<double> loss(static_cast<size_t>(rows));
  const bool avx2 = use_avx2();
  for_rows(rows, V, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* x = logits.data + r * V;
      loss[r] = avx2 ? ce_row_forward_avx2(x, V, targets.data[r], lse.data + r)
                     : ce_row_forward_portable(x, V, targets.data[r], lse.data + r);
    }
  });
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) total += loss[r];
  return Napi::Number::New(info.Env(), total);
}

// crossEntropyBackward(logits, targets, lse, rows, V, scale, dLogits)
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  Args a(info, "crossEntropyBackward", 7);
  int64_t rows = a.integer(3, "rows", 0, INT32_MAX);
  int64_t V = a.integer(4, "V", 0, INT32_MAX);
  auto logits = a.f32(0, "logits", static_cast<size_t>(rows * V));
  auto targets = a.i32(1, "targets", static_cast<size_t>(rows));
  auto lse = a.f32(2, "lse", static_cast<size_t>(rows));
  const float scale = static_cast<float>(a.number(5, "scale"));
  auto dlogits = a.f32(6, "dLogits", static_cast<size_t>(rows * V));
  check_targets(a, targets.data, rows, V);
  const bool avx2 = use_avx2();
  for_rows(rows, V, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      if (avx2) ce_row_backward_avx2(logits.data + r * V, V, targets.data[r], lse.data[r], scale, dlogits.data + r * V);
      else ce_row_backward_portable(logits.data + r * V, V, targets.data[r], lse.data[r], scale, dlogits.data + r * V);
    }
  });
  return info.Env().Undefined();
}

MB_EXPORT("crossEntropyForward", CrossEntropyForward);
MB_EXPORT("crossEntropyBackward", CrossEntropyBackward);

}  // namespace
}  // namespace mb
