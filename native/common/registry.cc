#include "common/registry.h"

#include <new>
#include <string>
#include <vector>

#include "common/pool.h"

namespace mb {

static std::vector<const Registrar*>& registry() {
  static std::vector<const Registrar*> r;
  return r;
}

Registrar::Registrar(const char* n, Binding f) : name(n), fn(f) { registry().push_back(this); }

std::string describe_exception(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const TaskError& t) {
    return (t.cause() ? describe_exception(t.cause()) : std::string("failure")) + " in " + t.what();
  } catch (const std::bad_alloc&) {
    return "out of memory (bad_alloc)";
  } catch (const Napi::Error& err) {
    return err.Message();
  } catch (const std::exception& err) {
    return err.what();
  } catch (...) {
    return "unknown C++ exception";
  }
}

namespace {

// The JS-facing function of every binding: info.Data() is its Registrar.
Napi::Value Dispatch(const Napi::CallbackInfo& info) {
  const auto* r = static_cast<const Registrar*>(info.Data());
  try {
    return r->fn(info);
  } catch (const Napi::Error&) {
    throw;  // already a JS error (argument checks)
  } catch (const TaskError& t) {
    const std::exception_ptr self = std::current_exception();
    // A JS error raised inside a task (only possible on the calling thread) is rethrown as it was.
    if (t.cause()) {
      try {
        std::rethrow_exception(t.cause());
      } catch (const Napi::Error&) {
        throw;
      } catch (...) {
      }
    }
    throw Napi::Error::New(info.Env(), std::string("mosaicbert native ") + r->name + ": " + describe_exception(self));
  } catch (...) {
    throw Napi::Error::New(info.Env(), std::string("mosaicbert native ") + r->name + ": " +
                                           describe_exception(std::current_exception()));
  }
}

}  // namespace

void RegisterAll(Napi::Env env, Napi::Object exports) {
  for (const Registrar* r : registry())
    exports.Set(r->name, Napi::Function::New(env, Dispatch, r->name, const_cast<Registrar*>(r)));
}

}  // namespace mb
