// The Open MPI bindings of data-parallel training: a separate addon (build/Release/mosaicbert_mpi.node), built only
// when mpicxx and the Open MPI headers are present (scripts/mpi-config.mjs, binding.gyp), so the kernel addon and
// a machine without Open MPI are unchanged.
//
// Threading: MPI is initialised with MPI_THREAD_FUNNELED and every binding checks that it runs on the thread that
// called mpiInit (the JS thread); the kernel pool's workers never call MPI.
//
// Faults: MPI_ERRORS_RETURN is set on MPI_COMM_WORLD, so a failed call returns its code and becomes a JS Error
// with MPI's error string. Every collective is non-blocking and waited on by polling MPI_Test until a deadline
// (`timeoutMs`), so a rank whose peer died or hangs throws "... did not complete within T s" instead of waiting
// forever (mpirun usually kills the job first when a rank dies; the deadline is the backstop).
//
// Determinism: mpiAllreduceSum sums in a fixed order whatever the number of ranks or the network: the buffer is cut
// into `size` chunks (chunk r = [floor(r n / P), floor((r+1) n / P))), an all-to-all sends chunk r of every rank
// to rank r, rank r sums its chunk as ((g_0 + g_1) + g_2) + ... in rank order, and an all-gather returns the sums.
// Each element is therefore the same left fold over ranks on every run, and every rank ends with the same bits. The
// traffic is that of a ring all-reduce: 2 (P - 1) / P times the buffer per rank.
//
// ZeRO-1 (src/distributed/zero.ts) adds two copies without arithmetic: mpiAllgatherv (each rank's updated shard of
// the weights to every rank) and mpiGatherv (the AdamW moment shards to rank 0 for a checkpoint).
// The C API only (no deprecated C++ bindings, so no libmpi_cxx).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <napi.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/args.h"

namespace {

using mb::Args;

bool g_inited = false;
std::thread::id g_thread;
int g_rank = 0, g_size = 1;
std::vector<float> g_scratch;

std::string mpi_error(int rc) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) return "MPI error code " + std::to_string(rc);
  return std::string(msg, len);
}

// Throws a JS Error naming the binding, the MPI call and MPI's error string.
void check(const Napi::Env& env, const char* fn, const char* call, int rc) {
  if (rc == MPI_SUCCESS) return;
  throw Napi::Error::New(env, std::string("mosaicbert mpi ") + fn + ": " + call + " failed on rank " +
                                  std::to_string(g_rank) + ": " + mpi_error(rc));
}

void require_init(const Napi::CallbackInfo& info, const char* fn) {
  if (!g_inited) throw Napi::Error::New(info.Env(), std::string("mosaicbert mpi ") + fn + ": call mpiInit() first");
  if (std::this_thread::get_id() != g_thread)
    throw Napi::Error::New(info.Env(), std::string("mosaicbert mpi ") + fn +
                                           ": called from another thread than mpiInit's (MPI_THREAD_FUNNELED)");
}

// Polls `req` until it completes or `timeout_ms` passes: spins for the first 2 ms, then sleeps 100 us between
// tests so that a rank waiting on a slower one leaves the core to it.
void wait(const Napi::Env& env, const char* fn, const char* what, MPI_Request* req, double timeout_ms) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  for (;;) {
    int done = 0;
    check(env, fn, "MPI_Test", MPI_Test(req, &done, MPI_STATUS_IGNORE));
    if (done) return;
    const double ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    if (ms > timeout_ms) {
      throw Napi::Error::New(env, std::string("mosaicbert mpi ") + fn + ": " + what + " did not complete within " +
                                      std::to_string(static_cast<int64_t>(timeout_ms / 1000)) + " s on rank " +
                                      std::to_string(g_rank) + " of " + std::to_string(g_size) +
                                      ": another rank probably died or hangs");
    }
    if (ms > 2) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

double timeout_arg(const Args& a, size_t i) { return static_cast<double>(a.integer(i, "timeoutMs", 1, int64_t(1) << 40)); }

// mpiInit() -> {rank, size, provided}: MPI_Init_thread(FUNNELED) once (later calls return the same values),
// errors set to return.
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "mpiInit", 0);
  if (!g_inited) {
    int already = 0;
    MPI_Initialized(&already);
    int provided = MPI_THREAD_FUNNELED;
    if (!already) check(env, "mpiInit", "MPI_Init_thread", MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
    if (provided < MPI_THREAD_FUNNELED) {
      throw Napi::Error::New(env, "mosaicbert mpi mpiInit: this MPI provides thread level " + std::to_string(provided) +
                                      " < MPI_THREAD_FUNNELED");
    }
    check(env, "mpiInit", "MPI_Comm_set_errhandler", MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    check(env, "mpiInit", "MPI_Comm_rank", MPI_Comm_rank(MPI_COMM_WORLD, &g_rank));
    check(env, "mpiInit", "MPI_Comm_size", MPI_Comm_size(MPI_COMM_WORLD, &g_size));
    g_thread = std::this_thread::get_id();
    g_inited = true;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("rank", g_rank);
  o.Set("size", g_size);
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(lib, &len);
  o.Set("library", std::string(lib, len));
  return o;
}

// mpiBarrier(timeoutMs)
Napi::Value Barrier(const Napi::CallbackInfo& info) {
  Args a(info, "mpiBarrier", 1);
  require_init(info, "mpiBarrier");
  MPI_Request req;
  check(info.Env(), "mpiBarrier", "MPI_Ibarrier", MPI_Ibarrier(MPI_COMM_WORLD, &req));
  wait(info.Env(), "mpiBarrier", "the barrier", &req, timeout_arg(a, 0));
  return info.Env().Undefined();
}

// mpiBroadcast(buf: Float32Array, root, timeoutMs): buf on every rank = buf of `root`.
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Args a(info, "mpiBroadcast", 3);
  require_init(info, "mpiBroadcast");
  auto buf = a.f32(0, "buf", 0);
  const int root = static_cast<int>(a.integer(1, "root", 0, g_size - 1));
  if (buf.len > INT32_MAX) a.range_error("buffer of " + std::to_string(buf.len) + " floats exceeds 2^31 - 1");
  MPI_Request req;
  check(info.Env(), "mpiBroadcast", "MPI_Ibcast",
        MPI_Ibcast(buf.data, static_cast<int>(buf.len), MPI_FLOAT, root, MPI_COMM_WORLD, &req));
  wait(info.Env(), "mpiBroadcast", "the broadcast", &req, timeout_arg(a, 2));
  return info.Env().Undefined();
}

// mpiAllreduceSum(buf: Float32Array, timeoutMs): in place, buf = sum over ranks in rank order (see the top).
Napi::Value AllreduceSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "mpiAllreduceSum", 2);
  require_init(info, "mpiAllreduceSum");
  auto buf = a.f32(0, "buf", 0);
  const double timeout = timeout_arg(a, 1);
  if (buf.len > INT32_MAX) a.range_error("buffer of " + std::to_string(buf.len) + " floats exceeds 2^31 - 1");
  const int P = g_size;
  if (P == 1) return env.Undefined();
  const int64_t n = static_cast<int64_t>(buf.len);
  std::vector<int> start(P + 1), count(P);
  for (int r = 0; r <= P; ++r) start[r] = static_cast<int>(n * r / P);
  for (int r = 0; r < P; ++r) count[r] = start[r + 1] - start[r];
  const int mine = count[g_rank];
  // Receive chunk `g_rank` of every rank q at scratch[q * mine].
  g_scratch.resize(static_cast<size_t>(mine) * P);
  std::vector<int> rcount(P, mine), rdispl(P);
  for (int q = 0; q < P; ++q) rdispl[q] = q * mine;
  MPI_Request req;
  check(env, "mpiAllreduceSum", "MPI_Ialltoallv",
        MPI_Ialltoallv(buf.data, count.data(), start.data(), MPI_FLOAT, g_scratch.data(), rcount.data(), rdispl.data(),
                       MPI_FLOAT, MPI_COMM_WORLD, &req));
  wait(env, "mpiAllreduceSum", "the all-to-all of the gradient chunks", &req, timeout);
  float* out = buf.data + start[g_rank];
  const float* s = g_scratch.data();
  for (int i = 0; i < mine; ++i) out[i] = s[i];
  for (int q = 1; q < P; ++q) {
    const float* sq = s + static_cast<size_t>(q) * mine;
    for (int i = 0; i < mine; ++i) out[i] += sq[i];
  }
  check(env, "mpiAllreduceSum", "MPI_Iallgatherv",
        MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, buf.data, count.data(), start.data(), MPI_FLOAT, MPI_COMM_WORLD,
                        &req));
  wait(env, "mpiAllreduceSum", "the all-gather of the summed chunks", &req, timeout);
  return env.Undefined();
}

// mpiAllgatherF64(send: Float64Array, timeoutMs) -> Float64Array [size * send.length], rank r's values at r * len.
Napi::Value AllgatherF64(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "mpiAllgatherF64", 2);
  require_init(info, "mpiAllgatherF64");
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    a.type_error("argument 'send' must be a Float64Array");
  auto send = info[0].As<Napi::Float64Array>();
  const size_t len = send.ElementLength();
  if (len > 1u << 20) a.range_error("send has more than 2^20 values");
  Napi::Float64Array out = Napi::Float64Array::New(env, len * g_size);
  MPI_Request req;
  check(env, "mpiAllgatherF64", "MPI_Iallgather",
        MPI_Iallgather(send.Data(), static_cast<int>(len), MPI_DOUBLE, out.Data(), static_cast<int>(len), MPI_DOUBLE,
                       MPI_COMM_WORLD, &req));
  wait(env, "mpiAllgatherF64", "the all-gather", &req, timeout_arg(a, 1));
  return out;
}

// The P + 1 offsets `bounds` (argument i, a Float64Array: 0 = bounds[0] <= ... <= bounds[P], integers) as MPI
// counts and displacements; returns bounds[P], the length of the whole buffer.
int64_t shard_counts(const Napi::CallbackInfo& info, const Args& a, size_t i, std::vector<int>& count, std::vector<int>& displ) {
  const Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    a.type_error("argument 'bounds' must be a Float64Array");
  auto b = v.As<Napi::Float64Array>();
  if (b.ElementLength() != static_cast<size_t>(g_size) + 1)
    a.range_error("bounds has " + std::to_string(b.ElementLength()) + " offsets, expected ranks + 1 = " + std::to_string(g_size + 1));
  if (b[0] != 0) a.range_error("bounds must start at 0");
  count.resize(g_size);
  displ.resize(g_size);
  for (int r = 0; r < g_size; ++r) {
    const double lo = b[r], hi = b[r + 1];
    if (!(hi >= lo) || hi > static_cast<double>(INT32_MAX) || hi != static_cast<double>(static_cast<int64_t>(hi)))
      a.range_error("bounds must be non-decreasing integers below 2^31");
    displ[r] = static_cast<int>(lo);
    count[r] = static_cast<int>(hi - lo);
  }
  return static_cast<int64_t>(b[g_size]);
}

// mpiAllgatherv(buf: Float32Array, bounds: Float64Array, timeoutMs): in place, every rank's buf[bounds[r],
// bounds[r + 1]) = rank r's (ZeRO-1: each rank updated its shard of the weights; this shares them). Copies only.
Napi::Value Allgatherv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "mpiAllgatherv", 3);
  require_init(info, "mpiAllgatherv");
  std::vector<int> count, displ;
  const int64_t n = shard_counts(info, a, 1, count, displ);
  auto buf = a.f32(0, "buf", static_cast<size_t>(n));
  MPI_Request req;
  check(env, "mpiAllgatherv", "MPI_Iallgatherv",
        MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, buf.data, count.data(), displ.data(), MPI_FLOAT, MPI_COMM_WORLD, &req));
  wait(env, "mpiAllgatherv", "the all-gather of the shards", &req, timeout_arg(a, 2));
  return env.Undefined();
}

// mpiGatherv(send: Float32Array, recv: Float32Array | null, bounds: Float64Array, root, timeoutMs): rank r sends
// its shard `send` (bounds[r + 1] - bounds[r] floats); on `root`, recv[bounds[r], bounds[r + 1]) = rank r's shard
// (ZeRO-1 checkpoints: the AdamW moments to rank 0). recv is ignored (may be null) on the other ranks.
Napi::Value Gatherv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "mpiGatherv", 5);
  require_init(info, "mpiGatherv");
  const int root = static_cast<int>(a.integer(3, "root", 0, g_size - 1));
  std::vector<int> count, displ;
  const int64_t n = shard_counts(info, a, 2, count, displ);
  auto send = a.f32(0, "send", 0);
  if (send.len != static_cast<size_t>(count[g_rank]))
    a.range_error("send has " + std::to_string(send.len) + " floats, this rank's shard " + std::to_string(count[g_rank]));
  float* recv = g_rank == root ? a.f32(1, "recv", static_cast<size_t>(n)).data : nullptr;
  MPI_Request req;
  check(env, "mpiGatherv", "MPI_Igatherv",
        MPI_Igatherv(send.data, count[g_rank], MPI_FLOAT, recv, count.data(), displ.data(), MPI_FLOAT, root, MPI_COMM_WORLD,
                     &req));
  wait(env, "mpiGatherv", "the gather of the shards", &req, timeout_arg(a, 4));
  return env.Undefined();
}

// mpiAbort(code): MPI_Abort on MPI_COMM_WORLD (mpirun then ends every rank). Does not return.
Napi::Value Abort(const Napi::CallbackInfo& info) {
  Args a(info, "mpiAbort", 1);
  const int code = static_cast<int>(a.integer(0, "code", 0, 255));
  MPI_Abort(MPI_COMM_WORLD, code);
  return info.Env().Undefined();
}

// mpiFinalize(): MPI_Finalize (once; later MPI calls fail).
Napi::Value Finalize(const Napi::CallbackInfo& info) {
  Args a(info, "mpiFinalize", 0);
  require_init(info, "mpiFinalize");
  int done = 0;
  MPI_Finalized(&done);
  if (!done) check(info.Env(), "mpiFinalize", "MPI_Finalize", MPI_Finalize());
  g_inited = false;
  return info.Env().Undefined();
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("mpiInit", Napi::Function::New(env, Init, "mpiInit"));
  exports.Set("mpiBarrier", Napi::Function::New(env, Barrier, "mpiBarrier"));
  exports.Set("mpiBroadcast", Napi::Function::New(env, Broadcast, "mpiBroadcast"));
  exports.Set("mpiAllreduceSum", Napi::Function::New(env, AllreduceSum, "mpiAllreduceSum"));
  exports.Set("mpiAllgatherF64", Napi::Function::New(env, AllgatherF64, "mpiAllgatherF64"));
  exports.Set("mpiAllgatherv", Napi::Function::New(env, Allgatherv, "mpiAllgatherv"));
  exports.Set("mpiGatherv", Napi::Function::New(env, Gatherv, "mpiGatherv"));
  exports.Set("mpiAbort", Napi::Function::New(env, Abort, "mpiAbort"));
  exports.Set("mpiFinalize", Napi::Function::New(env, Finalize, "mpiFinalize"));
  return exports;
}

}  // namespace

NODE_API_MODULE(mosaicbert_mpi, InitModule)
