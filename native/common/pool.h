// One thread pool for every kernel, sized by MOSAICBERT_NUM_THREADS (default: all cores).
// parallel_for hands out task indices dynamically, but every task computes a fixed piece of the output with a fixed
// order of operations, so results do not depend on which thread ran which task: kernels stay deterministic for a
// given thread count (and, where a kernel says so, for any thread count).
#pragma once
#include <cstdint>
#include <functional>

namespace mb {

// Number of threads kernels use (the calling thread included), >= 1.
int num_threads();
// Resizes the pool; n <= 0 restores the default (MOSAICBERT_NUM_THREADS or all cores).
void set_num_threads(int n);

// Runs fn(task, thread) for every task in [0, ntasks); `thread` is in [0, num_threads()) and is stable for the
// duration of one task (use it to index per-thread scratch). The calling thread takes part. Blocks until done.
// A nested call (from inside a task, or from a pool worker) runs serially on the calling thread and passes thread
// index 0, so a nested kernel must not use per-thread scratch that its caller is also using.
void parallel_for(int64_t ntasks, const std::function<void(int64_t task, int thread)>& fn);

// Splits [0, n) into at most num_threads() contiguous, near-equal ranges (fixed for a given n and thread count)
// and runs fn(begin, end, thread) on each.
void parallel_range(int64_t n, const std::function<void(int64_t begin, int64_t end, int thread)>& fn);

// Per-thread scratch memory, 64-byte aligned, grown on demand and kept (no allocation in steady state).
float* thread_scratch(int thread, size_t floats);

}  // namespace mb
