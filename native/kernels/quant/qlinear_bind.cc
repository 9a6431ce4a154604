// Binding of the int8 linears' version 3 (qlinear_v3_avx2.cc): q8LinearForwardV3, with the argument and index
// checks of sparseLinearForward (../sparse/sparse_linear.cc, whose numbered entry points V1/V2 reach the int8
// versions 1 and 2) for the two int8 kinds. The portable path has one version (qlinear.cc) and runs it here too.
#include <algorithm>
#include <string>

#include "common/args.h"
#include "common/cpu.h"
#include "common/registry.h"
#include "kernels/quant/qlinear.h"

namespace mb {
namespace {

constexpr int64_t kMaxDim = (int64_t(1) << 31) - 1;

// q8LinearForwardV3(kind 'q8-dense' | 'q8-bsr4', out, in, rowptr | null, idx | null, vals: Uint8Array (int8 bytes),
//   wscale: Float32Array[out], bias | null, X: Float32Array[rows * in], rows, Y: Float32Array[rows * out],
//   rowCorr: Int32Array[out] | null)
// rowCorr[o] = 128 * (sum of row o's int8 weights), wrapped to int32, computed once by the caller (Int8Linear);
// null: the kernel computes it per call. A wrong rowCorr gives wrong Y, never an out-of-bounds access.
// Storage as ../sparse/sparse_linear.h. rowptr must start at 0, be non-decreasing and end within idx; every block
// column in idx must be in [0, ceil(in / 4)): a malformed structure is a RangeError, never an out-of-bounds read.
Napi::Value ForwardV3(const Napi::CallbackInfo& info) {
  Args a(info, "q8LinearForwardV3", 12);
  SparseLinear L{};
  if (!info[0].IsString()) a.type_error("argument 'kind' must be 'q8-dense' or 'q8-bsr4'");
  const std::string kind = info[0].As<Napi::String>().Utf8Value();
  if (kind == "q8-dense")
    L.kind = SparseKind::kQ8Dense;
  else if (kind == "q8-bsr4")
    L.kind = SparseKind::kQ8Bsr4;
  else
    a.range_error("argument 'kind' = '" + kind + "' is not 'q8-dense' or 'q8-bsr4'");
  L.out = a.integer(1, "out", 0, kMaxDim);
  L.in = a.integer(2, "in", 0, kMaxDim - 3);
  L.in_pad = (L.in + 3) / 4 * 4;
  size_t nblocks = 0;
  if (L.kind == SparseKind::kQ8Bsr4) {
    auto rp = a.i32(3, "rowptr", static_cast<size_t>(L.out + 1));
    const int32_t* r = rp.data;
    if (r[0] != 0) a.range_error("rowptr[0] = " + std::to_string(r[0]) + ", must be 0");
    bool mono = true;
    for (int64_t o = 0; o < L.out; ++o) mono &= r[o + 1] >= r[o];
    if (!mono) a.range_error("rowptr must be non-decreasing");
    nblocks = static_cast<size_t>(r[L.out]);
    auto ix = a.i32(4, "idx", nblocks);
    const int64_t limit = L.in_pad / 4;
    int32_t lo = 0, hi = 0;
    for (size_t p = 0; p < nblocks; ++p) {
      lo = std::min(lo, ix.data[p]);
      hi = std::max(hi, ix.data[p]);
    }
    if (nblocks > 0 && (lo < 0 || hi >= limit))
      a.range_error("an index in 'idx' is outside [0, " + std::to_string(limit) + ") (block columns: ceil(in / 4))");
    L.rowptr = r;
    L.idx = ix.data;
  } else {
    nblocks = a.elems({L.out, L.in_pad / 4}, "out * in_pad / 4");
  }
  L.vals = a.u8(5, "vals", a.elems({static_cast<int64_t>(nblocks), 4}, "values")).data;
  L.wscale = a.f32(6, "wscale", static_cast<size_t>(L.out)).data;
  L.bias = a.f32_or_null(7, "bias", static_cast<size_t>(L.out)).data;
  const int64_t rows = a.integer(9, "rows", 0, kMaxDim);
  const float* X = a.f32(8, "X", a.elems({rows, L.in}, "rows * in")).data;
  float* Y = a.f32(10, "Y", a.elems({rows, L.out}, "rows * out")).data;
  const int32_t* row_corr = nullptr;
  if (!info[11].IsNull() && !info[11].IsUndefined()) row_corr = a.i32(11, "rowCorr", static_cast<size_t>(L.out)).data;
  if (L.in == 0) {  // no products: Y = bias
    for (int64_t t = 0; t < rows; ++t)
      for (int64_t o = 0; o < L.out; ++o) Y[t * L.out + o] = L.bias ? L.bias[o] : 0.0f;
    return info.Env().Undefined();
  }
  if (use_avx2()) {
    if (!q8_linear_avx2_v3(L, row_corr, X, rows, Y)) q8_linear_avx2(1, L, X, rows, Y);
  } else {
    q8_linear_portable(L, X, rows, Y);
  }
  return info.Env().Undefined();
}

MB_EXPORT("q8LinearForwardV3", ForwardV3);

}  // namespace
}  // namespace mb
