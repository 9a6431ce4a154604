// fisherInverseUpdate: rank-1 Woodbury (Sherman-Morrison) updates of the block-diagonal inverse of the dampened
// empirical Fisher over a batch of gradients (oBERT, Kurtic et al. 2022, §3 eq. for F^-1; SparseML
// EmpiricalBlockFisherInverse.add_grad). The caller initialises every block to (1/lambda) I; after the m
// gradients of one pruning step Finv = (lambda I + (1/m) sum g g^T)^-1, block by block.
//
// Precision: the damping lambda = 1e-7 makes the initial entries 1e7, and each update subtracts a term of nearly
// the same size (u_i u_j / alpha ~ 1e7 - m/|g|^2 in the directions the gradients span): the dot products u = Finv g
// and alpha = m + g.u, and the subtraction itself, are computed in float64 so that the only rounding per update is
// the float32 store of Finv (the memory budget d*B*4 bytes). In float32 those products would lose the small
// remainder to cancellation.
//
// Parallel over fixed chunks of blocks; blocks are independent, so any thread count gives the same bits.
#include <algorithm>
#include <string>
#include <vector>

#include "common/args.h"
#include "common/cpu.h"
#include "common/pool.h"
#include "common/registry.h"
#include "kernels/pruning/pruning.h"

namespace mb {

void fisher_update_blocks_portable(float* finv, const float* G, int64_t ngrads, int64_t d, int64_t B, double m,
                                   int64_t b0, int64_t b1, double* u, double* g64) {
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t off = b * B, bs = std::min(B, d - off);
    float* F = finv + b * B * B;
    for (int64_t i = 0; i < ngrads; ++i) {
      const float* g = G + i * d + off;
      bool any = false;
      for (int64_t c = 0; c < bs; ++c) { g64[c] = g[c]; any = any || g[c] != 0.0f; }
      if (!any) continue;
      double alpha = m;
      for (int64_t r = 0; r < bs; ++r) {
        const float* Fr = F + r * B;
        double s = 0;
        for (int64_t c = 0; c < bs; ++c) s += static_cast<double>(Fr[c]) * g64[c];
        u[r] = s;
        alpha += g64[r] * s;
      }
      const double inv = 1.0 / alpha;
      for (int64_t r = 0; r < bs; ++r) {
        float* Fr = F + r * B;
        const double ur = u[r] * inv;
        for (int64_t c = 0; c < bs; ++c) Fr[c] = static_cast<float>(static_cast<double>(Fr[c]) - ur * u[c]);
      }
    }
  }
}

namespace {

// Blocks per task: enough work per task (B^2 * ngrads each) and a split that depends on the sizes only.
int64_t blocks_per_task(int64_t nb, int64_t B, int64_t ngrads) {
  const int64_t work = std::max<int64_t>(1, B * B * std::max<int64_t>(1, ngrads));
  return std::max<int64_t>(1, std::min<int64_t>(nb, (int64_t(1) << 20) / work));
}

// fisherInverseUpdate(finv, grads, nGrads, d, blockSize, m)
Napi::Value FisherInverseUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "fisherInverseUpdate", 6);
  const int64_t ngrads = a.integer(2, "nGrads", 0, INT32_MAX);
  const int64_t d = a.integer(3, "d", 0, Args::kMaxElems);
  const int64_t B = a.integer(4, "blockSize", 1, 65536);
  const double m = a.number(5, "m");
  if (!(m > 0)) a.range_error("argument 'm' (the number of gradients of the Fisher) must be > 0, got " + std::to_string(m));
  const int64_t nb = (d + B - 1) / B;
  auto finv = a.f32(0, "finv", a.elems({nb, B, B}, "finv (ceil(d/B)*B*B)"));
  auto G = a.f32(1, "grads", a.elems({ngrads, d}, "grads (nGrads*d)"));
  if (nb == 0 || ngrads == 0) return info.Env().Undefined();
  const bool avx2 = use_avx2();
  const int64_t per = blocks_per_task(nb, B, ngrads), ntasks = (nb + per - 1) / per;
  auto run = [&](int64_t t, int) {
    std::vector<double> scratch(static_cast<size_t>(2 * B));
    const int64_t b0 = t * per, b1 = std::min(nb, b0 + per);
    if (avx2) fisher_update_blocks_avx2(finv.data, G.data, ngrads, d, B, m, b0, b1, scratch.data(), scratch.data() + B);
    else fisher_update_blocks_portable(finv.data, G.data, ngrads, d, B, m, b0, b1, scratch.data(), scratch.data() + B);
  };
  if (ntasks == 1 || num_threads() == 1) for (int64_t t = 0; t < ntasks; ++t) run(t, 0);
  else parallel_for(ntasks, run);
  return info.Env().Undefined();
}

MB_EXPORT("fisherInverseUpdate", FisherInverseUpdate);

}  // namespace
}  // namespace mb
