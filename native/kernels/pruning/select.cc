// selectSmallest: the k smallest of n scores, by selection (std::nth_element, O(n) on average), not a full sort:
// the global pruning threshold of oBERT / GMP over every score of every pruned matrix (millions; 85M for
// BERT-base). Exactly k entries are marked pruned (keep = 0): every score below the k-th smallest value t, then
// the entries equal to t in increasing index order until k are reached, so ties are broken deterministically
// (lower index pruned first) and the count is exact. -inf (already pruned) sorts first; NaN is an error.
// Returns t (-inf when k = 0). Memory: a float32 copy of the scores (n*4 bytes), taken from common/alloc.h.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "common/alloc.h"
#include "common/args.h"
#include "common/registry.h"

namespace mb {
namespace {

// selectSmallest(scores, n, k, keep)
Napi::Value SelectSmallest(const Napi::CallbackInfo& info) {
  Args a(info, "selectSmallest", 4);
  const int64_t n = a.integer(1, "n", 0, Args::kMaxElems);
  const int64_t k = a.integer(2, "k", 0, n);
  auto s = a.f32(0, "scores", static_cast<size_t>(n));
  auto keep = a.u8(3, "keep", static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(s.data[i])) a.range_error("scores[" + std::to_string(i) + "] is NaN");
  }
  const float ninf = -std::numeric_limits<float>::infinity();
  if (k == 0) {
    std::memset(keep.data, 1, static_cast<size_t>(n));
    return Napi::Number::New(info.Env(), ninf);
  }
  std::unique_ptr<float, decltype(&std::free)> copy(aligned_floats(static_cast<size_t>(n)), &std::free);
  std::memcpy(copy.get(), s.data, static_cast<size_t>(n) * sizeof(float));
  std::nth_element(copy.get(), copy.get() + (k - 1), copy.get() + n);
  const float t = copy.get()[k - 1];
  copy.reset();
  int64_t below = 0;
  for (int64_t i = 0; i < n; ++i) below += s.data[i] < t;
  int64_t ties = k - below;  // entries equal to t still to prune, lowest index first
  for (int64_t i = 0; i < n; ++i) {
    const float v = s.data[i];
    if (v < t) keep.data[i] = 0;
    else if (v == t && ties > 0) { keep.data[i] = 0; --ties; }
    else keep.data[i] = 1;
  }
  return Napi::Number::New(info.Env(), t);
}

MB_EXPORT("selectSmallest", SelectSmallest);

}  // namespace
}  // namespace mb
