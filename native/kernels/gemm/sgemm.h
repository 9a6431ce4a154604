// C++ entry point of the SGEMM kernel, for other kernels (e.g. a materialized-attention benchmark peer).
#pragma once
#include <cstdint>

namespace mb {

// C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C, row-major; see Kernels.sgemm in src/kernels/types.ts.
// Parallel over the pool (serial when called from inside a pool task). beta == 0 does not read C.
void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Pre-packed inference linear (sgemm_prepacked.h), on the current kernel path (use_avx2()):
// floats of W [N, K] packed in this path's panel layout; pack it; Y[M,N] = X[M,K] @ W^T + bias (bias may be null),
// bit-identical to sgemm(false, true, ...) + addBias. version 1: A packed per task; 2: X packed once when small.
int64_t linear_packed_floats(int64_t N, int64_t K);
void linear_pack_w(const float* W, int64_t N, int64_t K, float* out);
void linear_packed(int version, const float* X, int64_t M, int64_t K, const float* Wp, int64_t N, const float* bias,
                   float* Y);

}  // namespace mb
