// The mosaicbert native addon: compute kernels for MosaicBERT on the CPU. Each kernel file under native/kernels
// registers its own bindings (MB_EXPORT); this file adds the runtime controls (threads, kernel path, Philox).
#include <napi.h>

#include <string>

#include "common/args.h"
#include "common/cpu.h"
#include "common/philox.h"
#include "common/pool.h"
#include "common/registry.h"

namespace mb {
namespace {

Napi::Value NumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), num_threads()); }

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Args a(info, "setNumThreads", 1);
  set_num_threads(static_cast<int>(a.integer(0, "n", 0, 256)));
  return Napi::Number::New(info.Env(), num_threads());
}

Napi::Value KernelPath(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kernel_path()); }

Napi::Value SetKernelPath(const Napi::CallbackInfo& info) {
  Args a(info, "setKernelPath", 1);
  if (!info[0].IsString()) a.type_error("argument 'path' must be 'avx2', 'portable' or 'auto'");
  std::string p = info[0].As<Napi::String>().Utf8Value();
  if (!set_kernel_path(p.c_str())) a.range_error("kernel path '" + p + "' is not available on this CPU or unknown");
  return Napi::String::New(info.Env(), kernel_path());
}

Napi::Value HasAvx2(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), cpu_has_avx2_fma()); }

// philoxUniform(out: Float32Array, seed, stream, start): out[i] = uniform(seed, stream, start + i). For tests.
Napi::Value PhiloxUniform(const Napi::CallbackInfo& info) {
  Args a(info, "philoxUniform", 4);
  auto out = a.f32(0, "out", 0);
  uint64_t seed = static_cast<uint64_t>(a.integer(1, "seed", 0, (int64_t(1) << 53)));
  uint64_t stream = static_cast<uint64_t>(a.integer(2, "stream", 0, (int64_t(1) << 53)));
  uint64_t start = static_cast<uint64_t>(a.integer(3, "start", 0, (int64_t(1) << 53)));
  for (size_t i = 0; i < out.len; ++i) out.data[i] = philox_uniform(seed, stream, start + i);
  return info.Env().Undefined();
}

MB_EXPORT("numThreads", NumThreads);
MB_EXPORT("setNumThreads", SetNumThreads);
MB_EXPORT("kernelPath", KernelPath);
MB_EXPORT("setKernelPath", SetKernelPath);
MB_EXPORT("hasAvx2", HasAvx2);
MB_EXPORT("philoxUniform", PhiloxUniform);

}  // namespace

}  // namespace mb

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  mb::RegisterAll(env, exports);
  return exports;
}

NODE_API_MODULE(mosaicbert, InitAddon)
