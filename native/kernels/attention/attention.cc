// Unpadded ALiBi attention, forward and backward: the JS bindings (`attentionForward`, `attentionBackward`, argument
// order as in src/kernels/types.ts), the dropout mask, and the portable path. The algorithm is in attention_impl.h,
// the AVX2+FMA primitives in attention_avx2.cc; see attention.h for the semantics and the parallel decomposition.
// Reference: ALiBi (Press et al. 2022), the reference's `bert_padding.py` (unpadding) and `BertUnpadSelfAttention`; FlashAttention
// (Dao et al. 2022) and FlashAttention-2 (Dao 2023) for the tiling, the online softmax and the backward.
#include <napi.h>
#include <math.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/args.h"
#include "common/cpu.h"
#include "common/philox.h"
#include "common/pool.h"
#include "common/registry.h"
#include "kernels/attention/attention.h"
#include "kernels/attention/attention_args.h"
#include "kernels/attention/attention_impl.h"

namespace mb {
namespace attn {

void keep_row(const Problem& P, uint64_t base, int64_t j0, int64_t n, float* mult) {
  const float p = P.p, ks = P.keep_scale;
  int64_t t = 0;
  uint64_t idx = base + static_cast<uint64_t>(j0);
  // Leading partial block (j0 is a multiple of 4 in the kernels, so normally empty).
  while (t < n && (idx & 3)) {
    mult[t++] = philox_uniform(P.seed, P.stream, idx++) >= p ? ks : 0.0f;
  }
  for (; t + 4 <= n; t += 4, idx += 4) {
    const uint64_t blk = idx >> 2;
    const Philox4 r = philox4x32_10(static_cast<uint32_t>(blk), static_cast<uint32_t>(blk >> 32),
                                    static_cast<uint32_t>(P.stream), static_cast<uint32_t>(P.stream >> 32),
                                    static_cast<uint32_t>(P.seed), static_cast<uint32_t>(P.seed >> 32));
    for (int q = 0; q < 4; ++q) {
      const float u = static_cast<float>(r.v[q] >> 8) * (1.0f / 16777216.0f);
      mult[t + q] = u >= p ? ks : 0.0f;
    }
  }
  for (; t < n; ++t, ++idx) mult[t] = philox_uniform(P.seed, P.stream, idx) >= p ? ks : 0.0f;
}

namespace {

// ---------------------------------------------------------------- portable primitives
float scores_max_portable(float* s, int64_t n, int64_t np, float scale, float slope, int64_t di) {
  float mx = -INFINITY;
  for (int64_t t = 0; t < n; ++t) {
    const int64_t dist = di > t ? di - t : t - di;
    const float v = s[t] * scale - slope * static_cast<float>(dist);
    s[t] = v;
    mx = v > mx ? v : mx;
  }
  for (int64_t t = n; t < np; ++t) s[t] = -INFINITY;
  return mx;
}

float exp_sum_portable(float* s, int64_t np, float mx) {
  float sum = 0.0f;
  for (int64_t t = 0; t < np; ++t) {
    const float e = expf(s[t] - mx);
    s[t] = e;
    sum += e;
  }
  return sum;
}

void bwd_row_portable(float* s, float* dp, int64_t n, int64_t np, float scale, float slope, int64_t di, float lse,
                      float D, const float* mult) {
  for (int64_t t = 0; t < n; ++t) {
    const int64_t dist = di > t ? di - t : t - di;
    const float p = expf(s[t] * scale - slope * static_cast<float>(dist) - lse);
    const float mu = mult ? mult[t] : 1.0f;
    s[t] = p * mu;
    dp[t] = p * (dp[t] * mu - D);
  }
  for (int64_t t = n; t < np; ++t) { s[t] = 0.0f; dp[t] = 0.0f; }
}

struct PortableOps {
  static void keep(const Problem& P, uint64_t base, int64_t j0, int64_t n, float* mult) {
    keep_row(P, base, j0, n, mult);
  }
  static void transpose_in(const float* src, int64_t ld, int64_t d, int64_t n, int64_t w, float* XT) {
    pack_T(src, ld, d, n, w, XT);
  }
  static void transpose_out(const float* XT, int64_t w, int64_t d, int64_t n, float* dst, int64_t ld,
                            const float* rs, float scale) {
    for (int64_t t = 0; t < n; ++t)
      for (int64_t k = 0; k < d; ++k) dst[t * ld + k] = XT[k * w + t] * (rs ? rs[t] : scale);
  }
  static void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t am, int64_t ak, const float* B,
                   int64_t ldb, float* C, int64_t ldc, bool acc) {
    for (int64_t i = 0; i < M; ++i) {
      float* c = C + i * ldc;
      if (!acc) for (int64_t j = 0; j < N; ++j) c[j] = 0.0f;
      const float* a = A + i * am;
      for (int64_t k = 0; k < K; ++k) {
        const float av = a[k * ak];
        const float* bk = B + k * ldb;
        for (int64_t j = 0; j < N; ++j) c[j] += av * bk[j];
      }
    }
  }

  static void fwd_softmax(float* ST, int64_t n, int64_t w, float scale, float slope, int64_t di0, const float* mT,
                          float* m, float* l, float* corr) {
    for (int64_t q = 0; q < w; ++q) {
      float bm = -INFINITY;
      for (int64_t t = 0; t < n; ++t) {
        const int64_t dist = di0 + q - t >= 0 ? di0 + q - t : t - di0 - q;
        const float v = ST[t * w + q] * scale - slope * static_cast<float>(dist);
        ST[t * w + q] = v;
        bm = v > bm ? v : bm;
      }
      const float mn = m[q] > bm ? m[q] : bm;
      const float c = m[q] == -INFINITY ? 0.0f : expf(m[q] - mn);
      float sum = 0.0f;
      for (int64_t t = 0; t < n; ++t) {
        const float p = expf(ST[t * w + q] - mn);
        sum += p;
        ST[t * w + q] = mT ? p * mT[t * w + q] : p;
      }
      l[q] = l[q] * c + sum;
      m[q] = mn;
      corr[q] = c;
    }
  }

  static void scale_rows(float* X, int64_t rows, int64_t w, int64_t ld, const float* corr) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t q = 0; q < w; ++q) X[r * ld + q] *= corr[q];
  }

  static void bwd_tile(float* ST, float* dPT, int64_t n, int64_t w, float scale, float slope, int64_t di0,
                       const float* lse, const float* D, const float* mT) {
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t q = 0; q < w; ++q) {
        const int64_t dist = di0 + q - t >= 0 ? di0 + q - t : t - di0 - q;
        const float p = expf(ST[t * w + q] * scale - slope * static_cast<float>(dist) - lse[q]);
        const float mu = mT ? mT[t * w + q] : 1.0f;
        ST[t * w + q] = p * mu;
        dPT[t * w + q] = p * (dPT[t * w + q] * mu - D[q]);
      }
    }
  }
};

}  // namespace

const RowOps kRowOpsPortable = {scores_max_portable, exp_sum_portable, bwd_row_portable};

void fwd_task_portable(const Problem& P, int64_t task, int thread) { fwd_task<PortableOps>(P, task, thread); }
void bwd_task_portable(const Problem& P, int64_t task, int thread) { bwd_task<PortableOps>(P, task, thread); }

// ---------------------------------------------------------------- bindings
Problem parse_problem(const Args& a, bool backward) {
  Problem P;
  P.batch = a.integer(2, "batch", 0, INT32_MAX - 1);
  P.H = a.integer(3, "numHeads", 1, 1 << 16);
  P.d = a.integer(4, "headDim", 1, 1 << 16);
  auto cu = a.i32(1, "cuSeqlens", static_cast<size_t>(P.batch + 1));
  if (cu.data[0] != 0) a.range_error("cuSeqlens[0] must be 0, got " + std::to_string(cu.data[0]));
  int64_t maxL = 0;
  for (int64_t b = 0; b < P.batch; ++b) {
    const int64_t L = int64_t(cu.data[b + 1]) - cu.data[b];
    if (L < 0)
      a.range_error("cuSeqlens must be non-decreasing: cuSeqlens[" + std::to_string(b + 1) + "] = " +
                    std::to_string(cu.data[b + 1]) + " < cuSeqlens[" + std::to_string(b) + "] = " +
                    std::to_string(cu.data[b]));
    maxL = L > maxL ? L : maxL;
  }
  P.cu = cu.data;
  P.nnz = cu.data[P.batch];
  P.ld_qkv = 3 * P.H * P.d;
  P.ld_out = P.H * P.d;
  const size_t n_qkv = a.elems({P.nnz, P.ld_qkv}, "nnz * 3 * numHeads * headDim");
  const size_t n_out = a.elems({P.nnz, P.ld_out}, "nnz * numHeads * headDim");
  P.qkv = a.f32(0, "qkv", n_qkv).data;
  P.slopes = a.f32(5, "slopes", static_cast<size_t>(P.H)).data;
  const double p = a.number(6, "dropoutP");
  if (!(p >= 0.0 && p < 1.0)) a.range_error("argument 'dropoutP' = " + std::to_string(p) + " is outside [0, 1)");
  P.seed = static_cast<uint64_t>(a.integer(7, "seed", 0, int64_t(1) << 53));
  P.stream = static_cast<uint64_t>(a.integer(8, "stream", 0, int64_t(1) << 53));
  P.p = static_cast<float>(p);
  P.dropout = P.p > 0.0f;
  P.keep_scale = P.dropout ? 1.0f / (1.0f - P.p) : 1.0f;
  if (P.dropout) {
    if (maxL > (int64_t(1) << 20))
      a.range_error("with dropout, sequences are limited to 2^20 tokens (the mask index reserves 20 bits for the "
                    "key position); got a sequence of " + std::to_string(maxL));
    if (P.H * P.nnz > (int64_t(1) << 33))
      a.range_error("with dropout, numHeads * nnz must be <= 2^33 (mask index below 2^53)");
  }
  P.scale = static_cast<float>(1.0 / ::sqrt(static_cast<double>(P.d)));
  P.out = a.f32(9, "out", n_out).data;
  P.lse = a.f32(10, "lse", a.elems({P.H, P.nnz}, "numHeads * nnz")).data;
  if (backward) {
    P.dout = a.f32(11, "dOut", n_out).data;
    P.dqkv = a.f32(12, "dQkv", n_qkv).data;
  }
  return P;
}

namespace {

Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  Args a(info, "attentionForward", 11);
  Problem P = parse_problem(a, false);
  thread_local std::vector<int64_t> prefix;
  if (prefix.size() < static_cast<size_t>(P.batch + 1)) prefix.resize(static_cast<size_t>(P.batch + 1));
  prefix[0] = 0;
  for (int64_t b = 0; b < P.batch; ++b) {
    const int64_t L = int64_t(P.cu[b + 1]) - P.cu[b];
    prefix[b + 1] = prefix[b] + (L + kFwdBlockQ - 1) / kFwdBlockQ;
  }
  P.blk_prefix = prefix.data();
  const int64_t ntasks = prefix[P.batch] * P.H;
  const bool avx = use_avx2();
  parallel_for(ntasks, [&](int64_t t, int thread) {
    if (avx) fwd_task_avx2(P, t, thread); else fwd_task_portable(P, t, thread);
  });
  return info.Env().Undefined();
}

Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  Args a(info, "attentionBackward", 13);
  Problem P = parse_problem(a, true);
  // One task per (sequence, head), longest sequences first (better load balance; results do not depend on it).
  thread_local std::vector<int64_t> order;
  order.clear();
  for (int64_t b = 0; b < P.batch; ++b)
    if (P.cu[b + 1] > P.cu[b]) order.push_back(b);
  std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {  // std::sort: no temporary buffer
    const int64_t lx = P.cu[x + 1] - P.cu[x], ly = P.cu[y + 1] - P.cu[y];
    return lx != ly ? lx > ly : x < y;
  });
  const int64_t H = P.H;
  const bool avx = use_avx2();
  const int64_t* ord = order.data();  // (a thread_local named inside the lambda would be the worker's own)
  parallel_for(static_cast<int64_t>(order.size()) * H, [&](int64_t t, int thread) {
    const int64_t task = ord[t / H] * H + t % H;
    if (avx) bwd_task_avx2(P, task, thread); else bwd_task_portable(P, task, thread);
  });
  return info.Env().Undefined();
}

MB_EXPORT("attentionForward", AttentionForward);
MB_EXPORT("attentionBackward", AttentionBackward);

}  // namespace
}  // namespace attn
}  // namespace mb
