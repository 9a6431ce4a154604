// Registration of the addon's JS-visible functions. Each kernel file registers its own bindings with
// MB_EXPORT("jsName", Fn) at namespace scope, so adding a kernel never edits a shared file.
#pragma once
#include <napi.h>

namespace mb {

using Binding = Napi::Value (*)(const Napi::CallbackInfo&);

struct Registrar {
  Registrar(const char* name, Binding fn);
};

// Adds every registered binding to `exports` (called once from the module's Init).
void RegisterAll(Napi::Env env, Napi::Object exports);

}  // namespace mb

#define MB_CONCAT_(a, b) a##b
#define MB_CONCAT(a, b) MB_CONCAT_(a, b)
#define MB_EXPORT(name, fn) static ::mb::Registrar MB_CONCAT(mb_registrar_, __LINE__)(name, fn)
