// Registration of the addon's JS-visible functions. Each kernel file registers its own bindings with
// MB_EXPORT("jsName", Fn) at namespace scope, so adding a kernel never edits a shared file.
//
// Every binding is called through one dispatcher (registry.cc) that is also the single place where C++ failures
// become JS errors: a Napi::Error (the TypeError / RangeError of common/args.h) passes through unchanged; any
// other exception, including a pool task's failure (mb::TaskError, common/pool.h), becomes a JS Error whose
// message names the binding, e.g. "mosaicbert native sgemm: out of memory (bad_alloc) in task 3 of 8 on pool
// worker 1". Bindings therefore never catch exceptions themselves.
#pragma once
#include <napi.h>

#include <exception>
#include <string>

namespace mb {

using Binding = Napi::Value (*)(const Napi::CallbackInfo&);

struct Registrar {
  Registrar(const char* name, Binding fn);
  const char* name;
  Binding fn;
};

// Adds every registered binding to `exports` (called once from the module's Init).
void RegisterAll(Napi::Env env, Napi::Object exports);

// The message the dispatcher gives a C++ exception (without the "mosaicbert native <name>: " prefix):
// "out of memory (bad_alloc)", the what() of a std::exception, and for a TaskError the nested cause followed by
// " in task T of N on pool worker W" (or "on the calling thread").
std::string describe_exception(const std::exception_ptr& e);

}  // namespace mb

#define MB_CONCAT_(a, b) a##b
#define MB_CONCAT(a, b) MB_CONCAT_(a, b)
#define MB_EXPORT(name, fn) static ::mb::Registrar MB_CONCAT(mb_registrar_, __LINE__)(name, fn)
