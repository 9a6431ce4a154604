// Test-only bindings (names start with `_test`): deterministic failures inside the thread pool and the checked
// allocator, so that test/kernels/pool.test.ts can check that a failure becomes a JS Error naming the binding and
// that the pool computes correctly afterwards. Not part of the Kernels contract; nothing in src/ calls them.
#include <napi.h>

#include <atomic>
#include <chrono>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/alloc.h"
#include "common/args.h"
#include "common/pool.h"
#include "common/registry.h"

namespace mb {
namespace {

enum class Kind { kNone, kBadAlloc, kError, kScratch, kNonStd };
enum class Where { kTask, kCaller, kWorker, kEvery };

Kind parse_kind(const Args& a, const Napi::Value& v) {
  const std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (s == "none") return Kind::kNone;
  if (s == "bad_alloc") return Kind::kBadAlloc;
  if (s == "error") return Kind::kError;
  if (s == "scratch") return Kind::kScratch;
  if (s == "nonstd") return Kind::kNonStd;
  a.type_error("argument 'kind' must be 'none', 'bad_alloc', 'error', 'scratch' or 'nonstd'");
}

[[noreturn]] void fail(Kind kind, int thread) {
  switch (kind) {
    case Kind::kBadAlloc:
      throw std::bad_alloc();
    case Kind::kScratch:
      thread_scratch(thread, size_t(1) << 60);  // 4 EiB: the checked allocation fails for real
      throw std::logic_error("a 4 EiB scratch allocation succeeded");
    case Kind::kNonStd:
      throw 42;
    default:
      throw std::runtime_error("injected task failure");
  }
}

// _testPoolThrow(kind, ntasks, at) -> { tasks, threads }: runs a parallel_for of `ntasks` tasks that throw `kind`
// ('bad_alloc'; 'error': std::runtime_error; 'scratch': a thread_scratch request of 4 EiB; 'nonstd': an int;
// 'none': nothing) in the task(s) chosen by `at`: a task index, 'caller' (the first task the calling thread runs),
// 'worker' (every task a pool worker runs) or 'every'. With 2+ threads and ntasks >= threads, the first task on
// each thread waits (up to 10 s, then throws) until both the calling thread and a worker have started a task, so
// both always take part whatever the scheduling (a dead or missing worker shows as that timeout).
// Returns how many tasks ran and how many distinct threads ran them (when nothing threw).
Napi::Value TestPoolThrow(const Napi::CallbackInfo& info) {
  Args a(info, "_testPoolThrow", 3);
  const Kind kind = parse_kind(a, info[0]);
  const int64_t ntasks = a.integer(1, "ntasks", 0, int64_t(1) << 24);
  Where where = Where::kTask;
  int64_t at_task = -1;
  if (info[2].IsString()) {
    const std::string s = info[2].As<Napi::String>().Utf8Value();
    if (s == "caller") where = Where::kCaller;
    else if (s == "worker") where = Where::kWorker;
    else if (s == "every") where = Where::kEvery;
    else a.type_error("argument 'at' must be a task index, 'caller', 'worker' or 'every'");
  } else {
    at_task = a.integer(2, "at", 0, INT64_MAX);
  }
  const int nth = num_threads();
  const bool wait_for_both = nth > 1 && ntasks >= nth;
  std::atomic<int64_t> ran{0};
  std::vector<std::atomic<bool>> seen(static_cast<size_t>(nth));
  for (auto& s : seen) s.store(false);
  std::atomic<bool> worker_joined{false}, caller_started{false};

  parallel_for(ntasks, [&](int64_t t, int thread) {
    ran.fetch_add(1);
    const bool first_on_thread = !seen[static_cast<size_t>(thread)].exchange(true);
    const bool first_on_caller = thread == 0 && first_on_thread;
    (thread == 0 ? caller_started : worker_joined).store(true);
    if (wait_for_both && first_on_thread) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!(worker_joined.load() && caller_started.load())) {
        if (std::chrono::steady_clock::now() > deadline)
          throw std::runtime_error("the calling thread and a pool worker did not both start a task within 10 s");
        std::this_thread::yield();
      }
    }
    if (kind == Kind::kNone) return;
    bool fire = false;
    switch (where) {
      case Where::kTask: fire = t == at_task; break;
      case Where::kCaller: fire = first_on_caller; break;
      case Where::kWorker: fire = thread > 0; break;
      case Where::kEvery: fire = true; break;
    }
    if (fire) fail(kind, thread);
  });

  int threads = 0;
  for (auto& s : seen) threads += s.load() ? 1 : 0;
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("tasks", Napi::Number::New(info.Env(), static_cast<double>(ran.load())));
  r.Set("threads", Napi::Number::New(info.Env(), threads));
  return r;
}

// _testFailNextAllocs(n) -> previous: the next n checked aligned allocations (thread scratch, SGEMM pack buffers),
// on any thread, throw std::bad_alloc; 0 cancels. Returns how many injected failures were still pending.
Napi::Value TestFailNextAllocs(const Napi::CallbackInfo& info) {
  Args a(info, "_testFailNextAllocs", 1);
  const int n = static_cast<int>(a.integer(0, "n", 0, 1 << 20));
  return Napi::Number::New(info.Env(), fail_next_aligned_allocs(n));
}

MB_EXPORT("_testPoolThrow", TestPoolThrow);
MB_EXPORT("_testFailNextAllocs", TestFailNextAllocs);

}  // namespace
}  // namespace mb
