// The token-tiled driver of the inference linears whose weights are stored by output row (CSR, 1x4 BSR, int8
// dense and int8 1x4 BSR): Y[rows, out] = X[rows, in] @ W^T + bias, row-major.
//
// The kernels vectorise over TOKENS (the layout of ../shared/docs/obert.md §4.5): X is prepared one tile of TT
// tokens at a time into a transposed tile (fp32: Xt[k][t], in_pad x TT floats; int8: the quantized 4-byte groups
// Xq[g][t][0..3], in_pad/4 x TT x 4 bytes; tokens past the end are zero), and for every output row the kernel adds
// value x Xt row over that row's non-zeros into TT accumulators, so each weight (or 1x4 block) is loaded once per
// tile and each index addresses a contiguous run of TT tokens.
//
//   for each group of tiles (the prepared tiles of a group fit in kGroupBytes):
//     parallel over the group's tiles:          Kern::prep(tile)             (transpose, or quantize per token)
//     parallel over (chunk of output rows) x (tile of the group), chunk-major:
//       Kern::compute(rows o0..o1 of the chunk, tile) -> Yt[o - o0][t] (per-thread scratch)
//       Kern::store: Y[t0 + t, o] = dequantize(Yt) + bias[o]   for the tile's valid tokens
//
// Threads are balanced by non-zeros, not by rows: the chunks cut the output rows where the running cost
// (non-zeros, or 1x4 blocks, plus one per row for its store) crosses c/nchunks of the total; there are 4 chunks per
// thread and tasks are handed out dynamically. A kernel with `kChunkTasks` (fp32 v3) instead makes each compute
// task one chunk over all tiles of the group, with 8 chunks per thread and at least one per kChunkWeightBytes of
// weights (see ChunkTasks below); the others (fp32 v1, v2, v4, int8) keep the (chunk, tile) tasks.
// Determinism: every Y element is computed by one task with a fixed order of operations (its row's non-zeros in
// storage order, the same arithmetic in every tile position), so the result does not depend on the thread count,
// the chunking or which thread ran which task.
// Internal linkage, as sgemm_driver.h: included once per path with different target flags.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <type_traits>

#include "common/pool.h"
#include "kernels/sparse/sparse_linear.h"

namespace mb {
namespace {

constexpr int64_t kGroupBytes = int64_t(2) << 20;  // prepared X tiles per group: 2 MiB (L2 of both cores + L3)

// The calling thread's buffer for the prepared tiles (64-byte aligned, grown on demand, kept).
inline uint8_t* tile_buffer(size_t bytes) {
  struct Buf {
    uint8_t* p = nullptr;
    size_t n = 0;
    ~Buf() { std::free(p); }
  };
  thread_local Buf b;
  if (b.n < bytes) {
    std::free(b.p);
    b.p = static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64));
    if (!b.p) {
      b.n = 0;
      throw std::bad_alloc();
    }
    b.n = bytes;
  }
  return b.p;
}

// Cost of output rows [0, o): stored entries (non-zeros, or blocks) + one per row; dense int8 rows cost in/4 + 1.
inline int64_t row_cost_prefix(const SparseLinear& L, int64_t o) {
  return (L.rowptr ? static_cast<int64_t>(L.rowptr[o]) : o * (L.in_pad / 4)) + o;
}

// Kern: TT; kScratchPerRow (floats of per-thread scratch per output row of a chunk, >= TT: the first TT per row
// are the Yt the store reads); static int64_t tile_bytes(const SparseLinear&); static void prep(const SparseLinear&, const float* X,
// int64_t t0, int64_t nt, uint8_t* tile, float* xscale /* nt entries, int8 kernels */);
// static void compute(const SparseLinear&, int64_t o0, int64_t o1, const uint8_t* tile, void* yt /* [o1-o0][TT] */);
// static void store(const SparseLinear&, int64_t o0, int64_t o1, int64_t t0, int64_t nt, const void* yt,
// const float* xscale, float* Y).
// Optional Kern members (absent: the defaults): `static constexpr bool kChunkTasks = true` makes a compute task
// one chunk of output rows over ALL tiles of the group (tile after tile, so the chunk's weights, read from memory
// for the first tile, come from L2 for the others) instead of one (chunk, tile) pair; and
// `static int64_t weight_bytes(const SparseLinear&)` (the weights' bytes) then also sets a floor on the number of
// chunks, so that one chunk's weights stay within kChunkWeightBytes (they share L2 with one prepared tile).
// `static constexpr bool kTileTokens = true`: compute takes the tile's valid token count as a last argument
// (compute(L, o0, o1, tile, yt, nt)), so a kernel may skip the token lanes past nt (a request of 16 tokens fills
// half of a 32-token tile); it must still write Yt for the tokens below nt, which are all the store reads.
constexpr int64_t kChunkWeightBytes = int64_t(256) << 10;
template <class K, class = void>
struct ChunkTasks : std::false_type {};
template <class K>
struct ChunkTasks<K, std::void_t<decltype(K::kChunkTasks)>> : std::integral_constant<bool, K::kChunkTasks> {};
template <class K, class = void>
struct TileTokens : std::false_type {};
template <class K>
struct TileTokens<K, std::void_t<decltype(K::kTileTokens)>> : std::integral_constant<bool, K::kTileTokens> {};

template <class Kern>
void tiled_linear(const SparseLinear& L, const float* X, int64_t rows, float* Y) {
  constexpr int64_t TT = Kern::TT;
  constexpr bool kChunkTasks = ChunkTasks<Kern>::value;
  const int64_t out = L.out;
  if (rows <= 0 || out <= 0) return;
  const int64_t ntiles = (rows + TT - 1) / TT;
  const int64_t tb = (Kern::tile_bytes(L) + 63) / 64 * 64;
  const int64_t G = std::max<int64_t>(1, std::min<int64_t>(ntiles, kGroupBytes / std::max<int64_t>(tb, 1)));
  const int64_t nth = num_threads();
  int64_t nchunks = std::min<int64_t>(out, nth > 1 ? 4 * nth : 1);
  if constexpr (kChunkTasks) {  // a task covers all tiles: 8 per thread for the balance, and the weight cap
    const int64_t by_bytes = (Kern::weight_bytes(L) + kChunkWeightBytes - 1) / kChunkWeightBytes;
    nchunks = std::min<int64_t>({out, int64_t(4 * 256), std::max(nth > 1 ? 8 * nth : 1, by_bytes)});
  }
  // Chunk boundaries by cost.
  int64_t bounds[4 * 256 + 1];
  const int64_t total = row_cost_prefix(L, out);
  bounds[0] = 0;
  for (int64_t c = 1; c < nchunks; ++c) {
    const int64_t target = total * c / nchunks;
    int64_t lo = bounds[c - 1], hi = out;  // first o with prefix(o) >= target
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (row_cost_prefix(L, mid) < target)
        lo = mid + 1;
      else
        hi = mid;
    }
    bounds[c] = lo;
  }
  bounds[nchunks] = out;
  int64_t max_chunk = 0;
  for (int64_t c = 0; c < nchunks; ++c) max_chunk = std::max(max_chunk, bounds[c + 1] - bounds[c]);

  uint8_t* tiles = tile_buffer(static_cast<size_t>(G * tb + G * TT * 4));
  float* xscale = reinterpret_cast<float*>(tiles + G * tb);
  for (int64_t g0 = 0; g0 < ntiles; g0 += G) {
    const int64_t gn = std::min(G, ntiles - g0);
    parallel_for(gn, [&](int64_t i, int) {
      const int64_t t0 = (g0 + i) * TT;
      Kern::prep(L, X, t0, std::min(TT, rows - t0), tiles + i * tb, xscale + i * TT);
    });
    const int64_t tiles_per_task = kChunkTasks ? gn : 1;
    parallel_for(nchunks * (gn / tiles_per_task), [&](int64_t task, int thread) {
      const int64_t c = kChunkTasks ? task : task / gn;
      const int64_t o0 = bounds[c], o1 = bounds[c + 1];
      if (o1 <= o0) return;
      float* yt = thread_scratch(thread, static_cast<size_t>(max_chunk * Kern::kScratchPerRow));
      for (int64_t i = kChunkTasks ? 0 : task % gn, e = i + tiles_per_task; i < e; ++i) {
        const int64_t t0 = (g0 + i) * TT, nt = std::min(TT, rows - t0);
        if constexpr (TileTokens<Kern>::value)
          Kern::compute(L, o0, o1, tiles + i * tb, yt, nt);
        else
          Kern::compute(L, o0, o1, tiles + i * tb, yt);
        Kern::store(L, o0, o1, t0, nt, yt, xscale + i * TT, Y);
      }
    });
  }
}

// fp32 tile preparation shared by the CSR and BSR kernels: Xt[k][t] = X[t0 + t, k], zero for k >= in (up to
// in_pad) and for t >= nt. Written in 8 x 8 squares through a small local block, so reads and writes stay in lines.
template <int64_t TT>
inline void prep_transpose(const SparseLinear& L, const float* X, int64_t t0, int64_t nt, float* xt) {
  const int64_t in = L.in, in_pad = L.in_pad;
  for (int64_t k0 = 0; k0 < in_pad; k0 += 8) {
    for (int64_t tt = 0; tt < TT; tt += 8) {
      float blk[8][8];
      for (int64_t t = 0; t < 8; ++t) {
        const bool tv = tt + t < nt;
        const float* x = X + (t0 + tt + t) * in;
        for (int64_t k = 0; k < 8; ++k) blk[k][t] = tv && k0 + k < in ? x[k0 + k] : 0.0f;
      }
      const int64_t kn = std::min<int64_t>(8, in_pad - k0);
      for (int64_t k = 0; k < kn; ++k)
        for (int64_t t = 0; t < 8; ++t) xt[(k0 + k) * TT + tt + t] = blk[k][t];
    }
  }
}

// fp32 store: Y[t0 + t, o] = Yt[o - o0][t] + bias[o].
template <int64_t TT>
inline void store_f32(const SparseLinear& L, int64_t o0, int64_t o1, int64_t t0, int64_t nt, const float* yt,
                      float* Y) {
  const int64_t out = L.out;
  for (int64_t t = 0; t < nt; ++t) {
    float* __restrict y = Y + (t0 + t) * out;
    if (L.bias) {
      for (int64_t o = o0; o < o1; ++o) y[o] = yt[(o - o0) * TT + t] + L.bias[o];
    } else {
      for (int64_t o = o0; o < o1; ++o) y[o] = yt[(o - o0) * TT + t];
    }
  }
}

}  // namespace
}  // namespace mb
