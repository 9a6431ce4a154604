// Argument parsing shared by the bindings of the row-stored inference linears (sparseLinearForward[V1-V4] in
// sparse_linear.cc, q8LinearForwardV3 in ../quant/qlinear_bind.cc):
//   (kind, out, in, rowptr | null, idx | null, vals, wscale | null, bias | null, X, rows, Y)
// kind: 'csr' | 'bsr4' | 'q8-bsr4' | 'q8-dense'; vals: Float32Array (csr, bsr4) or Uint8Array holding the int8
// bytes (q8-*); wscale: Float32Array[out] (q8-*). Checks every size, rowptr (starts at 0, non-decreasing, ends
// within idx) and every index (in range), so a malformed structure is a RangeError naming the argument, never an
// out-of-bounds read. Entries of a row need not be sorted. Internal linkage (included by each binding).
#pragma once
#include <algorithm>
#include <string>

#include "common/args.h"
#include "kernels/sparse/sparse_linear.h"

namespace mb {
namespace {

constexpr int64_t kMaxLinearDim = (int64_t(1) << 31) - 1;

// The parsed call: the weights as the kernels see them, and X [rows, in] -> Y [rows, out].
struct LinearCall {
  SparseLinear L{};
  const float* X = nullptr;
  float* Y = nullptr;
  int64_t rows = 0;
};

// q8_only: the binding takes the two int8 kinds only (q8LinearForwardV3).
inline SparseKind parse_linear_kind(const Args& a, const Napi::Value& v, bool q8_only) {
  const std::string allowed = q8_only ? "'q8-dense' or 'q8-bsr4'" : "'csr', 'bsr4', 'q8-bsr4' or 'q8-dense'";
  if (!v.IsString()) a.type_error("argument 'kind' must be " + allowed);
  const std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "q8-bsr4") return SparseKind::kQ8Bsr4;
  if (s == "q8-dense") return SparseKind::kQ8Dense;
  if (!q8_only && s == "csr") return SparseKind::kCsr;
  if (!q8_only && s == "bsr4") return SparseKind::kBsr4;
  a.range_error("argument 'kind' = '" + s + "' is not " + allowed);
}

inline LinearCall parse_linear_call(const Args& a, const Napi::CallbackInfo& info, bool q8_only) {
  LinearCall c;
  SparseLinear& L = c.L;
  L.kind = parse_linear_kind(a, info[0], q8_only);
  L.out = a.integer(1, "out", 0, kMaxLinearDim);
  L.in = a.integer(2, "in", 0, kMaxLinearDim - 3);
  L.in_pad = (L.in + 3) / 4 * 4;
  const bool q8 = L.kind == SparseKind::kQ8Bsr4 || L.kind == SparseKind::kQ8Dense;
  const bool bsr = L.kind == SparseKind::kBsr4 || L.kind == SparseKind::kQ8Bsr4;
  const int64_t per = bsr ? 4 : 1;  // values per stored entry
  size_t nnz = 0;
  if (L.kind != SparseKind::kQ8Dense) {
    auto rp = a.i32(3, "rowptr", static_cast<size_t>(L.out + 1));
    const int32_t* r = rp.data;
    if (r[0] != 0) a.range_error("rowptr[0] = " + std::to_string(r[0]) + ", must be 0");
    bool mono = true;
    for (int64_t o = 0; o < L.out; ++o) mono &= r[o + 1] >= r[o];
    if (!mono) a.range_error("rowptr must be non-decreasing");
    nnz = static_cast<size_t>(r[L.out]);
    auto ix = a.i32(4, "idx", nnz);
    const int64_t limit = bsr ? L.in_pad / 4 : L.in;  // block columns or columns
    int32_t lo = 0, hi = 0;
    for (size_t p = 0; p < nnz; ++p) {
      lo = std::min(lo, ix.data[p]);
      hi = std::max(hi, ix.data[p]);
    }
    if (nnz > 0 && (lo < 0 || hi >= limit))
      a.range_error(std::string("an index in 'idx' is outside [0, ") + std::to_string(limit) + ")" +
                    (bsr ? " (block columns: ceil(in / 4))" : ""));
    L.rowptr = r;
    L.idx = ix.data;
  } else {
    nnz = a.elems({L.out, L.in_pad / 4}, "out * in_pad / 4");
  }
  const size_t nvals = a.elems({static_cast<int64_t>(nnz), per * (L.kind == SparseKind::kQ8Dense ? 4 : 1)}, "values");
  if (q8) {
    L.vals = a.u8(5, "vals", nvals).data;
    L.wscale = a.f32(6, "wscale", static_cast<size_t>(L.out)).data;
  } else {
    L.vals = a.f32(5, "vals", nvals).data;
  }
  L.bias = a.f32_or_null(7, "bias", static_cast<size_t>(L.out)).data;
  c.rows = a.integer(9, "rows", 0, kMaxLinearDim);
  c.X = a.f32(8, "X", a.elems({c.rows, L.in}, "rows * in")).data;
  c.Y = a.f32(10, "Y", a.elems({c.rows, L.out}, "rows * out")).data;
  return c;
}

// in == 0: no products, Y = bias (or 0). Returns whether it handled the call.
inline bool linear_bias_only(const LinearCall& c) {
  if (c.L.in != 0) return false;
  for (int64_t t = 0; t < c.rows; ++t)
    for (int64_t o = 0; o < c.L.out; ++o) c.Y[t * c.L.out + o] = c.L.bias ? c.L.bias[o] : 0.0f;
  return true;
}

}  // namespace
}  // namespace mb
