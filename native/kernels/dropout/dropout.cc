// Inverted dropout, forward and backward: bindings and the portable path.
//
// Sources: Srivastava et al. 2014 (dropout), PyTorch nn.Dropout (inverted: kept elements scaled by 1/(1-p));
// MosaicBERT placement (the reference's `BertEmbeddings`: after the embedding LayerNorm; `BertSelfOutput`: before the attention
// output residual, `BertGatedLinearUnitMLP` on GELU(gate) * value before `wo`, `BertForSequenceClassification` on the pooled output; hidden_dropout_prob 0.1).
// Contract: src/kernels/types.ts (dropoutForward / dropoutBackward).
//
// x, out, dOut, dX: float32 [n]; mask: Uint8Array [n] of 0/1. keep_i = philoxUniform(seed, stream, i) >= float32(p)
// (Philox4x32-10, common/philox.h), out_i = keep_i ? x_i * float32(1/(1-p)) : 0. Each decision is a pure function of
// (seed, stream, i), so masks and outputs are the same for any thread count and either kernel path. p = 0 copies x
// (mask all ones); p must be in [0, 1).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "common/args.h"
#include "common/cpu.h"
#include "common/philox.h"
#include "common/pool.h"
#include "common/registry.h"
#include "kernels/dropout/dropout.h"

namespace mb {
namespace drop {

void fwd_portable(const float* x, float* out, uint8_t* mask, uint64_t seed, uint64_t stream, uint32_t thresh,
                  float scale, int64_t i0, int64_t i1) {
  int64_t i = i0;
  while (i < i1) {
    const uint64_t blk = static_cast<uint64_t>(i) >> 2;
    Philox4 w = philox4x32_10(static_cast<uint32_t>(blk), static_cast<uint32_t>(blk >> 32),
                              static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                              static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    for (int q = static_cast<int>(i & 3); q < 4 && i < i1; ++q, ++i) {
      const bool keep = (w.v[q] >> 8) >= thresh;
      out[i] = keep ? x[i] * scale : 0.0f;
      mask[i] = keep ? 1 : 0;
    }
  }
}

void bwd_portable(const float* dy, const uint8_t* mask, float scale, float* dx, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}

namespace {

constexpr int64_t kMaxN = int64_t(1) << 46;
constexpr int64_t CHUNK = 16384;  // elements per task; a multiple of 32 (the AVX2 generator's step)
constexpr int64_t kMaxKey = int64_t(1) << 53;

template <typename Fn>
void for_chunks(int64_t n, Fn fn) {
  parallel_for((n + CHUNK - 1) / CHUNK, [&](int64_t t, int) { fn(t * CHUNK, std::min(n, (t + 1) * CHUNK)); });
}

double check_p(const Args& a, size_t i) {
  double p = a.number(i, "p");
  if (!(p >= 0.0 && p < 1.0)) a.range_error("argument 'p' = " + std::to_string(p) + " must be in [0, 1)");
  return p;
}

// dropoutForward(x, n, p, seed, stream, out, mask)
Napi::Value DropoutForward(const Napi::CallbackInfo& info) {
  Args a(info, "dropoutForward", 7);
  int64_t n = a.integer(1, "n", 0, kMaxN);
  double p = check_p(a, 2);
  uint64_t seed = static_cast<uint64_t>(a.integer(3, "seed", 0, kMaxKey));
  uint64_t stream = static_cast<uint64_t>(a.integer(4, "stream", 0, kMaxKey));
  auto x = a.f32(0, "x", n);
  auto out = a.f32(5, "out", n);
  auto mask = a.u8(6, "mask", n);
  const float pf = static_cast<float>(p);
  if (pf == 0.0f) {  // keeps everything (uniform >= 0): a copy
    for_chunks(n, [&](int64_t b, int64_t e) {
      if (out.data != x.data) std::memmove(out.data + b, x.data + b, (e - b) * sizeof(float));
      std::memset(mask.data + b, 1, e - b);
    });
    return info.Env().Undefined();
  }
  if (pf >= 1.0f) {  // p < 1 that rounds to 1 in float32: uniform < 1 is never >= 1, nothing kept
    for_chunks(n, [&](int64_t b, int64_t e) {
      std::fill(out.data + b, out.data + e, 0.0f);
      std::memset(mask.data + b, 0, e - b);
    });
    return info.Env().Undefined();
  }
  const uint32_t thresh = static_cast<uint32_t>(std::ceil(static_cast<double>(pf) * 16777216.0));  // <= 2^24 - 1
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  const bool v = use_avx2();
  for_chunks(n, [&](int64_t b, int64_t e) {
    if (v) fwd_avx2(x.data, out.data, mask.data, seed, stream, thresh, scale, b, e);
    else fwd_portable(x.data, out.data, mask.data, seed, stream, thresh, scale, b, e);
  });
  return info.Env().Undefined();
}

// dropoutBackward(dOut, mask, n, p, dX)
Napi::Value DropoutBackward(const Napi::CallbackInfo& info) {
  Args a(info, "dropoutBackward", 5);
  int64_t n = a.integer(2, "n", 0, kMaxN);
  double p = check_p(a, 3);
  auto dy = a.f32(0, "dOut", n);
  auto mask = a.u8(1, "mask", n);
  auto dx = a.f32(4, "dX", n);
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  const bool v = use_avx2();
  for_chunks(n, [&](int64_t b, int64_t e) {
    if (v) bwd_avx2(dy.data, mask.data, scale, dx.data, b, e);
    else bwd_portable(dy.data, mask.data, scale, dx.data, b, e);
  });
  return info.Env().Undefined();
}

MB_EXPORT("dropoutForward", DropoutForward);
MB_EXPORT("dropoutBackward", DropoutBackward);

}  // namespace
}  // namespace drop
}  // namespace mb
