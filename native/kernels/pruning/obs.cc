// OBS saliencies and the OBS weight update from a block Fisher inverse (oBERT, Kurtic et al. 2022, §3; the
// formulas of SparseML's OBSPruningModifier, written out in ../shared/docs/obert.md §1.1 and §1.4):
//
//   unstructured: score_j = w_j^2 / (2 Finv_jj + eps)            eps = float32 machine epsilon
//                 z_j     = P_j ? w_j / Finv_jj : 0
//   block4:       z_Q     = solve(Finv_QQ, w_Q)                   Q = 4 consecutive weights along the input dim
//                 score_Q = 0.5 <w_Q, z_Q>                        one score per group: out has d/4 entries
//                 z_Q     = P_Q ? solve(Finv_QQ, w_Q) : 0
//   update:       w_b <- w_b - Finv_b z_b  (every block b; the sum of the single-weight / single-group updates of
//                 all newly pruned P), then w[P] = 0 exactly.
//
// Already-pruned weights (mask 0) score -inf, so they are counted first and stay pruned. Everything is float64
// inside (the 4x4 solves, the mat-vec) and rounded once to float32. These run once per pruning step over d
// weights (O(d*B)), far less than the Fisher updates (O(m*d*B)), so they have a portable path only.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/args.h"
#include "common/pool.h"
#include "common/registry.h"
#include "kernels/pruning/pruning.h"

namespace mb {

bool solve4(const float* A, int64_t lda, const double* w, double* z) {
  double M[4][5];
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) M[r][c] = A[r * lda + c];
    M[r][4] = w[r];
  }
  for (int k = 0; k < 4; ++k) {
    int p = k;
    for (int r = k + 1; r < 4; ++r) if (std::fabs(M[r][k]) > std::fabs(M[p][k])) p = r;
    if (M[p][k] == 0.0 || !std::isfinite(M[p][k])) return false;
    if (p != k) for (int c = 0; c < 5; ++c) std::swap(M[k][c], M[p][c]);
    for (int r = k + 1; r < 4; ++r) {
      const double f = M[r][k] / M[k][k];
      for (int c = k; c < 5; ++c) M[r][c] -= f * M[k][c];
    }
  }
  for (int k = 3; k >= 0; --k) {
    double s = M[k][4];
    for (int c = k + 1; c < 4; ++c) s -= M[k][c] * z[c];
    z[k] = s / M[k][k];
  }
  return true;
}

namespace {

constexpr int64_t kBlocksPerTask = 256;

struct ObsArgs {
  Buf<float> finv, w;
  int64_t d, B, nb;
  bool block4;
};

ObsArgs obs_args(Args& a, int64_t d_idx, int64_t b_idx, int64_t block4_idx) {
  ObsArgs o;
  o.d = a.integer(d_idx, "d", 0, Args::kMaxElems);
  o.B = a.integer(b_idx, "blockSize", 1, 65536);
  o.block4 = a.boolean(block4_idx, "block4");
  if (o.block4 && (o.B % 4 != 0 || o.d % 4 != 0)) {
    a.range_error("block4 needs blockSize and d divisible by 4, got blockSize " + std::to_string(o.B) + ", d " +
                  std::to_string(o.d));
  }
  o.nb = (o.d + o.B - 1) / o.B;
  o.finv = a.f32(0, "finv", a.elems({o.nb, o.B, o.B}, "finv (ceil(d/B)*B*B)"));
  o.w = a.f32(1, "weight", static_cast<size_t>(o.d));
  return o;
}

void for_block_chunks(int64_t nb, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t ntasks = (nb + kBlocksPerTask - 1) / kBlocksPerTask;
  auto run = [&](int64_t t, int) { fn(t * kBlocksPerTask, std::min(nb, (t + 1) * kBlocksPerTask)); };
  if (ntasks <= 1 || num_threads() == 1) for (int64_t t = 0; t < ntasks; ++t) run(t, 0);
  else parallel_for(ntasks, run);
}

// obsScores(finv, weight, mask | null, d, blockSize, block4, out)
Napi::Value ObsScores(const Napi::CallbackInfo& info) {
  Args a(info, "obsScores", 7);
  ObsArgs o = obs_args(a, 3, 4, 5);
  auto mask = a.u8_or_null(2, "mask", static_cast<size_t>(o.d));
  const int64_t nout = o.block4 ? o.d / 4 : o.d;
  auto out = a.f32(6, "out", static_cast<size_t>(nout));
  const float* F = o.finv.data;
  const float* w = o.w.data;
  const int64_t B = o.B, d = o.d;
  constexpr double ninf = -std::numeric_limits<double>::infinity();
  for_block_chunks(o.nb, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t off = b * B, bs = std::min(B, d - off);
      const float* Fb = F + b * B * B;
      if (!o.block4) {
        for (int64_t r = 0; r < bs; ++r) {
          const int64_t j = off + r;
          const double wj = w[j];
          out.data[j] = (mask.data && !mask.data[j]) ? static_cast<float>(ninf)
              : static_cast<float>(wj * wj / (2.0 * static_cast<double>(Fb[r * B + r]) + FLT_EPSILON));
        }
      } else {
        for (int64_t r = 0; r < bs; r += 4) {
          const int64_t j = off + r;
          if (mask.data && !mask.data[j]) { out.data[j / 4] = static_cast<float>(ninf); continue; }
          double wq[4] = {w[j], w[j + 1], w[j + 2], w[j + 3]}, z[4];
          if (!solve4(Fb + r * B + r, B, wq, z)) {
            out.data[j / 4] = 0.0f;  // a singular 4x4 block of the inverse cannot happen for lambda > 0
            continue;
          }
          out.data[j / 4] = static_cast<float>(0.5 * (wq[0] * z[0] + wq[1] * z[1] + wq[2] * z[2] + wq[3] * z[3]));
        }
      }
    }
  });
  return info.Env().Undefined();
}

// obsUpdate(finv, weight, pruned, d, blockSize, block4)
Napi::Value ObsUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "obsUpdate", 6);
  ObsArgs o = obs_args(a, 3, 4, 5);
  auto P = a.u8(2, "pruned", static_cast<size_t>(o.d));
  const float* F = o.finv.data;
  float* w = o.w.data;
  const int64_t B = o.B, d = o.d;
  for_block_chunks(o.nb, [&](int64_t b0, int64_t b1) {
    std::vector<double> z(static_cast<size_t>(B));
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t off = b * B, bs = std::min(B, d - off);
      const float* Fb = F + b * B * B;
      bool any = false;
      for (int64_t r = 0; r < bs; ++r) z[r] = 0.0;
      if (!o.block4) {
        for (int64_t r = 0; r < bs; ++r) {
          if (!P.data[off + r]) continue;
          z[r] = static_cast<double>(w[off + r]) / static_cast<double>(Fb[r * B + r]);
          any = true;
        }
      } else {
        for (int64_t r = 0; r < bs; r += 4) {
          if (!P.data[off + r]) continue;
          const double wq[4] = {w[off + r], w[off + r + 1], w[off + r + 2], w[off + r + 3]};
          if (!solve4(Fb + r * B + r, B, wq, z.data() + r)) { z[r] = z[r + 1] = z[r + 2] = z[r + 3] = 0.0; continue; }
          any = true;
        }
      }
      if (any) {
        for (int64_t r = 0; r < bs; ++r) {
          const float* Fr = Fb + r * B;
          double s = 0;
          for (int64_t c = 0; c < bs; ++c) s += static_cast<double>(Fr[c]) * z[c];
          w[off + r] = static_cast<float>(static_cast<double>(w[off + r]) - s);
        }
      }
      for (int64_t r = 0; r < bs; ++r) if (P.data[off + r]) w[off + r] = 0.0f;
    }
  });
  return info.Env().Undefined();
}

MB_EXPORT("obsScores", ObsScores);
MB_EXPORT("obsUpdate", ObsUpdate);

}  // namespace
}  // namespace mb
