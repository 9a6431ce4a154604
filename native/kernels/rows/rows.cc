// Row gather/scatter (unpad/pad, subset selection), axpby and the float64 sum of squares, plus the portable builds
// of the vector primitives of vec.h. See Kernels.gatherRows ... sumSquares in src/kernels/types.ts.
//
// - gatherRows / scatterRows / scatterAddRows: one memcpy (or one vector add) per row, parallel over rows. Every
//   index is checked first (RangeError naming r and the index). The scatters run in parallel only when the
//   indices are distinct; with repeated indices they run serially in increasing r, which is exactly the
//   sequential meaning of `dst[index[r]] = src[r]` (last wins) and `+=` (in order), so no race is possible.
// - axpby: float64 arithmetic, one rounding to float32; b == 0 never reads y.
// - sumSquares: fixed chunks of kSumSqChunk elements, a float64 sum per chunk, chunk sums added serially in chunk
//   order: the result does not depend on the thread count.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "common/args.h"
#include "common/cpu.h"
#include "common/pool.h"
#include "common/registry.h"
#include "kernels/rows/vec.h"

namespace mb {

// ---------------------------------------------------------------- portable primitives + dispatch

void vec_add_portable(float* out, const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}
void vec_acc_portable(float* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}
void vec_axpby_portable(int64_t n, double a, const float* x, double b, float* y) {
  if (b == 0.0) {
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(a * static_cast<double>(x[i]));
    return;
  }
  for (int64_t i = 0; i < n; ++i)
    y[i] = static_cast<float>(a * static_cast<double>(x[i]) + b * static_cast<double>(y[i]));
}
double vec_sumsq_portable(const float* x, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    double d0 = x[i], d1 = x[i + 1], d2 = x[i + 2], d3 = x[i + 3];
    s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3;
  }
  double total = (s0 + s1) + (s2 + s3);
  for (; i < n; ++i) total += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return total;
}

void vec_add(float* out, const float* a, const float* b, int64_t n) {
  if (use_avx2()) vec_add_avx2(out, a, b, n); else vec_add_portable(out, a, b, n);
}
void vec_acc(float* dst, const float* src, int64_t n) {
  if (use_avx2()) vec_acc_avx2(dst, src, n); else vec_acc_portable(dst, src, n);
}

namespace {

constexpr int64_t kSerialElems = 1 << 15;   // below this many elements a kernel runs on the calling thread
constexpr int64_t kSumSqChunk = 8192;       // fixed reduction chunk of sumSquares (part of its definition)
constexpr int64_t kAxpbyChunk = 1 << 14;    // work split of axpby (elementwise: any split gives the same bits)

// Runs fn(begin, end) over [0, n) rows of `cols` floats: serially when small, else split across the pool.
template <typename Fn>
void for_rows(int64_t n, int64_t cols, Fn&& fn) {
  if (n <= 0) return;
  if (n * cols < kSerialElems || num_threads() == 1) { fn(int64_t(0), n); return; }
  parallel_range(n, [&](int64_t b, int64_t e, int) { fn(b, e); });
}

// Checks index[0..n) against [0, rows) and throws a RangeError naming the first bad entry.
void check_index(const Args& a, const int32_t* index, int64_t n, int64_t rows, const char* what) {
  for (int64_t r = 0; r < n; ++r) {
    int64_t v = index[r];
    if (v < 0 || v >= rows)
      a.range_error(std::string("index[") + std::to_string(r) + "] = " + std::to_string(v) + " is outside [0, " +
                    std::to_string(rows) + ") (rows of " + what + ")");
  }
}

// True when index[0..n) has no repeated entry (all entries already checked to lie in [0, rows)).
bool distinct(const int32_t* index, int64_t n, int64_t rows) {
  std::vector<uint8_t> seen(static_cast<size_t>(rows), 0);
  for (int64_t r = 0; r < n; ++r) {
    if (seen[index[r]]) return false;
    seen[index[r]] = 1;
  }
  return true;
}

struct RowsArgs {
  Buf<float> src, dst;
  Buf<int32_t> index;
  int64_t n, cols;
};

// Parses (src, index, n, cols, dst); `gather` says which side the index addresses.
RowsArgs parse_rows(const Args& a, bool gather) {
  RowsArgs r;
  r.n = a.integer(2, "n", 0, INT32_MAX);
  r.cols = a.integer(3, "cols", 0, INT32_MAX);
  r.index = a.i32(1, "index", static_cast<size_t>(r.n));
  r.src = a.f32(0, "src", gather ? 0 : static_cast<size_t>(r.n * r.cols));
  r.dst = a.f32(4, "dst", gather ? static_cast<size_t>(r.n * r.cols) : 0);
  const Buf<float>& indexed = gather ? r.src : r.dst;
  int64_t rows = r.cols > 0 ? static_cast<int64_t>(indexed.len) / r.cols : INT64_MAX;
  check_index(a, r.index.data, r.n, rows, gather ? "src" : "dst");
  return r;
}

Napi::Value GatherRows(const Napi::CallbackInfo& info) {
  Args a(info, "gatherRows", 5);
  RowsArgs r = parse_rows(a, true);
  if (r.cols == 0) return info.Env().Undefined();
  const size_t bytes = static_cast<size_t>(r.cols) * sizeof(float);
  for_rows(r.n, r.cols, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      std::memcpy(r.dst.data + i * r.cols, r.src.data + int64_t(r.index.data[i]) * r.cols, bytes);
  });
  return info.Env().Undefined();
}

template <bool kAdd>
void scatter(const RowsArgs& r) {
  if (r.cols == 0 || r.n == 0) return;
  auto body = [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float* d = r.dst.data + int64_t(r.index.data[i]) * r.cols;
      const float* s = r.src.data + i * r.cols;
      if (kAdd) vec_acc(d, s, r.cols); else std::memcpy(d, s, static_cast<size_t>(r.cols) * sizeof(float));
    }
  };
  bool parallel = r.n * r.cols >= kSerialElems && num_threads() > 1 &&
                  distinct(r.index.data, r.n, static_cast<int64_t>(r.dst.len) / r.cols);
  if (parallel) parallel_range(r.n, [&](int64_t b, int64_t e, int) { body(b, e); });
  else body(0, r.n);
}

Napi::Value ScatterRows(const Napi::CallbackInfo& info) {
  Args a(info, "scatterRows", 5);
  scatter<false>(parse_rows(a, false));
  return info.Env().Undefined();
}

Napi::Value ScatterAddRows(const Napi::CallbackInfo& info) {
  Args a(info, "scatterAddRows", 5);
  scatter<true>(parse_rows(a, false));
  return info.Env().Undefined();
}

// axpby(n, a, x, b, y)
Napi::Value Axpby(const Napi::CallbackInfo& info) {
  Args a(info, "axpby", 5);
  int64_t n = a.integer(0, "n", 0, INT32_MAX);
  double alpha = a.number(1, "a");
  auto x = a.f32(2, "x", static_cast<size_t>(n));
  double beta = a.number(3, "b");
  auto y = a.f32(4, "y", static_cast<size_t>(n));
  const bool avx2 = use_avx2();
  auto run = [&](int64_t b, int64_t e) {
    if (avx2) vec_axpby_avx2(e - b, alpha, x.data + b, beta, y.data + b);
    else vec_axpby_portable(e - b, alpha, x.data + b, beta, y.data + b);
  };
  if (n < kSerialElems || num_threads() == 1) {
    run(0, n);
  } else {
    int64_t chunks = (n + kAxpbyChunk - 1) / kAxpbyChunk;
    parallel_for(chunks, [&](int64_t c, int) { run(c * kAxpbyChunk, std::min(n, (c + 1) * kAxpbyChunk)); });
  }
  return info.Env().Undefined();
}

// sumSquares(x, n) -> number
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Args a(info, "sumSquares", 2);
  int64_t n = a.integer(1, "n", 0, INT32_MAX);
  auto x = a.f32(0, "x", static_cast<size_t>(n));
  const bool avx2 = use_avx2();
  int64_t chunks = (n + kSumSqChunk - 1) / kSumSqChunk;
  std::vector<double> part(static_cast<size_t>(chunks), 0.0);
  auto run = [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      int64_t b = c * kSumSqChunk, len = std::min(n, b + kSumSqChunk) - b;
      part[c] = avx2 ? vec_sumsq_avx2(x.data + b, len) : vec_sumsq_portable(x.data + b, len);
    }
  };
  if (n < kSerialElems || num_threads() == 1) run(0, chunks);
  else parallel_range(chunks, [&](int64_t b, int64_t e, int) { run(b, e); });
  double total = 0.0;
  for (int64_t c = 0; c < chunks; ++c) total += part[c];
  return Napi::Number::New(info.Env(), total);
}

MB_EXPORT("gatherRows", GatherRows);
MB_EXPORT("scatterRows", ScatterRows);
MB_EXPORT("scatterAddRows", ScatterAddRows);
MB_EXPORT("axpby", Axpby);
MB_EXPORT("sumSquares", SumSquares);

}  // namespace
}  // namespace mb
