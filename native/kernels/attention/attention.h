// Unpadded ALiBi attention (MosaicBERT `BertUnpadSelfAttention`, Press et al. 2022; the reference's `bert_layers.py`), computed
// FlashAttention-style (Dao et al. 2022, "FlashAttention"; Dao 2023, "FlashAttention-2"): blocks of 64 keys x 64
// queries (kept transposed, see attention_impl.h) with an online softmax, never an SxS matrix. Shared declarations
// of the portable path (attention.cc), the AVX2+FMA path (attention_avx2.cc) and the materialized benchmark peer
// (materialized.cc).
//
// Layout (row-major float32): qkv [nnz, 3*H*d] = [Q | K | V], head h in columns h*d .. h*d+d of each block;
// out [nnz, H*d]; lse [H, nnz]; dOut like out; dQkv like qkv. Sequence b is rows cu[b] .. cu[b+1].
// For query i and key j of the same sequence (positions within it):
//   S_ij = (q_i . k_j) * scale - slope_h * |i - j|,  scale = 1/sqrt(d),
//   P = softmax_j(S), Pd = P * keep / (1 - p) (inverted dropout), out_i = sum_j Pd_ij v_j, lse_i = logsumexp_j S_ij,
//   keep_ij = philoxUniform(seed, stream, (h*nnz + r)*2^20 + j) >= p with r the global row of query i.
// Backward (FlashAttention-2): D_i = dOut_i . out_i, dV_j = sum_i Pd_ij dOut_i, dPd_ij = dOut_i . v_j,
//   dS_ij = P_ij * (dPd_ij * keep_ij / (1 - p) - D_i), dQ_i = scale * sum_j dS_ij k_j, dK_j = scale * sum_i dS_ij q_i.
//
// Parallel decomposition (deterministic and independent of the thread count: every task owns a fixed piece of the
// output and computes it in a fixed order, nothing is accumulated across tasks):
//   forward:  one task per (sequence, block of kFwdBlockQ queries, head);
//   backward: one task per (sequence, head), which owns its rows' dQ/dK/dV columns (FlashAttention-2 loop order
//             for dK/dV: outer over key blocks, inner over query blocks; dQ accumulates in per-thread scratch).
// Memory: per-thread scratch of O(block^2 + block*d) floats (forward) and ~5*L*d floats (backward): O(L*d), never
// O(L^2). The scratch is mb::thread_scratch, kept between calls (no allocation in steady state).
#pragma once
#include <cstdint>

namespace mb {
namespace attn {

// Query-block / key-block sizes (multiples of 8).
constexpr int64_t kFwdBlockQ = 64;
constexpr int64_t kBlockK = 64;
constexpr int64_t kBwdBlockQ = 64;

struct Problem {
  const float* qkv = nullptr;
  const int32_t* cu = nullptr;
  int64_t batch = 0, H = 0, d = 0, nnz = 0;
  int64_t ld_qkv = 0;  // 3*H*d
  int64_t ld_out = 0;  // H*d
  const float* slopes = nullptr;
  float scale = 1.0f;         // 1/sqrt(d)
  bool dropout = false;
  float p = 0.0f;             // dropout probability (float32, as the comparison uses it)
  float keep_scale = 1.0f;    // 1/(1-p)
  uint64_t seed = 0, stream = 0;
  float* out = nullptr;       // forward: written; backward: read
  float* lse = nullptr;       // forward: written; backward: read
  const float* dout = nullptr;
  float* dqkv = nullptr;
  // Forward task map: blk_prefix[b] = number of query blocks in sequences < b (length batch + 1).
  const int64_t* blk_prefix = nullptr;
};

// Dropout multipliers of one query row: mult[t] = keep(base + j0 + t) ? keep_scale : 0 for t < n, where base is
// (h*nnz + r) << 20 and j0 a multiple of 4. Defined in attention.cc (portable code; one Philox block per 4 keys).
void keep_row(const Problem& P, uint64_t base, int64_t j0, int64_t n, float* mult);

// Task bodies. Forward: task in [0, blk_prefix[batch] * H); backward: task in [0, batch * H).
void fwd_task_portable(const Problem& P, int64_t task, int thread);
void bwd_task_portable(const Problem& P, int64_t task, int thread);
void fwd_task_avx2(const Problem& P, int64_t task, int thread);
void bwd_task_avx2(const Problem& P, int64_t task, int thread);

// Row primitives shared with the materialized peer, so that it differs from the fused kernel only in the
// materialization and the SGEMM (a fair comparison). `s` has n valid entries and is padded to np (multiple of 8).
struct RowOps {
  // s[t] = s[t]*scale - slope*|di - t| for t < n, -inf for n <= t < np; returns max over t < n.
  float (*scores_max)(float* s, int64_t n, int64_t np, float scale, float slope, int64_t di);
  // s[t] = exp(s[t] - mx) for t < np; returns the sum.
  float (*exp_sum)(float* s, int64_t np, float mx);
  // Backward row: p = exp(s*scale - slope*|di - t| - lse) (0 for t >= n); with m = mult ? mult[t] : 1:
  // s[t] = p*m (Pd), dp[t] = p*(dp[t]*m - D) (dS); zeros for n <= t < np.
  void (*bwd_row)(float* s, float* dp, int64_t n, int64_t np, float scale, float slope, int64_t di, float lse,
                  float D, const float* mult);
};
extern const RowOps kRowOpsPortable;
extern const RowOps kRowOpsAvx2;

}  // namespace attn
}  // namespace mb
