// Benchmark peer of the fused attention: the same semantics (attention.h) computed the textbook way, materializing
// the full L x L score matrix of each (sequence, head) and using our SGEMM (native/kernels/gemm/sgemm.h) for the
// products: S = Q K^T, ALiBi + softmax (+ dropout) in place, out = P V; backward dV = Pd^T dO, dPd = dO V^T,
// dS = P (dPd*keep/(1-p) - D), dQ = dS K / sqrt(d), dK = dS^T Q / sqrt(d).
// The row operations (ALiBi, exp, softmax, dS) are the fused kernel's own (RowOps), so the comparison measures the
// algorithm (materialization + general SGEMM vs tiles in registers/cache), not a different exp.
// Parallel over (sequence, head) tasks; SGEMM runs serially inside a task (it is designed to be nested).
// Memory: per thread 2 * L * round8(L) floats: O(L^2), which is exactly what the fused kernel avoids.
// JS: attentionMaterializedForward / attentionMaterializedBackward, arguments as attentionForward/Backward.
#include <napi.h>
#include <math.h>

#include <cstring>

#include "common/args.h"
#include "common/cpu.h"
#include "common/pool.h"
#include "common/registry.h"
#include "kernels/attention/attention.h"
#include "kernels/attention/attention_args.h"
#include "kernels/gemm/sgemm.h"

namespace mb {
namespace attn {
namespace {

inline int64_t round8(int64_t x) { return (x + 7) & ~int64_t(7); }

void mat_fwd_task(const Problem& P, const RowOps& row, int64_t task, int thread) {
  const int64_t H = P.H, d = P.d, b = task / H, h = task % H;
  const int64_t s0 = P.cu[b], L = P.cu[b + 1] - s0;
  if (L <= 0) return;
  const int64_t Lp = round8(L);
  float* S = thread_scratch(thread, static_cast<size_t>(L * Lp + Lp));
  float* mult = S + L * Lp;
  const float* Q = P.qkv + s0 * P.ld_qkv + h * d;
  const float* K = Q + H * d;
  const float* V = K + H * d;
  sgemm(false, true, L, L, d, 1.0f, Q, P.ld_qkv, K, P.ld_qkv, 0.0f, S, Lp);
  for (int64_t i = 0; i < L; ++i) {
    float* s = S + i * Lp;
    const float mx = row.scores_max(s, L, Lp, P.scale, P.slopes[h], i);
    const float sum = row.exp_sum(s, Lp, mx);
    P.lse[h * P.nnz + s0 + i] = mx + logf(sum);
    const float inv = 1.0f / sum;
    if (P.dropout) {
      keep_row(P, static_cast<uint64_t>(h * P.nnz + s0 + i) << 20, 0, L, mult);
      for (int64_t j = 0; j < L; ++j) s[j] *= inv * mult[j];
    } else {
      for (int64_t j = 0; j < L; ++j) s[j] *= inv;
    }
  }
  sgemm(false, false, L, d, L, 1.0f, S, Lp, V, P.ld_qkv, 0.0f, P.out + s0 * P.ld_out + h * d, P.ld_out);
}

void mat_bwd_task(const Problem& P, const RowOps& row, int64_t task, int thread) {
  const int64_t H = P.H, d = P.d, b = task / H, h = task % H;
  const int64_t s0 = P.cu[b], L = P.cu[b + 1] - s0;
  if (L <= 0) return;
  const int64_t Lp = round8(L);
  float* S = thread_scratch(thread, static_cast<size_t>(2 * L * Lp + Lp));
  float* dP = S + L * Lp;
  float* mult = dP + L * Lp;
  const float* Q = P.qkv + s0 * P.ld_qkv + h * d;
  const float* K = Q + H * d;
  const float* V = K + H * d;
  const float* dO = P.dout + s0 * P.ld_out + h * d;
  const float* O = P.out + s0 * P.ld_out + h * d;
  float* dQ = P.dqkv + s0 * P.ld_qkv + h * d;
  float* dK = dQ + H * d;
  float* dV = dK + H * d;
  sgemm(false, true, L, L, d, 1.0f, Q, P.ld_qkv, K, P.ld_qkv, 0.0f, S, Lp);
  sgemm(false, true, L, L, d, 1.0f, dO, P.ld_out, V, P.ld_qkv, 0.0f, dP, Lp);
  for (int64_t i = 0; i < L; ++i) {
    float D = 0.0f;
    for (int64_t k = 0; k < d; ++k) D += dO[i * P.ld_out + k] * O[i * P.ld_out + k];
    const float* mu = nullptr;
    if (P.dropout) {
      keep_row(P, static_cast<uint64_t>(h * P.nnz + s0 + i) << 20, 0, L, mult);
      for (int64_t j = L; j < Lp; ++j) mult[j] = 0.0f;
      mu = mult;
    }
    row.bwd_row(S + i * Lp, dP + i * Lp, L, Lp, P.scale, P.slopes[h], i, P.lse[h * P.nnz + s0 + i], D, mu);
  }
  sgemm(true, false, L, d, L, 1.0f, S, Lp, dO, P.ld_out, 0.0f, dV, P.ld_qkv);
  sgemm(false, false, L, d, L, P.scale, dP, Lp, K, P.ld_qkv, 0.0f, dQ, P.ld_qkv);
  sgemm(true, false, L, d, L, P.scale, dP, Lp, Q, P.ld_qkv, 0.0f, dK, P.ld_qkv);
}

Napi::Value MaterializedForward(const Napi::CallbackInfo& info) {
  Args a(info, "attentionMaterializedForward", 11);
  Problem P = parse_problem(a, false);
  const RowOps& row = use_avx2() ? kRowOpsAvx2 : kRowOpsPortable;
  parallel_for(P.batch * P.H, [&](int64_t t, int thread) { mat_fwd_task(P, row, t, thread); });
  return info.Env().Undefined();
}

Napi::Value MaterializedBackward(const Napi::CallbackInfo& info) {
  Args a(info, "attentionMaterializedBackward", 13);
  Problem P = parse_problem(a, true);
  const RowOps& row = use_avx2() ? kRowOpsAvx2 : kRowOpsPortable;
  parallel_for(P.batch * P.H, [&](int64_t t, int thread) { mat_bwd_task(P, row, t, thread); });
  return info.Env().Undefined();
}

MB_EXPORT("attentionMaterializedForward", MaterializedForward);
MB_EXPORT("attentionMaterializedBackward", MaterializedBackward);

}  // namespace
}  // namespace attn
}  // namespace mb
