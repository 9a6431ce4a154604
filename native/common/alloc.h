// Checked, 64-byte aligned allocation for the kernels' long-lived buffers (per-thread scratch, SGEMM pack buffers).
// std::aligned_alloc returns nullptr on failure; every caller in native/ goes through aligned_floats instead, so a
// failure is a std::bad_alloc (turned into a JS Error naming the kernel by common/registry.cc), never a null write.
#pragma once
#include <cstddef>

namespace mb {

// Memory for `floats` floats plus `slack_bytes`, rounded up to a multiple of 64 bytes, 64-byte aligned; release it
// with std::free. Never returns nullptr: throws std::bad_alloc when the size overflows size_t or the allocation
// fails (or when a failure was injected with fail_next_aligned_allocs).
float* aligned_floats(size_t floats, size_t slack_bytes = 0);

// Test hook (the `_testFailNextAllocs` binding): the next `n` calls of aligned_floats, on any thread, throw
// std::bad_alloc without allocating; n = 0 cancels. Returns how many injected failures were still pending.
int fail_next_aligned_allocs(int n);

}  // namespace mb
