// Weights of the row-stored inference linears (CSR, 1x4 BSR along K, int8 dense, int8 1x4 BSR) as the kernels see
// them, and the entry points of both paths. Y[rows, out] = X[rows, in] @ W^T + bias (see tiled_driver.h).
//
// Storage (all row-major by output row o, entries of a row in increasing column order; built by
// src/kernels/linear_backends.ts):
//   CSR      rowptr[out + 1], idx[nnz] = column k, vals f32[nnz]
//   BSR4     rowptr[out + 1] (in blocks), idx[nb] = block column g: the block holds W[o, 4g .. 4g + 3] (columns past
//            `in` are zero), vals f32[4 nb]
//   Q8 BSR4  as BSR4 with vals int8[4 nb]; W[o, k] ~= wscale[o] * q
//   Q8 dense rowptr = idx = null, vals int8[out, in_pad] (in_pad = round_up(in, 4), zero-padded)
// int8 activations: per token t, sx = max_k |X[t, k]| / 127, q = round_half_even(X[t, k] * (127 / max)) in
// [-127, 127] (all float32; a zero row has sx = 0, q = 0); Y[t, o] = float(sum_k qx qw) * (sx * wscale[o]) + bias[o].
#pragma once
#include <cstdint>

namespace mb {

enum class SparseKind { kCsr, kBsr4, kQ8Bsr4, kQ8Dense };

struct SparseLinear {
  SparseKind kind;
  int64_t out, in, in_pad;  // in_pad = round_up(in, 4)
  const int32_t* rowptr;    // null for kQ8Dense
  const int32_t* idx;       // null for kQ8Dense
  const void* vals;         // float or int8_t
  const float* wscale;      // int8 kinds: per output row
  const float* bias;        // may be null
  // Int8 kinds, v3 only: row_corr[o] = 128 * sum_k q[o, k] (mod 2^32), the correction of the q + 128 activation
  // offset, computed once by the caller (Int8Linear); null: the kernel computes it per row and tile.
  const int32_t* row_corr = nullptr;
};

// Y[rows, out] = X @ W^T + bias on the given path.
void sparse_linear_portable(const SparseLinear& L, const float* X, int64_t rows, float* Y);
// version: numbered versions of the AVX2 fp32 kernels (1: row-major walk, 2: K-blocked, 3: K-blocked with chunk
// tasks and weight prefetch, 4: row walk with a one-line Xt prefetch, the winner; sparse_linear_avx2.cc).
void sparse_linear_avx2(int version, const SparseLinear& L, const float* X, int64_t rows, float* Y);

}  // namespace mb
