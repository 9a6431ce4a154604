// Argument checking for the bindings: every buffer is a typed array passed whole (zero-copy; subarray views keep
// their byte offset), every size is checked against the buffer length, and a bad argument throws a TypeError or
// RangeError that names the function and the argument. Nothing crosses JS <-> C++ per element.
#pragma once
#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>

namespace mb {

template <typename T>
struct Buf {
  T* data = nullptr;
  size_t len = 0;  // in elements
};

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, size_t nargs);

  // Float32Array with at least `min_len` elements.
  Buf<float> f32(size_t i, const char* name, size_t min_len) const;
  // Float32Array or null/undefined (returns data == nullptr).
  Buf<float> f32_or_null(size_t i, const char* name, size_t min_len) const;
  Buf<int32_t> i32(size_t i, const char* name, size_t min_len) const;
  Buf<uint8_t> u8(size_t i, const char* name, size_t min_len) const;
  Buf<uint8_t> u8_or_null(size_t i, const char* name, size_t min_len) const;
  // Integer in [lo, hi].
  int64_t integer(size_t i, const char* name, int64_t lo = 0, int64_t hi = INT64_MAX) const;
  // The product of non-negative sizes, as an element count; a RangeError naming `what` when it overflows or
  // exceeds kMaxElems (2^46 elements, far above any buffer a typed array can hold). Use it for every buffer length
  // that is a product, before the buffer is checked against it.
  size_t elems(std::initializer_list<int64_t> dims, const char* what) const;
  static constexpr int64_t kMaxElems = int64_t(1) << 46;
  double number(size_t i, const char* name) const;
  bool boolean(size_t i, const char* name) const;

  [[noreturn]] void range_error(const std::string& msg) const;
  [[noreturn]] void type_error(const std::string& msg) const;
  Napi::Env env() const { return info_.Env(); }

 private:
  template <typename T, napi_typedarray_type TT>
  Buf<T> typed(size_t i, const char* name, size_t min_len, bool nullable, const char* tname) const;
  const Napi::CallbackInfo& info_;
  const char* fn_;
};

}  // namespace mb
