#include "common/alloc.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace mb {
namespace {
std::atomic<int> g_fail_next{0};

// Consumes one injected failure if any is pending.
bool take_injected_failure() {
  int n = g_fail_next.load();
  while (n > 0 && !g_fail_next.compare_exchange_weak(n, n - 1)) {
  }
  return n > 0;
}
}  // namespace

float* aligned_floats(size_t floats, size_t slack_bytes) {
  constexpr size_t kAlign = 64;
  if (take_injected_failure()) throw std::bad_alloc();
  if (slack_bytes > SIZE_MAX / 2 || floats > (SIZE_MAX / 2 - slack_bytes) / sizeof(float)) throw std::bad_alloc();
  size_t bytes = (floats * sizeof(float) + kAlign - 1) / kAlign * kAlign + slack_bytes;
  bytes = (bytes + kAlign - 1) / kAlign * kAlign;  // aligned_alloc wants a multiple of the alignment
  if (bytes == 0) bytes = kAlign;                   // and a zero size may legitimately return nullptr
  void* p = std::aligned_alloc(kAlign, bytes);
  if (!p) throw std::bad_alloc();
  return static_cast<float*>(p);
}

int fail_next_aligned_allocs(int n) { return g_fail_next.exchange(n < 0 ? 0 : n); }

}  // namespace mb
