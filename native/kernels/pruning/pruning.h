// The Optimal BERT Surgeon's heavy math (Kurtic et al. 2022, "The Optimal BERT Surgeon", arXiv 2203.07259, §3;
// SparseML's EmpiricalBlockFisherInverse / OBSPruningModifier): the block-diagonal inverse of the dampened
// empirical Fisher F = lambda*I + (1/m) sum_i g_i g_i^T kept by rank-1 Woodbury updates, the OBS saliencies and
// the OBS weight update. Bindings and portable paths in fisher.cc / obs.cc / select.cc; the AVX2+FMA Woodbury
// update in fisher_avx2.cc. See src/pruning/kernels.ts for the TS contract and src/kernels/reference/pruning.ts
// for the float64 oracle.
//
// Layout: a weight of d elements (row-major [out, in], flattened) is cut into nb = ceil(d / B) consecutive blocks
// of B; Finv is float32 [nb, B, B] row-major. The last block may hold bs = d - (nb-1)*B < B real coordinates: only
// its leading bs x bs corner is read or written (the zero-padded rest never couples to it).
#pragma once
#include <cstdint>

namespace mb {

// Finv_b <- Finv_b - u u^T / (m + g_b^T u), u = Finv_b g_b, for each of the `ngrads` gradients (rows of G, row
// stride d) in order, on blocks [b0, b1). u, the dot products and the subtraction are float64; each entry is
// rounded to float32 once per update. A block whose gradient slice is all zero is skipped (exactly a no-op).
void fisher_update_blocks_portable(float* finv, const float* G, int64_t ngrads, int64_t d, int64_t B, double m,
                                   int64_t b0, int64_t b1, double* u, double* g64);
void fisher_update_blocks_avx2(float* finv, const float* G, int64_t ngrads, int64_t d, int64_t B, double m,
                               int64_t b0, int64_t b1, double* u, double* g64);

// Solves the 4x4 system A z = w (A row stride lda, float32 entries) in float64 by Gaussian elimination with
// partial pivoting (the B = 4 "block4" fast path: fixed size, fully unrolled). Returns false when A is singular.
bool solve4(const float* A, int64_t lda, const double* w, double* z);

}  // namespace mb
