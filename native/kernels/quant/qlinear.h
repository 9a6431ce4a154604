// INT8 dynamic-quantization linears (dense and 1x4 BSR), Y[rows, out] = X[rows, in] @ W^T + bias with W stored as
// int8 per output channel and X quantized per token at run time; storage and formulas in
// ../sparse/sparse_linear.h, the token-tiled driver in ../sparse/tiled_driver.h. The int32 sums are exact (no
// overflow while in <= 133,000: 127 * 127 * in < 2^31), so both paths and every thread count give the same sums;
// only the dequantization differs (AVX2: one FMA, portable: multiply then add).
#pragma once
#include <cstdint>

#include "kernels/sparse/sparse_linear.h"

namespace mb {

void q8_linear_portable(const SparseLinear& L, const float* X, int64_t rows, float* Y);
// version 1: AVX2 sign trick; 2: AVX-512 VNNI when the CPU has it, else 1 (qlinear_avx2.cc); 3: AVX-512 VNNI
// register-blocked on zmm when the CPU has it, else 1 (qlinear_v3_avx2.cc).
void q8_linear_avx2(int version, const SparseLinear& L, const float* X, int64_t rows, float* Y);
// Version 3 alone (q8_linear_avx2(3, ...) calls it): runs and returns true when the CPU has AVX-512 VNNI, else
// returns false without touching Y. It uses L.row_corr when set (sparse_linear.h), else computes the corrections.
bool q8_linear_avx2_v3(const SparseLinear& L, const float* X, int64_t rows, float* Y);

}  // namespace mb
