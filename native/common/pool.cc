#include "common/pool.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/alloc.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MB_PAUSE() _mm_pause()
#else
#define MB_PAUSE() ((void)0)
#endif

namespace mb {
namespace {

int default_threads() {
  if (const char* s = std::getenv("MOSAICBERT_NUM_THREADS")) {
    int n = std::atoi(s);
    if (n > 0) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? static_cast<int>(hc) : 1;
}

thread_local bool t_in_task = false;

// Waits until done() holds: a short PAUSE spin (the usual case: the other threads finish within microseconds),
// then a spin that yields the core after each check. The yield matters on a machine shared with other processes:
// when the thread we wait for was preempted, the waiting thread would otherwise keep its core busy for a whole
// time slice (milliseconds) before the scheduler let the preempted thread run there.
template <class Done>
void spin_wait(Done done) {
  for (int i = 0; i < 4000; ++i) {
    if (done()) return;
    MB_PAUSE();
  }
  while (!done()) std::this_thread::yield();
}

// Sets t_in_task for a scope and restores it however the scope is left (a throwing task must not leave the calling
// thread marked as "inside a task", which would make every later kernel on it run serially).
class InTask {
 public:
  InTask() : prev_(t_in_task) { t_in_task = true; }
  ~InTask() { t_in_task = prev_; }
  InTask(const InTask&) = delete;
  InTask& operator=(const InTask&) = delete;
  bool nested() const { return prev_; }

 private:
  bool prev_;
};

class Pool {
 public:
  explicit Pool(int n) { start(n); }
  ~Pool() { stop(); }

  int size() const { return nthreads_; }

  void resize(int n) {
    if (n == nthreads_) return;
    stop();
    start(n);
  }

  // Job protocol. A worker joins the current job by incrementing `active_` and THEN checking that the job is still
  // open (`open_`); the caller closes the job (open_ = false) once every task is done and THEN waits for active_ to
  // drain. With sequentially consistent atomics either the worker sees the job closed and leaves, or the caller
  // sees the worker active and waits for it, so no worker can still be inside a job when the next one resets the
  // task counter.
  //
  // A task that throws still counts as done (remaining_ is decremented), and so does every task taken after the
  // failure (skipped, not run), so the job drains and closes exactly as a successful one; the first exception is
  // rethrown, wrapped in TaskError, only after the job is closed and no worker is inside it.
  void run(int64_t ntasks, const std::function<void(int64_t, int)>& fn) {
    if (ntasks <= 0) return;
    if (t_in_task || nthreads_ == 1 || ntasks == 1) {
      InTask in_task;
      int64_t t = 0;
      try {
        for (; t < ntasks; ++t) fn(t, 0);
      } catch (...) {
        if (in_task.nested()) throw;  // the enclosing task's job wraps it
        throw TaskError(std::current_exception(), t, ntasks, 0);
      }
      return;
    }
    std::lock_guard<std::mutex> run_guard(run_mu_);  // one parallel region at a time
    fn_ = &fn;
    ntasks_ = ntasks;
    failed_.store(false);
    error_ = nullptr;
    next_.store(0);
    remaining_.store(ntasks);
    open_.store(true);
    {
      std::lock_guard<std::mutex> g(mu_);
      generation_.fetch_add(1);
    }
    cv_.notify_all();
    {
      InTask in_task;
      work(0);  // never throws: a failure is recorded in error_
    }
    spin_wait([&] { return remaining_.load() == 0; });
    open_.store(false);
    spin_wait([&] { return active_.load() == 0; });
    fn_ = nullptr;
    if (failed_.load()) {
      std::unique_lock<std::mutex> g(error_mu_);
      std::exception_ptr e = std::move(error_);
      error_ = nullptr;
      const int64_t task = error_task_;
      const int thread = error_thread_;
      g.unlock();
      throw TaskError(std::move(e), task, ntasks, thread);
    }
  }

 private:
  void start(int n) {
    nthreads_ = n < 1 ? 1 : (n > 256 ? 256 : n);
    quit_.store(false);
    // The generation a new worker has "seen" is read HERE, before the thread exists: a worker that only read it
    // once running could miss a stop() issued before it was first scheduled and never wake (join would hang).
    uint64_t g0 = generation_.load();
    try {
      for (int i = 1; i < nthreads_; ++i) workers_.emplace_back([this, i, g0] { loop(i, g0); });
    } catch (...) {  // std::system_error when the OS refuses a thread: keep the pool consistent with what started
      nthreads_ = 1 + static_cast<int>(workers_.size());
      throw;
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> g(mu_);
      quit_.store(true);
      generation_.fetch_add(1);
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  // Takes tasks of the current job until none is left. Never throws: the first exception of the job is recorded
  // (with its task and thread) and the tasks taken after it are skipped.
  void work(int thread) {
    for (;;) {
      int64_t t = next_.fetch_add(1);
      if (t >= ntasks_) break;
      if (!failed_.load(std::memory_order_relaxed)) {
        try {
          (*fn_)(t, thread);
        } catch (...) {
          record_failure(std::current_exception(), t, thread);
        }
      }
      remaining_.fetch_sub(1);
    }
  }

  void record_failure(std::exception_ptr e, int64_t task, int thread) {
    std::lock_guard<std::mutex> g(error_mu_);
    if (failed_.load()) return;  // first one wins
    error_ = std::move(e);
    error_task_ = task;
    error_thread_ = thread;
    failed_.store(true);
  }

  void loop(int thread, uint64_t seen) {
    t_in_task = true;  // kernels called from a worker's task run serially
    for (;;) {
      // Spin briefly (kernels arrive back to back during a step), then sleep. 2000 PAUSEs: ~50 us on the reference
      // Zen 4 (~26 ns each), enough for the gaps between the parallel regions of one forward. It was 20000
      // (~0.5 ms): with another process busy on the second core, a worker spinning that long after every short
      // region used up its share of the core and was off it when the next region needed it. Measured (2 threads,
      // MosaicBERT-base 1 x 128, 90% 1x4-block fp32, `bench/profile_inference.mjs`, a 1-thread busy loop beside
      // it): mean 102 ms per forward at 20000, 89 at 2000, 78 at 200; without the busy loop all within noise
      // (45.9 / 43.5 ms at 20000 / 200; dense fp32 170 / 159 / 158 and INT8 90% 1x4 20.6 / 21.2 / 21.2 ms at
      // 20000 / 2000 / 200).
      constexpr int kSpin = 2000;
      uint64_t g = seen;
      for (int spin = 0; spin < kSpin; ++spin) {
        g = generation_.load();
        if (g != seen) break;
        MB_PAUSE();
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return generation_.load() != seen; });
        g = generation_.load();
      }
      seen = g;
      if (quit_.load()) return;
      active_.fetch_add(1);
      if (open_.load()) work(thread);
      active_.fetch_sub(1);
    }
  }

  int nthreads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> next_{0}, remaining_{0};
  std::atomic<int> active_{0};
  std::atomic<bool> open_{false}, quit_{false};
  // The job's first task failure; written under error_mu_ before the failing task counts as done, read by the
  // caller after remaining_ reached 0.
  std::atomic<bool> failed_{false};
  std::mutex error_mu_;
  std::exception_ptr error_;
  int64_t error_task_ = 0;
  int error_thread_ = 0;
  int64_t ntasks_ = 0;
  const std::function<void(int64_t, int)>* fn_ = nullptr;
};

Pool& pool() {
  static Pool* p = new Pool(default_threads());  // never destroyed: workers must outlive static teardown
  return *p;
}

struct Scratch {
  std::unique_ptr<float[], void (*)(float*)> p{nullptr, [](float* q) { std::free(q); }};
  size_t n = 0;
};
std::vector<Scratch>& scratch() {
  static std::vector<Scratch> s(256);
  return s;
}

}  // namespace

TaskError::TaskError(std::exception_ptr cause, int64_t task, int64_t ntasks, int thread)
    : std::runtime_error("task " + std::to_string(task) + " of " + std::to_string(ntasks) +
                         (thread == 0 ? " on the calling thread" : " on pool worker " + std::to_string(thread))),
      cause_(std::move(cause)),
      task_(task),
      ntasks_(ntasks),
      thread_(thread) {}

int num_threads() { return pool().size(); }

void set_num_threads(int n) { pool().resize(n > 0 ? n : default_threads()); }

void parallel_for(int64_t ntasks, const std::function<void(int64_t, int)>& fn) { pool().run(ntasks, fn); }

void parallel_range(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  int64_t parts = num_threads();
  if (parts > n) parts = n;
  parallel_for(parts, [&](int64_t p, int thread) {
    int64_t b = n * p / parts, e = n * (p + 1) / parts;
    fn(b, e, thread);
  });
}

float* thread_scratch(int thread, size_t floats) {
  Scratch& s = scratch().at(static_cast<size_t>(thread));
  if (s.n < floats) {
    s.p.reset();  // released first, so a failed allocation leaves no stale size behind
    s.n = 0;
    s.p.reset(aligned_floats(floats));  // throws std::bad_alloc, never returns nullptr
    s.n = floats;
  }
  return s.p.get();
}

}  // namespace mb
