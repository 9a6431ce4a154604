// Bindings of the pre-packed inference linear (sgemm_prepacked.h): W [out, in] packed once into the SGEMM v2
// B-panel layout of the current kernel path, then Y[rows, out] = X[rows, in] @ W^T + bias with no per-call packing
// of W. The packed buffer is a Float32Array owned by JS (src/kernels/linear_backends.ts); it is only valid for
// the path that packed it (the panel width differs), which the forward checks.
//   linearPackedSize(out, in) -> floats                  for the current path
//   linearPack(W, out, in, packed) -> path               ('avx2' | 'portable'), the path the layout is for
//   linearPackedForward(packed, path, out, in, bias | null, X, rows, Y)     the winner (v2)
//   linearPackedForwardV1 / V2                                              numbered versions (tests, bench)
//   alignOffset64(buf) -> elements of buf to skip so that buf.subarray(n) starts on a 64-byte boundary
// The micro-kernel and the packer use aligned vector loads/stores on the panels, so `packed` must start on a
// 64-byte boundary: allocate 16 floats more and pass packed.subarray(alignOffset64(buffer)) (a large typed array's
// memory never moves, so the offset stays valid).
#include <cstdint>
#include <string>

#include "common/args.h"
#include "common/cpu.h"
#include "common/registry.h"
#include "kernels/gemm/sgemm.h"

namespace mb {
namespace {

constexpr int64_t kMaxDim = (int64_t(1) << 31) - 1;

void check_aligned(const Args& a, const void* p) {
  if (reinterpret_cast<uintptr_t>(p) % 64 != 0)
    a.range_error("argument 'packed' must start on a 64-byte boundary (use packed.subarray(alignOffset64(packed)))");
}

// alignOffset64(buf: any typed array) -> elements to skip
Napi::Value AlignOffset(const Napi::CallbackInfo& info) {
  Args a(info, "alignOffset64", 1);
  if (!info[0].IsTypedArray()) a.type_error("argument 'buf' must be a typed array");
  auto t = info[0].As<Napi::TypedArray>();
  const size_t esize = t.ElementSize();
  const uintptr_t addr = reinterpret_cast<uintptr_t>(static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset());
  const uintptr_t skip = (64 - addr % 64) % 64;
  if (skip % esize != 0) a.range_error("argument 'buf' is not aligned to its element size");
  return Napi::Number::New(info.Env(), static_cast<double>(skip / esize));
}

Napi::Value Size(const Napi::CallbackInfo& info) {
  Args a(info, "linearPackedSize", 2);
  const int64_t out = a.integer(0, "out", 0, kMaxDim), in = a.integer(1, "in", 0, kMaxDim);
  a.elems({out + 64, in}, "out * in");
  return Napi::Number::New(info.Env(), static_cast<double>(linear_packed_floats(out, in)));
}

Napi::Value Pack(const Napi::CallbackInfo& info) {
  Args a(info, "linearPack", 4);
  const int64_t out = a.integer(1, "out", 0, kMaxDim), in = a.integer(2, "in", 0, kMaxDim);
  auto W = a.f32(0, "W", a.elems({out, in}, "out * in"));
  auto P = a.f32(3, "packed", static_cast<size_t>(linear_packed_floats(out, in)));
  check_aligned(a, P.data);
  linear_pack_w(W.data, out, in, P.data);
  return Napi::String::New(info.Env(), kernel_path());
}

Napi::Value Forward(const Napi::CallbackInfo& info, const char* name, int version) {
  Args a(info, name, 8);
  const int64_t out = a.integer(2, "out", 0, kMaxDim), in = a.integer(3, "in", 0, kMaxDim);
  if (!info[1].IsString()) a.type_error("argument 'path' must be the string linearPack returned");
  const std::string path = info[1].As<Napi::String>().Utf8Value();
  if (path != kernel_path())
    a.range_error("weights were packed for the '" + path + "' kernel path but the current path is '" +
                  kernel_path() + "'; pack them again");
  auto P = a.f32(0, "packed", static_cast<size_t>(linear_packed_floats(out, in)));
  check_aligned(a, P.data);
  auto bias = a.f32_or_null(4, "bias", static_cast<size_t>(out));
  const int64_t rows = a.integer(6, "rows", 0, kMaxDim);
  auto X = a.f32(5, "X", a.elems({rows, in}, "rows * in"));
  auto Y = a.f32(7, "Y", a.elems({rows, out}, "rows * out"));
  linear_packed(version, X.data, rows, in, P.data, out, bias.data, Y.data);
  return info.Env().Undefined();
}

Napi::Value Fwd(const Napi::CallbackInfo& info) { return Forward(info, "linearPackedForward", 2); }
Napi::Value FwdV1(const Napi::CallbackInfo& info) { return Forward(info, "linearPackedForwardV1", 1); }
Napi::Value FwdV2(const Napi::CallbackInfo& info) { return Forward(info, "linearPackedForwardV2", 2); }

MB_EXPORT("alignOffset64", AlignOffset);
MB_EXPORT("linearPackedSize", Size);
MB_EXPORT("linearPack", Pack);
MB_EXPORT("linearPackedForward", Fwd);
MB_EXPORT("linearPackedForwardV1", FwdV1);
MB_EXPORT("linearPackedForwardV2", FwdV2);

}  // namespace
}  // namespace mb
