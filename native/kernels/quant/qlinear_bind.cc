// Binding of the int8 linears' version 3 (qlinear_v3_avx2.cc): q8LinearForwardV3, with the argument and index
// checks of sparseLinearForward (../sparse/linear_args.h; sparseLinearForwardV1/V2 reach the int8 versions 1 and 2)
// for the two int8 kinds. The portable path has one version (qlinear.cc) and runs it here too.
#include "common/args.h"
#include "common/cpu.h"
#include "common/registry.h"
#include "kernels/quant/qlinear.h"
#include "kernels/sparse/linear_args.h"

namespace mb {
namespace {

// q8LinearForwardV3(kind 'q8-dense' | 'q8-bsr4', out, in, rowptr | null, idx | null, vals: Uint8Array (int8 bytes),
//   wscale: Float32Array[out], bias | null, X: Float32Array[rows * in], rows, Y: Float32Array[rows * out],
//   rowCorr: Int32Array[out] | null)
// The first 11 arguments and their checks are sparseLinearForward's (../sparse/linear_args.h).
// rowCorr[o] = 128 * (sum of row o's int8 weights), wrapped to int32, computed once by the caller (Int8Linear);
// null: the kernel computes it per call. A wrong rowCorr gives wrong Y, never an out-of-bounds access.
Napi::Value ForwardV3(const Napi::CallbackInfo& info) {
  Args a(info, "q8LinearForwardV3", 12);
  LinearCall c = parse_linear_call(a, info, true);
  if (!info[11].IsNull() && !info[11].IsUndefined()) c.L.row_corr = a.i32(11, "rowCorr", static_cast<size_t>(c.L.out)).data;
  if (linear_bias_only(c)) return info.Env().Undefined();
  if (use_avx2())
    q8_linear_avx2(3, c.L, c.X, c.rows, c.Y);  // v3 with VNNI, else v1
  else
    q8_linear_portable(c.L, c.X, c.rows, c.Y);
  return info.Env().Undefined();
}

MB_EXPORT("q8LinearForwardV3", ForwardV3);

}  // namespace
}  // namespace mb
