#include "common/registry.h"

#include <string>
#include <utility>
#include <vector>

namespace mb {

static std::vector<std::pair<std::string, Binding>>& registry() {
  static std::vector<std::pair<std::string, Binding>> r;
  return r;
}

Registrar::Registrar(const char* name, Binding fn) { registry().emplace_back(name, fn); }

void RegisterAll(Napi::Env env, Napi::Object exports) {
  for (auto& [name, fn] : registry()) exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace mb
