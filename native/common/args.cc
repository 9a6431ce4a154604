#include "common/args.h"

namespace mb {

Args::Args(const Napi::CallbackInfo& info, const char* fn, size_t nargs) : info_(info), fn_(fn) {
  if (info.Length() != nargs)
    type_error("expects " + std::to_string(nargs) + " arguments, got " + std::to_string(info.Length()));
}

void Args::range_error(const std::string& msg) const {
  throw Napi::RangeError::New(info_.Env(), std::string("mosaicbert native ") + fn_ + ": " + msg);
}
void Args::type_error(const std::string& msg) const {
  throw Napi::TypeError::New(info_.Env(), std::string("mosaicbert native ") + fn_ + ": " + msg);
}

template <typename T, napi_typedarray_type TT>
Buf<T> Args::typed(size_t i, const char* name, size_t min_len, bool nullable, const char* tname) const {
  Napi::Value v = info_[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TT)
    type_error(std::string("argument '") + name + "' must be a " + tname);
  auto a = v.As<Napi::TypedArrayOf<T>>();
  Buf<T> b{a.Data(), a.ElementLength()};
  if (b.len < min_len)
    range_error(std::string("argument '") + name + "' has " + std::to_string(b.len) + " elements, needs at least " +
                std::to_string(min_len));
  return b;
}

Buf<float> Args::f32(size_t i, const char* name, size_t min_len) const {
  return typed<float, napi_float32_array>(i, name, min_len, false, "Float32Array");
}
Buf<float> Args::f32_or_null(size_t i, const char* name, size_t min_len) const {
  return typed<float, napi_float32_array>(i, name, min_len, true, "Float32Array or null");
}
Buf<int32_t> Args::i32(size_t i, const char* name, size_t min_len) const {
  return typed<int32_t, napi_int32_array>(i, name, min_len, false, "Int32Array");
}
Buf<uint8_t> Args::u8(size_t i, const char* name, size_t min_len) const {
  return typed<uint8_t, napi_uint8_array>(i, name, min_len, false, "Uint8Array");
}
Buf<uint8_t> Args::u8_or_null(size_t i, const char* name, size_t min_len) const {
  return typed<uint8_t, napi_uint8_array>(i, name, min_len, true, "Uint8Array or null");
}

size_t Args::elems(std::initializer_list<int64_t> dims, const char* what) const {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n) || n > kMaxElems)
      range_error(std::string(what) + " is too large (more than 2^46 elements)");
  }
  return static_cast<size_t>(n);
}

int64_t Args::integer(size_t i, const char* name, int64_t lo, int64_t hi) const {
  Napi::Value v = info_[i];
  if (!v.IsNumber()) type_error(std::string("argument '") + name + "' must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d)))
    type_error(std::string("argument '") + name + "' must be an integer, got " + std::to_string(d));
  int64_t x = static_cast<int64_t>(d);
  if (x < lo || x > hi)
    range_error(std::string("argument '") + name + "' = " + std::to_string(x) + " is outside [" +
                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

double Args::number(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsNumber()) type_error(std::string("argument '") + name + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool Args::boolean(size_t i, const char* name) const {
  Napi::Value v = info_[i];
  if (!v.IsBoolean()) type_error(std::string("argument '") + name + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

}  // namespace mb
