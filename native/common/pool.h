// One thread pool for every kernel, sized by MOSAICBERT_NUM_THREADS (default: all cores).
// parallel_for hands out task indices dynamically, but every task computes a fixed piece of the output with a fixed
// order of operations, so results do not depend on which thread ran which task: kernels stay deterministic for a
// given thread count (and, where a kernel says so, for any thread count).
//
// Failures: an exception thrown by a task (std::bad_alloc from a scratch buffer, or anything else) never escapes
// a worker thread. The first one is kept, the job's remaining tasks are skipped (counted as done without being
// run), the job is closed as usual, and the calling thread then throws a TaskError that carries the original
// exception and where it happened. The pool is unchanged and usable afterwards (every worker alive, no state
// left behind); the outputs of the failed call are unspecified. common/registry.cc turns it into a JS Error.
#pragma once
#include <cstdint>
#include <exception>
#include <functional>
#include <stdexcept>

namespace mb {

// Number of threads kernels use (the calling thread included), >= 1.
int num_threads();
// Resizes the pool; n <= 0 restores the default (MOSAICBERT_NUM_THREADS or all cores).
void set_num_threads(int n);

// Thrown by parallel_for / parallel_range on the calling thread when a task threw; what() says where
// ("task 3 of 8 on pool worker 1"), cause() is the exception the task threw. (Not std::nested_exception: the addon
// is built without RTTI.)
class TaskError : public std::runtime_error {
 public:
  TaskError(std::exception_ptr cause, int64_t task, int64_t ntasks, int thread);
  const std::exception_ptr& cause() const { return cause_; }
  int64_t task() const { return task_; }      // index of the task that threw
  int64_t ntasks() const { return ntasks_; }  // tasks in the job
  int thread() const { return thread_; }      // 0: the calling thread's share; > 0: a pool worker

 private:
  std::exception_ptr cause_;
  int64_t task_, ntasks_;
  int thread_;
};

// Runs fn(task, thread) for every task in [0, ntasks); `thread` is in [0, num_threads()) and is stable for the
// duration of one task (use it to index per-thread scratch). The calling thread takes part. Blocks until done.
// A nested call (from inside a task, or from a pool worker) runs serially on the calling thread and passes thread
// index 0, so a nested kernel must not use per-thread scratch that its caller is also using.
// If a task throws, the rest of the job is skipped and TaskError is thrown here (see the top of this file); in a
// nested call the task's exception propagates unchanged to the enclosing task, so it is wrapped exactly once.
void parallel_for(int64_t ntasks, const std::function<void(int64_t task, int thread)>& fn);

// Splits [0, n) into at most num_threads() contiguous, near-equal ranges (fixed for a given n and thread count)
// and runs fn(begin, end, thread) on each.
void parallel_range(int64_t n, const std::function<void(int64_t begin, int64_t end, int thread)>& fn);

// Per-thread scratch memory, 64-byte aligned, grown on demand and kept (no allocation in steady state).
// Throws std::bad_alloc when the memory cannot be had (the previous, smaller buffer is released).
float* thread_scratch(int thread, size_t floats);

}  // namespace mb
