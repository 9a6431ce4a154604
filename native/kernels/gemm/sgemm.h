// C++ entry point of the SGEMM kernel, for other kernels (e.g. a materialized-attention benchmark peer).
#pragma once
#include <cstdint>

namespace mb {

// C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C, row-major; see Kernels.sgemm in src/kernels/types.ts.
// Parallel over the pool (serial when called from inside a pool task). beta == 0 does not read C.
void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace mb
