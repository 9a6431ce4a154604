// Sparse and int8 inference linears, Y[rows, out] = X[rows, in] @ W^T + bias (storage and math in
// sparse_linear.h; the token-tiled driver in tiled_driver.h). This file holds the JS binding with its argument and
// index checks, and the portable fp32 kernels (CSR and 1x4 BSR); the AVX2+FMA fp32 kernels are in
// sparse_linear_avx2.cc, the int8 kernels in ../quant/.
//
// Arithmetic of the fp32 kernels (both paths): a row's entries are split by parity (even entries into one set of
// TT accumulators, odd into another, which keeps 8 independent FMA chains in flight on AVX2), each set sums its
// entries in storage order (a 1x4 block as its 4 products in column order), then y = (even + odd) + bias.
// The AVX2 path fuses each multiply-add (FMA), the portable path rounds the product and the sum separately, so the
// two paths agree to rounding, not bit for bit; each is bit-identical for any thread count.
#include "kernels/sparse/sparse_linear.h"

#include <string>

#include "common/args.h"
#include "common/cpu.h"
#include "common/registry.h"
#include "kernels/quant/qlinear.h"
#include "kernels/sparse/linear_args.h"
#include "kernels/sparse/tiled_driver.h"

namespace mb {
namespace {

constexpr int64_t TT = 32;

template <bool kBsr>
struct PortableF32 {
  static constexpr int64_t TT = mb::TT;
  static constexpr int64_t kScratchPerRow = TT;
  static int64_t tile_bytes(const SparseLinear& L) { return L.in_pad * TT * 4; }
  static void prep(const SparseLinear& L, const float* X, int64_t t0, int64_t nt, uint8_t* tile, float*) {
    prep_transpose<TT>(L, X, t0, nt, reinterpret_cast<float*>(tile));
  }
  // acc[t] += v * x[t] for one entry (CSR: one value; BSR: the block's 4 values over 4 consecutive Xt rows).
  static inline void entry(const float* __restrict xt, const float* __restrict vals, const int32_t* idx, int64_t p,
                           float* __restrict acc) {
    if (kBsr) {
      const float* x = xt + static_cast<int64_t>(idx[p]) * 4 * TT;
      const float* v = vals + 4 * p;
      for (int q = 0; q < 4; ++q)
        for (int64_t t = 0; t < TT; ++t) acc[t] += v[q] * x[q * TT + t];
    } else {
      const float* x = xt + static_cast<int64_t>(idx[p]) * TT;
      const float v = vals[p];
      for (int64_t t = 0; t < TT; ++t) acc[t] += v * x[t];
    }
  }
  static void compute(const SparseLinear& L, int64_t o0, int64_t o1, const uint8_t* tile, float* yt) {
    const float* xt = reinterpret_cast<const float*>(tile);
    const float* vals = static_cast<const float*>(L.vals);
    for (int64_t o = o0; o < o1; ++o) {
      float a[TT] = {}, b[TT] = {};
      int64_t p = L.rowptr[o];
      const int64_t e = L.rowptr[o + 1];
      for (; p + 2 <= e; p += 2) {
        entry(xt, vals, L.idx, p, a);
        entry(xt, vals, L.idx, p + 1, b);
      }
      if (p < e) entry(xt, vals, L.idx, p, a);
      float* y = yt + (o - o0) * TT;
      for (int64_t t = 0; t < TT; ++t) y[t] = a[t] + b[t];
    }
  }
  static void store(const SparseLinear& L, int64_t o0, int64_t o1, int64_t t0, int64_t nt, const float* yt,
                    const float*, float* Y) {
    store_f32<TT>(L, o0, o1, t0, nt, yt, Y);
  }
};

}  // namespace

void sparse_linear_portable(const SparseLinear& L, const float* X, int64_t rows, float* Y) {
  if (L.kind == SparseKind::kBsr4)
    tiled_linear<PortableF32<true>>(L, X, rows, Y);
  else
    tiled_linear<PortableF32<false>>(L, X, rows, Y);
}

namespace {

// sparseLinearForward[V1|V2|V3|V4](kind, out, in, rowptr | null, idx | null, vals, wscale | null, bias | null, X, rows, Y)
//   (arguments and their checks: linear_args.h; V1 - V4: numbered versions of the AVX2 kernels: fp32 row walk /
//   K-blocked / K-blocked with chunk tasks and weight prefetch / row walk with a lighter Xt prefetch
//   (sparse_linear_avx2.cc); int8 sign trick / AVX-512 VNNI when the CPU has it / (V3, V4) the int8 v3 with its row
//   corrections computed per call (Int8Linear calls q8LinearForwardV3 with them precomputed); the plain name runs
//   the fp32 winner, v4, and the int8 v3)
Napi::Value Forward(const Napi::CallbackInfo& info, const char* name, int version) {
  Args a(info, name, 11);
  const LinearCall c = parse_linear_call(a, info, false);
  if (linear_bias_only(c)) return info.Env().Undefined();
  const bool q8 = c.L.kind == SparseKind::kQ8Bsr4 || c.L.kind == SparseKind::kQ8Dense;
  if (q8 && use_avx2())
    q8_linear_avx2(version, c.L, c.X, c.rows, c.Y);
  else if (q8)
    q8_linear_portable(c.L, c.X, c.rows, c.Y);
  else if (use_avx2())
    sparse_linear_avx2(version, c.L, c.X, c.rows, c.Y);
  else
    sparse_linear_portable(c.L, c.X, c.rows, c.Y);
  return info.Env().Undefined();
}

Napi::Value Fwd(const Napi::CallbackInfo& info) { return Forward(info, "sparseLinearForward", 4); }
Napi::Value FwdV1(const Napi::CallbackInfo& info) { return Forward(info, "sparseLinearForwardV1", 1); }
Napi::Value FwdV2(const Napi::CallbackInfo& info) { return Forward(info, "sparseLinearForwardV2", 2); }
Napi::Value FwdV3(const Napi::CallbackInfo& info) { return Forward(info, "sparseLinearForwardV3", 3); }
Napi::Value FwdV4(const Napi::CallbackInfo& info) { return Forward(info, "sparseLinearForwardV4", 4); }

MB_EXPORT("sparseLinearForward", Fwd);
MB_EXPORT("sparseLinearForwardV1", FwdV1);
MB_EXPORT("sparseLinearForwardV2", FwdV2);
MB_EXPORT("sparseLinearForwardV3", FwdV3);
MB_EXPORT("sparseLinearForwardV4", FwdV4);

}  // namespace
}  // namespace mb
