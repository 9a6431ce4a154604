// Inference linear layer on weights packed once: Y[M,N] = X[M,K] @ W[N,K]^T + bias, row-major float32.
//
// W (the [out, in] weight of a Linear, i.e. op(B) = W^T of sgemm(transA = false, transB = true)) is packed ONCE into
// exactly the B micro-panels that gemm_packed (sgemm_driver.h) builds on every call, for every (N block, K block),
// one after the other:
//   block (jc, pc) starts at jc * K + pc * round_up(nc, NR)   (nc = the block's columns; earlier blocks are NC wide)
//   inside a block: micro-panel p (columns jc + p*NR ..) at p * NR * kc, k-major, zero-padded to NR columns,
// so the whole buffer holds round_up(N, NR) * K floats. The N blocking (NC) depends only on N and the kernel, never
// on the thread count, so a packed buffer serves any thread count; it does depend on the path (NR, KC), so the
// binding records which path packed it.
//
// The multiply runs the same micro-kernel over the same K blocks in the same order as gemm_packed with alpha = 1,
// beta = 0, then adds the bias to each finished tile with one float32 addition per element, as addBias does: the
// result is bit-identical to sgemm(false, true, M, N, K, 1, X, K, W, K, 0, Y, N) followed by addBias(Y, bias).
//
// Work split: tasks = (M block) x (slice of the N micro-panels); each task loops over the K blocks itself (no pool
// barrier per K block, since nothing is packed per call except A). Two versions:
//   v1: every task packs its own A block for each K block (as gemm_packed does);
//   v2: when the packed X fits (M * K <= kSharedA floats), X is packed once by a first parallel pass into all
//       (M block, K block) panels, shared by the tasks, so a small batch is not re-packed once per N slice.
// Included by sgemm.cc and sgemm_avx2.cc after their micro-kernel; internal linkage as sgemm_driver.h.
#pragma once
#include "kernels/gemm/sgemm_driver.h"

namespace mb {
namespace {

// The N block width gemm_packed uses for N columns: near-equal blocks of at most Kern::NC, multiples of NR.
template <class Kern>
inline int64_t n_block(int64_t N) {
  const int64_t jblocks = ceil_div(N, Kern::NC);
  return round_up(ceil_div(N, jblocks), Kern::NR);
}

template <class Kern>
inline int64_t packed_w_floats(int64_t N, int64_t K) {
  return round_up(N, Kern::NR) * K;
}

// Packs W [N, K] (row stride K) into `out` (packed_w_floats(N, K) floats), in parallel over the blocks.
template <class Kern>
void pack_w(const float* W, int64_t N, int64_t K, float* out) {
  if (N <= 0 || K <= 0) return;
  const int64_t NC = n_block<Kern>(N), KC = Kern::KC;
  const int64_t jblocks = ceil_div(N, NC), kblocks = ceil_div(K, KC);
  parallel_for(jblocks * kblocks, [&](int64_t t, int) {
    const int64_t jc = (t / kblocks) * NC, pc = (t % kblocks) * KC;
    const int64_t nc = std::min(NC, N - jc), kc = std::min(KC, K - pc);
    Kern::pack_b(true, W, K, pc, jc, kc, nc, out + jc * K + pc * round_up(nc, Kern::NR));
  });
}

constexpr int64_t kSharedA = int64_t(1) << 20;  // v2 packs X once when M * K <= 1 Mi floats (4 MiB)

template <class Kern>
void linear_prepacked(int version, const float* X, int64_t M, int64_t K, const float* Wp, int64_t N,
                      const float* bias, float* Y) {
  constexpr int MR = Kern::MR, NR = Kern::NR;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) Y[i * N + j] = bias ? bias[j] : 0.0f;
    return;
  }
  const int64_t nth = num_threads(), KC = Kern::KC;
  const int64_t NC = n_block<Kern>(N);
  int64_t mblocks = ceil_div(M, Kern::MC);
  if (nth > 1 && mblocks >= nth) mblocks = round_up(mblocks, nth);
  const int64_t MC = round_up(ceil_div(M, mblocks), MR);
  mblocks = ceil_div(M, MC);
  const int64_t kblocks = ceil_div(K, KC), kc_max = std::min(KC, K);
  const int64_t Mp = round_up(M, MR);
  const bool shared_a = version >= 2 && Mp * K <= kSharedA;
  // Shared packed X: (M block, K block) panel at i0 * K + pc * round_up(mc, MR) (same scheme as W).
  float* Ash = nullptr;
  if (shared_a) {
    Ash = pack_buffer(1, static_cast<size_t>(Mp * K));
    parallel_for(mblocks * kblocks, [&](int64_t t, int) {
      const int64_t i0 = (t / kblocks) * MC, pc = (t % kblocks) * KC;
      const int64_t mc = std::min(MC, M - i0), kc = std::min(KC, K - pc);
      Kern::pack_a(false, X, K, i0, pc, mc, kc, Ash + i0 * K + pc * round_up(mc, MR));
    });
  }
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc), ncp = round_up(nc, NR);
    const int64_t npan = ncp / NR;
    int64_t nsplit = 1;
    if (nth > 1 && mblocks < 4 * nth) nsplit = std::min<int64_t>(npan, ceil_div(4 * nth, mblocks));
    parallel_for(mblocks * nsplit, [&](int64_t task, int) {
      const int64_t ib = task / nsplit, js = task % nsplit;
      const int64_t i0 = ib * MC, mc = std::min(MC, M - i0), mcp = round_up(mc, MR);
      const int64_t jp0 = npan * js / nsplit, jp1 = npan * (js + 1) / nsplit;
      // Own A buffer (v1, or v2 when X is large). Slot 0: slot 1 may be the shared buffer of this thread.
      float* Aown = shared_a ? nullptr : pack_buffer(0, static_cast<size_t>(round_up(MC, MR) * kc_max));
      for (int64_t kb = 0; kb < kblocks; ++kb) {
        const int64_t pc = kb * KC, kc = std::min(KC, K - pc);
        const float* Ap;
        if (shared_a) {
          Ap = Ash + i0 * K + pc * mcp;
        } else {
          Kern::pack_a(false, X, K, i0, pc, mc, kc, Aown);
          Ap = Aown;
        }
        const float* Bp = Wp + jc * K + pc * ncp;
        const float beta = kb == 0 ? 0.0f : 1.0f;
        const bool last = kb + 1 == kblocks;
        for (int64_t jp = jp0; jp < jp1; ++jp) {
          const int64_t j = jp * NR;
          const int nr = static_cast<int>(std::min<int64_t>(NR, nc - j));
          for (int64_t ip = 0; ip < mc; ip += MR) {
            const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ip));
            float* C = Y + (i0 + ip) * N + jc + j;
            Kern::micro(kc, Ap + ip * kc, Bp + j * kc, C, N, 1.0f, beta, mr, nr);
            if (last && bias) {
              const float* __restrict b = bias + jc + j;
              for (int r = 0; r < mr; ++r) {
                float* __restrict cr = C + r * N;
                for (int c = 0; c < nr; ++c) cr[c] += b[c];
              }
            }
          }
        }
      }
    });
  }
}

}  // namespace
}  // namespace mb
