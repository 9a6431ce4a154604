// SGEMM: C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C, row-major float32 (Kernels.sgemm in
// src/kernels/types.ts). This file holds the JS bindings and argument checks, the numbered versions and the
// portable path:
//   sgemm_v1  simple cache-blocked loops (i-block, k-block, contiguous j axpy), portable; the baseline.
//   sgemm_v2  Goto/BLIS packed driver (sgemm_driver.h): AVX2+FMA 6x16 micro-kernel (sgemm_avx2.cc) when
//             mb::use_avx2(), else a plain C++ 4x8 micro-kernel the compiler vectorises with SSE. The winner:
//             mb::sgemm and the `sgemm` binding call it.
// Every version is deterministic for any thread count (only M and N are partitioned; K is summed in order).
#include "kernels/gemm/sgemm.h"

#include <algorithm>
#include <string>

#include "common/args.h"
#include "common/cpu.h"
#include "common/pool.h"
#include "common/registry.h"
#include "kernels/gemm/sgemm_driver.h"
#include "kernels/gemm/sgemm_prepacked.h"

namespace mb {

void sgemm_v2_avx2(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                   int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
int64_t linear_packed_floats_avx2(int64_t N, int64_t K);
void linear_pack_w_avx2(const float* W, int64_t N, int64_t K, float* out);
void linear_packed_avx2(int version, const float* X, int64_t M, int64_t K, const float* Wp, int64_t N,
                        const float* bias, float* Y);

namespace {

// Portable micro-kernel: 4x8 tile (8 SSE registers of accumulators), plain loops the compiler vectorises.
struct PortableKern {
  static constexpr int MR = 4, NR = 8;
  static constexpr int64_t KC = 256, MC = 128, NC = 4096;

  static void pack_a(bool tA, const float* A, int64_t lda, int64_t i0, int64_t k0, int64_t mc, int64_t kc,
                     float* out) {
    pack_a_generic<MR>(tA, A, lda, i0, k0, mc, kc, out);
  }
  static void pack_b(bool tB, const float* B, int64_t ldb, int64_t k0, int64_t j0, int64_t kc, int64_t nc,
                     float* out) {
    pack_b_generic<NR>(tB, B, ldb, k0, j0, kc, nc, out);
  }
  static void micro(int64_t kc, const float* __restrict Ap, const float* __restrict Bp, float* C, int64_t ldc,
                    float alpha, float beta, int mr, int nr) {
    float acc[MR][NR] = {};
    for (int64_t k = 0; k < kc; ++k) {
      const float* b = Bp + k * NR;
      const float* a = Ap + k * MR;
      for (int r = 0; r < MR; ++r)
        for (int c = 0; c < NR; ++c) acc[r][c] += a[r] * b[c];
    }
    for (int r = 0; r < mr; ++r) {
      float* cr = C + r * ldc;
      if (beta == 0.0f) {
        for (int c = 0; c < nr; ++c) cr[c] = alpha * acc[r][c];
      } else if (beta == 1.0f) {
        for (int c = 0; c < nr; ++c) cr[c] = alpha * acc[r][c] + cr[c];
      } else {
        for (int c = 0; c < nr; ++c) cr[c] = alpha * acc[r][c] + beta * cr[c];
      }
    }
  }
};

}  // namespace

// v1: blocked loops without packing. Rows of C are split between threads; for each row block and K block, each
// C row accumulates alpha * a_ik * op(B)[k, :] in k order (an axpy over contiguous j). op(B) rows are read in
// place when B is not transposed, else the K block of op(B) is first transposed into per-thread scratch.
void sgemm_v1(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  GemmArgs g{tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  scale_c(g);
  if (K <= 0 || alpha == 0.0f) return;
  constexpr int64_t MB = 32, KB = 128;
  const int64_t nblocks = ceil_div(M, MB);
  parallel_for(nblocks, [&](int64_t blk, int thread) {
    const int64_t i0 = blk * MB, i1 = std::min(M, i0 + MB);
    float* bt = tB ? thread_scratch(thread, static_cast<size_t>(KB * N)) : nullptr;
    for (int64_t k0 = 0; k0 < K; k0 += KB) {
      const int64_t k1 = std::min(K, k0 + KB);
      if (tB)
        for (int64_t j = 0; j < N; ++j)
          for (int64_t k = k0; k < k1; ++k) bt[(k - k0) * N + j] = B[j * ldb + k];
      for (int64_t i = i0; i < i1; ++i) {
        float* __restrict c = C + i * ldc;
        for (int64_t k = k0; k < k1; ++k) {
          const float a = alpha * (tA ? A[k * lda + i] : A[i * lda + k]);
          const float* __restrict b = tB ? bt + (k - k0) * N : B + k * ldb;
          for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
        }
      }
    }
  });
}

void sgemm_v2(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (use_avx2()) {
    sgemm_v2_avx2(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  gemm_packed<PortableKern>(GemmArgs{tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc});
}

void sgemm(bool tA, bool tB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm_v2(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Pre-packed inference linear (sgemm_prepacked.h, declared in sgemm.h): the current path's panel layout.
int64_t linear_packed_floats(int64_t N, int64_t K) {
  return use_avx2() ? linear_packed_floats_avx2(N, K) : packed_w_floats<PortableKern>(N, K);
}
void linear_pack_w(const float* W, int64_t N, int64_t K, float* out) {
  if (use_avx2())
    linear_pack_w_avx2(W, N, K, out);
  else
    pack_w<PortableKern>(W, N, K, out);
}
void linear_packed(int version, const float* X, int64_t M, int64_t K, const float* Wp, int64_t N, const float* bias,
                   float* Y) {
  if (use_avx2())
    linear_packed_avx2(version, X, M, K, Wp, N, bias, Y);
  else
    linear_prepacked<PortableKern>(version, X, M, K, Wp, N, bias, Y);
}

namespace {

using SgemmFn = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                         int64_t, float, float*, int64_t);

// Elements a row-major [rows, ld >= cols] operand needs: (rows-1)*ld + cols (0 when empty).
size_t need(int64_t rows, int64_t cols, int64_t ld) {
  return rows > 0 && cols > 0 ? static_cast<size_t>((rows - 1) * ld + cols) : 0;
}

// sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
Napi::Value Bind(const Napi::CallbackInfo& info, const char* name, SgemmFn fn) {
  Args a(info, name, 13);
  const bool tA = a.boolean(0, "transA"), tB = a.boolean(1, "transB");
  constexpr int64_t kMaxDim = (int64_t(1) << 31) - 1;
  const int64_t M = a.integer(2, "M", 0, kMaxDim), N = a.integer(3, "N", 0, kMaxDim);
  const int64_t K = a.integer(4, "K", 0, kMaxDim);
  const double alpha = a.number(5, "alpha");
  const int64_t lda = a.integer(7, "lda", 0, kMaxDim), ldb = a.integer(9, "ldb", 0, kMaxDim);
  const double beta = a.number(10, "beta");
  const int64_t ldc = a.integer(12, "ldc", 0, kMaxDim);
  // Stored shapes: A is [M, K] or (transA) [K, M]; B is [K, N] or (transB) [N, K]; C is [M, N].
  const int64_t aRows = tA ? K : M, aCols = tA ? M : K, bRows = tB ? N : K, bCols = tB ? K : N;
  auto ld_check = [&](const char* ld, int64_t v, int64_t cols, const char* what) {
    if (v < cols)
      a.range_error(std::string("argument '") + ld + "' = " + std::to_string(v) + " is less than the row width " +
                    std::to_string(cols) + " of " + what);
  };
  ld_check("lda", lda, aCols, tA ? "A ([K, M], transA)" : "A ([M, K])");
  ld_check("ldb", ldb, bCols, tB ? "B ([N, K], transB)" : "B ([K, N])");
  ld_check("ldc", ldc, N, "C ([M, N])");
  auto A = a.f32(6, "A", need(aRows, aCols, lda));
  auto B = a.f32(8, "B", need(bRows, bCols, ldb));
  auto C = a.f32(11, "C", need(M, N, ldc));
  fn(tA, tB, M, N, K, static_cast<float>(alpha), A.data, lda, B.data, ldb, static_cast<float>(beta), C.data, ldc);
  return info.Env().Undefined();
}

Napi::Value Sgemm(const Napi::CallbackInfo& info) { return Bind(info, "sgemm", &sgemm); }
Napi::Value SgemmV1(const Napi::CallbackInfo& info) { return Bind(info, "sgemmV1", &sgemm_v1); }
Napi::Value SgemmV2(const Napi::CallbackInfo& info) { return Bind(info, "sgemmV2", &sgemm_v2); }

MB_EXPORT("sgemm", Sgemm);
MB_EXPORT("sgemmV1", SgemmV1);
MB_EXPORT("sgemmV2", SgemmV2);

}  // namespace
}  // namespace mb
