// The packed, cache-blocked SGEMM driver shared by the portable path (sgemm.cc) and the AVX2+FMA path
// (sgemm_avx2.cc): C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C, row-major.
//
// Design: Goto & van de Geijn, "Anatomy of high-performance matrix multiplication" (ACM TOMS 2008), in the loop
// order of BLIS (Van Zee & van de Geijn, "BLIS: a framework for rapidly instantiating BLAS functionality", 2015):
//
//   for jc in N step NC                       (B panel KC x NC packed once, shared by all threads, lives in L3)
//     for pc in K step KC                     (K is never split between threads)
//       one parallel region whose first tasks pack op(B)[pc+KC:pc+2KC, jc:jc+NC] (the NEXT K block, into the
//       other of two buffers) into NR-column micro-panels, and whose other tasks are
//       (MC block of rows) x (slice of the NR micro-panels):
//         pack op(A)[ic:ic+MC, pc:pc+KC] into MR-row micro-panels         (per thread, stays in L2)
//         for jr over the slice's micro-panels                            (one KC x NR micro-panel of B in L1)
//           for ir over MR micro-panels of A
//             micro-kernel: MR x NR tile of C += alpha * Apanel @ Bpanel (beta applied on the first K block)
//
// Packing absorbs the four transpose cases, so one micro-kernel serves them all; panels are zero-padded to
// MR / NR so the micro-kernel always computes a full tile and stores only the valid part.
//
// Determinism: every C element is sum over K blocks (in order) of a micro-kernel accumulation over k (in order), so
// its value depends only on KC (fixed) and never on the thread count, MC, NC or which thread ran the task; the
// store of an edge tile uses the same arithmetic as a full tile.
//
// Everything here has internal linkage (anonymous namespace): this header is compiled once per path with
// different target flags, and the two copies must never be merged by the linker.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common/alloc.h"
#include "common/pool.h"

namespace mb {
namespace {

struct GemmArgs {
  bool tA, tB;
  int64_t M, N, K;
  float alpha;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float beta;
  float* C;
  int64_t ldc;
};

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Pack buffers: thread_local, 64-byte aligned, grown on demand and kept (no allocation in steady state).
// Slot 0 (the packed B panel) belongs to the thread that called sgemm and is shared with the pool for the
// duration of the call; slot 1 (packed A block) belongs to the thread running a task. thread_local rather than
// mb::thread_scratch because sgemm may be called from inside another kernel's pool task (then it runs serially
// and must not use the caller's per-thread scratch, nor share a buffer with another nested call).
inline float* pack_buffer(int slot, size_t floats) {
  struct Buf {
    float* p = nullptr;
    size_t n = 0;
    ~Buf() { std::free(p); }
  };
  thread_local Buf bufs[2];
  Buf& b = bufs[slot];
  if (b.n < floats) {
    std::free(b.p);  // released first, so a failed allocation leaves no stale pointer or size behind
    b.p = nullptr;
    b.n = 0;
    b.p = aligned_floats(floats, 64);  // + 64 bytes of slack for overlapping vector stores; throws std::bad_alloc
    b.n = floats;
  }
  return b.p;
}

// C = beta * C (beta == 0: C = 0 without reading it). Used when K == 0 or alpha == 0.
inline void scale_c(const GemmArgs& g) {
  parallel_range(g.M, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      float* c = g.C + i * g.ldc;
      if (g.beta == 0.0f) {
        std::memset(c, 0, sizeof(float) * static_cast<size_t>(g.N));
      } else if (g.beta != 1.0f) {
        for (int64_t j = 0; j < g.N; ++j) c[j] *= g.beta;
      }
    }
  });
}

// Generic packing of op(A)[i0:i0+mc, k0:k0+kc] into MR-row micro-panels: panel p holds rows i0+p*MR.., stored
// k-major (out[(p*kc + k)*MR + r]), zero-padded to MR rows.
template <int MR>
inline void pack_a_generic(bool tA, const float* A, int64_t lda, int64_t i0, int64_t k0, int64_t mc, int64_t kc,
                           float* out) {
  for (int64_t ip = 0; ip < mc; ip += MR) {
    const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ip));
    float* o = out + ip * kc;
    if (!tA) {
      const float* a = A + (i0 + ip) * lda + k0;
      for (int64_t k = 0; k < kc; ++k) {
        for (int r = 0; r < mr; ++r) o[k * MR + r] = a[r * lda + k];
        for (int r = mr; r < MR; ++r) o[k * MR + r] = 0.0f;
      }
    } else {
      const float* a = A + k0 * lda + i0 + ip;
      for (int64_t k = 0; k < kc; ++k) {
        for (int r = 0; r < mr; ++r) o[k * MR + r] = a[k * lda + r];
        for (int r = mr; r < MR; ++r) o[k * MR + r] = 0.0f;
      }
    }
  }
}

// Generic packing of op(B)[k0:k0+kc, j0:j0+nc] into NR-column micro-panels (out[(p*kc + k)*NR + c]), zero-padded.
// Columns of op(B) are rows of op(B)^T = (B, transposed flag flipped), so this is pack_a_generic on that view.
template <int NR>
inline void pack_b_generic(bool tB, const float* B, int64_t ldb, int64_t k0, int64_t j0, int64_t kc, int64_t nc,
                           float* out) {
  pack_a_generic<NR>(!tB, B, ldb, j0, k0, nc, kc, out);
}

// The driver. Kern provides: MR, NR, KC, MC (max), NC (max); pack_a(tA, A, lda, i0, k0, mc, kc, out) and
// pack_b(tB, B, ldb, k0, j0, kc, nc, out) with the layouts above; micro(kc, Ap, Bp, C, ldc, alpha, beta, mr, nr)
// computing C[0:mr, 0:nr] = alpha * (Ap @ Bp) + beta * C (beta == 0: C not read).
template <class Kern>
void gemm_packed(const GemmArgs& g) {
  constexpr int MR = Kern::MR, NR = Kern::NR;
  const int64_t M = g.M, N = g.N, K = g.K;
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || g.alpha == 0.0f) {
    scale_c(g);
    return;
  }
  const int64_t nth = num_threads();
  const int64_t KC = Kern::KC;

  // N blocking: near-equal B panels of at most NC columns (multiples of NR).
  const int64_t jblocks = ceil_div(N, Kern::NC);
  const int64_t NC = round_up(ceil_div(N, jblocks), NR);
  // M blocking: near-equal MC blocks (multiple of MR), their number a multiple of the thread count when there
  // are enough of them, so that every thread gets the same share.
  int64_t mblocks = ceil_div(M, Kern::MC);
  if (nth > 1 && mblocks >= nth) mblocks = round_up(mblocks, nth);
  const int64_t MC = round_up(ceil_div(M, mblocks), MR);
  mblocks = ceil_div(M, MC);

  // Two B panel buffers: while the tasks of one K block multiply with one, the first tasks of the same parallel
  // region pack the next K block into the other (one pool barrier per K block instead of two).
  const int64_t kc_max = std::min(KC, K);
  const size_t bsize = static_cast<size_t>(kc_max * NC);
  float* Bbuf = pack_buffer(0, 2 * bsize);
  const int64_t kblocks = ceil_div(K, KC);
  // Pack tasks per K block: enough to be shared between threads, each at least a few micro-panels.
  auto pack_tasks = [&](int64_t npan) { return std::min<int64_t>(npan, 2 * nth); };

  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    const int64_t npan = ceil_div(nc, NR);
    const int64_t npack = pack_tasks(npan);
    // Few row blocks (small M): also split the B micro-panels between tasks so that every thread has work
    // (each such task re-packs its A block, which is cheap next to the NR panels it multiplies).
    int64_t nsplit = 1;
    if (nth > 1 && mblocks < 4 * nth) nsplit = std::min<int64_t>(npan, ceil_div(4 * nth, mblocks));
    auto pack_b_part = [&](int64_t kb, int64_t part) {
      const int64_t pc = kb * KC, kc = std::min(KC, K - pc);
      const int64_t p0 = npan * part / npack, p1 = npan * (part + 1) / npack;
      const int64_t j0 = p0 * NR, j1 = std::min(nc, p1 * NR);
      if (j1 > j0) Kern::pack_b(g.tB, g.B, g.ldb, pc, jc + j0, kc, j1 - j0, Bbuf + (kb & 1) * bsize + j0 * kc);
    };
    parallel_for(npack, [&](int64_t part, int) { pack_b_part(0, part); });
    for (int64_t kb = 0; kb < kblocks; ++kb) {
      const int64_t pc = kb * KC, kc = std::min(KC, K - pc);
      const float* Bp = Bbuf + (kb & 1) * bsize;
      const float beta = kb == 0 ? g.beta : 1.0f;
      const int64_t nnext = kb + 1 < kblocks ? npack : 0;
      parallel_for(nnext + mblocks * nsplit, [&](int64_t task, int) {
        if (task < nnext) {
          pack_b_part(kb + 1, task);
          return;
        }
        task -= nnext;
        const int64_t ib = task / nsplit, js = task % nsplit;
        const int64_t i0 = ib * MC, mc = std::min(MC, M - i0);
        float* Ap = pack_buffer(1, static_cast<size_t>(round_up(MC, MR) * kc_max));
        Kern::pack_a(g.tA, g.A, g.lda, i0, pc, mc, kc, Ap);
        const int64_t jp0 = npan * js / nsplit, jp1 = npan * (js + 1) / nsplit;
        for (int64_t jp = jp0; jp < jp1; ++jp) {
          const int64_t j = jp * NR;
          const int nr = static_cast<int>(std::min<int64_t>(NR, nc - j));
          const float* bp = Bp + j * kc;
          for (int64_t ip = 0; ip < mc; ip += MR) {
            const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ip));
            Kern::micro(kc, Ap + ip * kc, bp, g.C + (i0 + ip) * g.ldc + jc + j, g.ldc, g.alpha, beta, mr, nr);
          }
        }
      });
    }
  }
}

}  // namespace
}  // namespace mb
