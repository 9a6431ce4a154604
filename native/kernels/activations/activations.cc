// Activation kernels: exact GELU, GeGLU, tanh (forward and backward); bindings and portable paths.
//
// Sources: Hendrycks & Gimpel 2016, "Gaussian Error Linear Units" (exact erf form, PyTorch
// nn.GELU(approximate='none')); Shazeer 2020, "GLU Variants Improve Transformer" (GeGLU); MosaicBERT
// the reference's `BertGatedLinearUnitMLP` ( GELU on the FIRST half of the gated_layers output, times
// the SECOND half); tanh for the classification pooler (`BertPooler`). Contract: src/kernels/types.ts.
//
// All buffers are float32. Work is split into fixed chunks of CHUNK elements (GeGLU: fixed row blocks / row pieces),
// never derived from the thread count, and each element's result depends only on its inputs, so results are
// bit-identical for any thread count. The portable path evaluates GELU in float64 with std::erfc (nearly correctly
// rounded); the AVX2 path uses the float32 approximations of simd_math.h (~2e-7 relative).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/args.h"
#include "common/cpu.h"
#include "common/pool.h"
#include "common/registry.h"
#include "kernels/activations/activations.h"

namespace mb {
namespace act {
namespace {

constexpr int64_t CHUNK = 16384;  // elements per task (64 KiB of float32 per operand)
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

// Runs fn(begin, end) over [0, n) in fixed chunks, in parallel.
template <typename Fn>
void for_chunks(int64_t n, Fn fn) {
  int64_t tasks = (n + CHUNK - 1) / CHUNK;
  parallel_for(tasks, [&](int64_t t, int) { fn(t * CHUNK, std::min(n, (t + 1) * CHUNK)); });
}

// Runs fn(row, c0, c1) over a [rows, I] index space in fixed pieces: whole rows grouped up to ~CHUNK elements, or
// rows split into CHUNK-column pieces when I > CHUNK.
template <typename Fn>
void for_row_pieces(int64_t rows, int64_t I, Fn fn) {
  if (rows <= 0 || I <= 0) return;
  if (I > CHUNK) {
    int64_t per = (I + CHUNK - 1) / CHUNK;
    parallel_for(rows * per, [&](int64_t t, int) {
      int64_t r = t / per, c0 = (t % per) * CHUNK;
      fn(r, c0, std::min(I, c0 + CHUNK));
    });
  } else {
    int64_t rb = CHUNK / I;  // >= 1
    parallel_for((rows + rb - 1) / rb, [&](int64_t t, int) {
      for (int64_t r = t * rb, e = std::min(rows, (t + 1) * rb); r < e; ++r) fn(r, 0, I);
    });
  }
}

// float64 GELU pieces for the portable path: h = 1 + erf(x/sqrt2) = erfc(-x/sqrt2) (no cancellation for x < 0).
inline double gelu_h(double x) { return std::erfc(-x * kInvSqrt2); }
inline float gelu_p(float x) {
  double xd = x;
  return static_cast<float>(0.5 * xd * gelu_h(xd));
}
inline double gelu_grad_p(double x) { return 0.5 * gelu_h(x) + x * std::exp(-0.5 * x * x) * kInvSqrt2Pi; }

void gelu_fwd_portable(const float* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gelu_p(x[i]);
}
void gelu_bwd_portable(const float* x, const float* dy, int64_t n, float* dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] = static_cast<float>(dy[i] * gelu_grad_p(x[i]));
}
void geglu_fwd_portable(const float* a, const float* b, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gelu_p(a[i]) * b[i];
}
void geglu_bwd_portable(const float* a, const float* b, const float* dy, int64_t n, float* da, float* db) {
  for (int64_t i = 0; i < n; ++i) {
    float av = a[i], bv = b[i], d = dy[i];
    float g = gelu_p(av);
    da[i] = static_cast<float>((d * bv) * gelu_grad_p(av));
    db[i] = d * g;
  }
}
void tanh_fwd_portable(const float* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = std::tanh(x[i]);
}
void tanh_bwd_portable(const float* y, const float* dy, int64_t n, float* dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

constexpr int64_t kMaxDim = int64_t(1) << 40;

// geluForward(x, n, out)
Napi::Value GeluForward(const Napi::CallbackInfo& info) {
  Args a(info, "geluForward", 3);
  int64_t n = a.integer(1, "n", 0, kMaxDim);
  auto x = a.f32(0, "x", n);
  auto out = a.f32(2, "out", n);
  bool v = use_avx2();
  for_chunks(n, [&](int64_t b, int64_t e) {
    if (v) gelu_fwd_avx2(x.data + b, e - b, out.data + b);
    else gelu_fwd_portable(x.data + b, e - b, out.data + b);
  });
  return info.Env().Undefined();
}

// geluBackward(x, dOut, n, dX)
Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "geluBackward", 4);
  int64_t n = a.integer(2, "n", 0, kMaxDim);
  auto x = a.f32(0, "x", n);
  auto dy = a.f32(1, "dOut", n);
  auto dx = a.f32(3, "dX", n);
  bool v = use_avx2();
  for_chunks(n, [&](int64_t b, int64_t e) {
    if (v) gelu_bwd_avx2(x.data + b, dy.data + b, e - b, dx.data + b);
    else gelu_bwd_portable(x.data + b, dy.data + b, e - b, dx.data + b);
  });
  return info.Env().Undefined();
}

// gegluForward(x, rows, I, out): x [rows, 2I], out [rows, I]
Napi::Value GegluForward(const Napi::CallbackInfo& info) {
  Args a(info, "gegluForward", 4);
  int64_t rows = a.integer(1, "rows", 0, kMaxDim);
  int64_t I = a.integer(2, "I", 0, kMaxDim);
  auto x = a.f32(0, "x", a.elems({rows, 2, I}, "rows * 2I"));
  auto out = a.f32(3, "out", a.elems({rows, I}, "rows * I"));
  bool v = use_avx2();
  for_row_pieces(rows, I, [&](int64_t r, int64_t c0, int64_t c1) {
    const float* g = x.data + r * 2 * I + c0;
    float* o = out.data + r * I + c0;
    if (v) geglu_fwd_avx2(g, g + I, c1 - c0, o);
    else geglu_fwd_portable(g, g + I, c1 - c0, o);
  });
  return info.Env().Undefined();
}

// gegluBackward(x, dOut, rows, I, dX): dX [rows, 2I]
Napi::Value GegluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "gegluBackward", 5);
  int64_t rows = a.integer(2, "rows", 0, kMaxDim);
  int64_t I = a.integer(3, "I", 0, kMaxDim);
  const size_t n2 = a.elems({rows, 2, I}, "rows * 2I");
  auto x = a.f32(0, "x", n2);
  auto dy = a.f32(1, "dOut", a.elems({rows, I}, "rows * I"));
  auto dx = a.f32(4, "dX", n2);
  bool v = use_avx2();
  for_row_pieces(rows, I, [&](int64_t r, int64_t c0, int64_t c1) {
    const float* g = x.data + r * 2 * I + c0;
    const float* d = dy.data + r * I + c0;
    float* o = dx.data + r * 2 * I + c0;
    if (v) geglu_bwd_avx2(g, g + I, d, c1 - c0, o, o + I);
    else geglu_bwd_portable(g, g + I, d, c1 - c0, o, o + I);
  });
  return info.Env().Undefined();
}

// tanhForward(x, n, out)
Napi::Value TanhForward(const Napi::CallbackInfo& info) {
  Args a(info, "tanhForward", 3);
  int64_t n = a.integer(1, "n", 0, kMaxDim);
  auto x = a.f32(0, "x", n);
  auto out = a.f32(2, "out", n);
  bool v = use_avx2();
  for_chunks(n, [&](int64_t b, int64_t e) {
    if (v) tanh_fwd_avx2(x.data + b, e - b, out.data + b);
    else tanh_fwd_portable(x.data + b, e - b, out.data + b);
  });
  return info.Env().Undefined();
}

// tanhBackward(y, dOut, n, dX)
Napi::Value TanhBackward(const Napi::CallbackInfo& info) {
  Args a(info, "tanhBackward", 4);
  int64_t n = a.integer(2, "n", 0, kMaxDim);
  auto y = a.f32(0, "y", n);
  auto dy = a.f32(1, "dOut", n);
  auto dx = a.f32(3, "dX", n);
  bool v = use_avx2();
  for_chunks(n, [&](int64_t b, int64_t e) {
    if (v) tanh_bwd_avx2(y.data + b, dy.data + b, e - b, dx.data + b);
    else tanh_bwd_portable(y.data + b, dy.data + b, e - b, dx.data + b);
  });
  return info.Env().Undefined();
}

// erfFloat32(x, n, out): test hook, erf through the current kernel path (AVX2: simd_math.h approximation;
// portable: std::erf in float64, rounded).
Napi::Value ErfFloat32(const Napi::CallbackInfo& info) {
  Args a(info, "erfFloat32", 3);
  int64_t n = a.integer(1, "n", 0, kMaxDim);
  auto x = a.f32(0, "x", n);
  auto out = a.f32(2, "out", n);
  bool v = use_avx2();
  for_chunks(n, [&](int64_t b, int64_t e) {
    if (v) erf_avx2(x.data + b, e - b, out.data + b);
    else
      for (int64_t i = b; i < e; ++i) out.data[i] = static_cast<float>(std::erf(static_cast<double>(x.data[i])));
  });
  return info.Env().Undefined();
}

MB_EXPORT("geluForward", GeluForward);
MB_EXPORT("geluBackward", GeluBackward);
MB_EXPORT("gegluForward", GegluForward);
MB_EXPORT("gegluBackward", GegluBackward);
MB_EXPORT("tanhForward", TanhForward);
MB_EXPORT("tanhBackward", TanhBackward);
MB_EXPORT("erfFloat32", ErfFloat32);

}  // namespace
}  // namespace act
}  // namespace mb
