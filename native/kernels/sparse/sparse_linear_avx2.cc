// AVX2+FMA fp32 sparse linears (CSR and 1x4 BSR), compiled with -mavx2 -mfma. The driver and the tile layout are
// tiled_driver.h; the arithmetic (entries split by parity, FMA in storage order) is described in sparse_linear.cc.
//
// Per output row and tile of 32 tokens: 8 ymm accumulators (4 for the even entries, 4 for the odd ones). A BSR
// block broadcasts its 4 values and does 16 FMAs against 4 consecutive Xt rows (512 contiguous bytes, the X
// columns 4g .. 4g+3 of the 32 tokens); a CSR entry does 4 FMAs against one Xt row. The Xt rows of the entries two
// ahead are prefetched (row walk, v1 and v4): they are addressed by index, which the hardware prefetcher cannot
// follow. The inner loop is bound by loads (a block: 16 Xt loads + 4 broadcasts for 16 FMAs) and by Xt arriving
// from L2 (a tile's Xt is 96 KiB at in = 768): ~50% of the FMA peak per core on a hot single matrix (72% when all
// blocks hit one L1-resident Xt block, a standalone experiment), ~40% in a model's forward.
//
// Versions (the binding's numbered entry points; the winner is v4; all four are bit-identical):
//   v1: each output row walks all its entries over the whole tile (in x 32 floats: 96 KiB at in = 768, 384 KiB at
//       3072). Every FMA takes its 32 bytes of Xt from L2, so at low sparsity the kernel is bound by L2 bandwidth.
//   v2: the same arithmetic, K-blocked: the index range is cut into chunks whose Xt slice is 16 KiB (32 block
//       columns / 128 columns; wider when the weight is so sparse that a row would have fewer than 8 blocks / 32
//       non-zeros per chunk, and v1 when that makes one chunk), and
//       for each chunk every row of the task continues its even/odd partial sums (kept in scratch) over its entries
//       in that chunk, so Xt is read from L1. A row's entries are still summed in storage order into the same two
//       partial sums, so v2 is bit-identical to v1 (entries need not be sorted: a chunk takes the row's next
//       entries while their index is below the chunk's end, the last chunk takes the rest).
//   v3: v2's arithmetic (bit-identical), scheduled for weights that are not in cache, as in a model's forward where
//       each projection's weights are read once: (a) a task is a chunk of output rows over ALL tiles of the group,
//       tile after tile, with chunks of at most 256 KiB of weights (tiled_driver.h `kChunkTasks`), so the weights
//       come from memory for the first tile and from L2 for the others (v1/v2: one task per (chunk, tile), a chunk
//       being 1/8 of the rows at 2 threads and ALL rows at 1 thread, so every tile re-read the weights from L3 or
//       memory); (b) the first K-chunk pass prefetches each row's weights (values and indices), 4 rows ahead, into
//       L2, because the later passes read each row's next few entries at a stride no hardware prefetcher follows.
//       On a single hot matrix (1 thread) the fastest version up to ~85% block sparsity (1.3-1.4x v1/v4 at 50%,
//       1.15-1.2x at 70%, 1.05-1.1x at 80%; up to 1.3x v2 at 50% and 3072 tokens), equal at 90% for in = 768; but
//       in a model's forward it loses to the row walk (below): the bigger tasks (a chunk over all tiles) balance
//       worse on 2 threads, and the K passes' partial sums cost more than Xt from L2 once the weights are cold.
//   v4: v1 (the row walk, (chunk, tile) tasks) prefetching only the first 64-byte line of each entry's Xt rows
//       two entries ahead (v1: all 8 lines of a block), the stream prefetchers fetching the rest of the 512
//       contiguous bytes: 1/8 of v1's prefetch loads in the load-bound loop.
//   Measured (AMD EPYC Zen 4, 2 cores shared with other jobs; 90% 1x4 blocks, MosaicBERT-base forward, versions
//   alternating in one process, `node bench/profile_inference.mjs --prune block4:0.9 --no-ort --versions 1,3,4`),
//   mean ms per forward: 1 x 128, 1 thread: v1 88.7, v3 91.3, v4 85.6; 2 threads: v1 56.2, v3 64.3, v4 54.0
//   (load average ~1.1); an earlier quiet run of v1/v2/v3 at 2 threads: 44.4 / 49.5 / 48.1. 2 threads, 80% blocks:
//   v3 83.9, v4 76.2; 90% unstructured (CSR): v1 52.1, v3 55.0, v4 52.5. Batch (b) (32 mixed lengths, `--case b`,
//   2 threads, 90% blocks): v1 1052, v3 1034, the row walk with the one-line prefetch 1045 (within 2%).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "common/transpose_avx2.h"
#include "kernels/sparse/tiled_driver.h"

namespace mb {
namespace {

constexpr int64_t TT = 32;

// Xt[k][t] = X[t0 + t, k] (zero past `in` and past nt tokens), 8 tokens x 8 columns per register transpose.
void prep_transpose_avx2(const SparseLinear& L, const float* X, int64_t t0, int64_t nt, float* xt) {
  const int64_t in = L.in, in_pad = L.in_pad, k8 = in / 8 * 8;
  for (int64_t tt = 0; tt < TT; tt += 8) {
    if (nt - tt < 8) {  // the tile's last, partial group of tokens
      for (int64_t k = 0; k < in_pad; ++k)
        for (int64_t t = 0; t < 8; ++t) xt[k * TT + tt + t] = tt + t < nt && k < in ? X[(t0 + tt + t) * in + k] : 0.0f;
      continue;
    }
    const float* x = X + (t0 + tt) * in;
    for (int64_t k = 0; k < k8; k += 8) {
      __m256 r0 = _mm256_loadu_ps(x + k), r1 = _mm256_loadu_ps(x + in + k), r2 = _mm256_loadu_ps(x + 2 * in + k),
             r3 = _mm256_loadu_ps(x + 3 * in + k), r4 = _mm256_loadu_ps(x + 4 * in + k),
             r5 = _mm256_loadu_ps(x + 5 * in + k), r6 = _mm256_loadu_ps(x + 6 * in + k),
             r7 = _mm256_loadu_ps(x + 7 * in + k);
      transpose8(r0, r1, r2, r3, r4, r5, r6, r7);
      float* q = xt + k * TT + tt;
      _mm256_store_ps(q, r0);
      _mm256_store_ps(q + TT, r1);
      _mm256_store_ps(q + 2 * TT, r2);
      _mm256_store_ps(q + 3 * TT, r3);
      _mm256_store_ps(q + 4 * TT, r4);
      _mm256_store_ps(q + 5 * TT, r5);
      _mm256_store_ps(q + 6 * TT, r6);
      _mm256_store_ps(q + 7 * TT, r7);
    }
    for (int64_t k = k8; k < in_pad; ++k)
      for (int64_t t = 0; t < 8; ++t) xt[k * TT + tt + t] = k < in ? x[t * in + k] : 0.0f;
  }
}

// Y[t0 + t, o] = Yt[o - o0][t] + bias[o] through 8x8 transposes (the scalar edge does the same single addition;
// without bias the value is stored as is).
void store_f32_avx2(const SparseLinear& L, int64_t o0, int64_t o1, int64_t t0, int64_t nt, const float* yt,
                    float* Y) {
  const int64_t out = L.out;
  for (int64_t tt = 0; tt < nt; tt += 8) {
    const int64_t nv = std::min<int64_t>(8, nt - tt);
    int64_t o = o0;
    for (; o + 8 <= o1; o += 8) {
      const float* y = yt + (o - o0) * TT + tt;
      __m256 r[8] = {_mm256_load_ps(y), _mm256_load_ps(y + TT), _mm256_load_ps(y + 2 * TT),
                     _mm256_load_ps(y + 3 * TT), _mm256_load_ps(y + 4 * TT), _mm256_load_ps(y + 5 * TT),
                     _mm256_load_ps(y + 6 * TT), _mm256_load_ps(y + 7 * TT)};
      transpose8(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
      if (L.bias) {
        const __m256 b = _mm256_loadu_ps(L.bias + o);
        for (int64_t j = 0; j < nv; ++j) _mm256_storeu_ps(Y + (t0 + tt + j) * out + o, _mm256_add_ps(r[j], b));
      } else {
        for (int64_t j = 0; j < nv; ++j) _mm256_storeu_ps(Y + (t0 + tt + j) * out + o, r[j]);
      }
    }
    for (; o < o1; ++o)
      for (int64_t j = 0; j < nv; ++j) {
        const float v = yt[(o - o0) * TT + tt + j];
        Y[(t0 + tt + j) * out + o] = L.bias ? v + L.bias[o] : v;
      }
  }
}

template <bool kBsr, int kVersion>
struct Avx2F32 {
  static constexpr int64_t TT = mb::TT;
  static constexpr int64_t kScratchPerRow = kVersion >= 2 ? 3 * TT + 2 : TT;
  static int64_t tile_bytes(const SparseLinear& L) { return L.in_pad * TT * 4; }
  // v3: a task is a chunk of rows over all tiles of the group, chunks of at most kChunkWeightBytes (tiled_driver.h).
  static constexpr bool kChunkTasks = kVersion == 3;
  static int64_t weight_bytes(const SparseLinear& L) { return static_cast<int64_t>(L.rowptr[L.out]) * (kBsr ? 20 : 8); }
  static void prep(const SparseLinear& L, const float* X, int64_t t0, int64_t nt, uint8_t* tile, float*) {
    prep_transpose_avx2(L, X, t0, nt, reinterpret_cast<float*>(tile));
  }
  static inline void entry(const float* xt, const float* vals, const int32_t* idx, int64_t p, __m256& c0,
                           __m256& c1, __m256& c2, __m256& c3) {
    if (kBsr) {
      const float* x = xt + static_cast<int64_t>(idx[p]) * 4 * TT;
      const float* v = vals + 4 * p;
      for (int q = 0; q < 4; ++q) {
        const __m256 w = _mm256_broadcast_ss(v + q);
        const float* xq = x + q * TT;
        c0 = _mm256_fmadd_ps(w, _mm256_load_ps(xq), c0);
        c1 = _mm256_fmadd_ps(w, _mm256_load_ps(xq + 8), c1);
        c2 = _mm256_fmadd_ps(w, _mm256_load_ps(xq + 16), c2);
        c3 = _mm256_fmadd_ps(w, _mm256_load_ps(xq + 24), c3);
      }
    } else {
      const float* x = xt + static_cast<int64_t>(idx[p]) * TT;
      const __m256 w = _mm256_broadcast_ss(vals + p);
      c0 = _mm256_fmadd_ps(w, _mm256_load_ps(x), c0);
      c1 = _mm256_fmadd_ps(w, _mm256_load_ps(x + 8), c1);
      c2 = _mm256_fmadd_ps(w, _mm256_load_ps(x + 16), c2);
      c3 = _mm256_fmadd_ps(w, _mm256_load_ps(x + 24), c3);
    }
  }
  static inline void prefetch(const float* xt, const int32_t* idx, int64_t p) {
    const char* x = reinterpret_cast<const char*>(xt + static_cast<int64_t>(idx[p]) * (kBsr ? 4 : 1) * TT);
    // v1: every line of the entry's Xt rows (BSR: 512 bytes); v4: the first line only, which the L1/L2 stream
    // prefetchers follow for the rest of a BSR block's 8 contiguous lines, at 1/8 of the prefetch loads.
    for (int l = 0; l < (kVersion >= 4 ? 1 : kBsr ? 8 : 2); ++l) _mm_prefetch(x + 64 * l, _MM_HINT_T0);
  }
  static void compute(const SparseLinear& L, int64_t o0, int64_t o1, const uint8_t* tile, float* yt) {
    if (kVersion == 2 || kVersion == 3)
      compute_kblocked(L, o0, o1, tile, yt);
    else
      compute_rows(L, o0, o1, tile, yt);
  }
  // v3: the first K-chunk pass also brings the whole weight row kWeightAhead rows ahead (values and indices) into
  // L2. The later passes read each row's next entries, a short piece per row at a stride the hardware prefetcher
  // does not follow; with the weights not in cache (a model's weights are read once per forward) every such
  // piece would wait for memory. Into L2, not L1: a task's rows hold more weights than L1, and they would evict Xt.
  static constexpr int64_t kWeightAhead = 4;
  static inline void prefetch_row_weights(const SparseLinear& L, int64_t o) {
    const int64_t per = kBsr ? 16 : 4;  // bytes of values per entry
    const char* v = static_cast<const char*>(L.vals);
    for (int64_t a = L.rowptr[o] * per, b = L.rowptr[o + 1] * per; a < b; a += 64) _mm_prefetch(v + a, _MM_HINT_T1);
    const char* ix = reinterpret_cast<const char*>(L.idx);
    for (int64_t a = L.rowptr[o] * 4, b = L.rowptr[o + 1] * 4; a < b; a += 64) _mm_prefetch(ix + a, _MM_HINT_T1);
  }
  static void compute_kblocked(const SparseLinear& L, int64_t o0, int64_t o1, const uint8_t* tile, float* yt) {
    const float* xt = reinterpret_cast<const float*>(tile);
    const float* vals = static_cast<const float*>(L.vals);
    const int32_t* idx = L.idx;
    const int64_t n = o1 - o0;
    float* part = yt + n * TT;                                     // [n][even, odd][TT]
    int64_t* cur = reinterpret_cast<int64_t*>(part + n * 2 * TT);  // next entry of each row
    std::memset(part, 0, sizeof(float) * static_cast<size_t>(n * 2 * TT));
    for (int64_t r = 0; r < n; ++r) cur[r] = L.rowptr[o0 + r];
    const int64_t nidx = kBsr ? L.in_pad / 4 : L.in;
    const double density = static_cast<double>(L.rowptr[L.out]) / (static_cast<double>(L.out) * nidx);
    int64_t width = kBsr ? 32 : 128;
    if (density > 0.0) width = std::max<int64_t>(width, static_cast<int64_t>((kBsr ? 8.0 : 32.0) / density));
    if (width >= nidx) {  // one chunk: the plain row walk is the same arithmetic without the partial sums' traffic
      compute_rows(L, o0, o1, tile, yt);
      return;
    }
    for (int64_t c0 = 0; c0 < nidx; c0 += width) {
      const int64_t c1 = c0 + width >= nidx ? INT64_MAX : c0 + width;
      for (int64_t r = 0; r < n; ++r) {
        const int64_t o = o0 + r, e = L.rowptr[o + 1];
        int64_t p = cur[r];
        if (kVersion >= 3 && c0 == 0 && r + kWeightAhead < n) prefetch_row_weights(L, o + kWeightAhead);
        if (p >= e || idx[p] >= c1) continue;
        float* pa = part + r * 2 * TT;
        __m256 a0 = _mm256_load_ps(pa), a1 = _mm256_load_ps(pa + 8), a2 = _mm256_load_ps(pa + 16),
               a3 = _mm256_load_ps(pa + 24);
        __m256 b0 = _mm256_load_ps(pa + 32), b1 = _mm256_load_ps(pa + 40), b2 = _mm256_load_ps(pa + 48),
               b3 = _mm256_load_ps(pa + 56);
        if ((p - L.rowptr[o]) & 1) entry(xt, vals, idx, p++, b0, b1, b2, b3);
        for (; p + 2 <= e && idx[p] < c1 && idx[p + 1] < c1; p += 2) {
          entry(xt, vals, idx, p, a0, a1, a2, a3);
          entry(xt, vals, idx, p + 1, b0, b1, b2, b3);
        }
        if (p < e && idx[p] < c1) entry(xt, vals, idx, p++, a0, a1, a2, a3);
        cur[r] = p;
        _mm256_store_ps(pa, a0);
        _mm256_store_ps(pa + 8, a1);
        _mm256_store_ps(pa + 16, a2);
        _mm256_store_ps(pa + 24, a3);
        _mm256_store_ps(pa + 32, b0);
        _mm256_store_ps(pa + 40, b1);
        _mm256_store_ps(pa + 48, b2);
        _mm256_store_ps(pa + 56, b3);
      }
    }
    for (int64_t r = 0; r < n; ++r) {
      const float* pa = part + r * 2 * TT;
      float* y = yt + r * TT;
      for (int64_t i = 0; i < TT; i += 8)
        _mm256_store_ps(y + i, _mm256_add_ps(_mm256_load_ps(pa + i), _mm256_load_ps(pa + TT + i)));
    }
  }
  static void compute_rows(const SparseLinear& L, int64_t o0, int64_t o1, const uint8_t* tile, float* yt) {
    const float* xt = reinterpret_cast<const float*>(tile);
    const float* vals = static_cast<const float*>(L.vals);
    const int32_t* idx = L.idx;
    for (int64_t o = o0; o < o1; ++o) {
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      int64_t p = L.rowptr[o];
      const int64_t e = L.rowptr[o + 1];
      for (; p + 2 <= e; p += 2) {
        if (p + 4 <= e) {
          prefetch(xt, idx, p + 2);
          prefetch(xt, idx, p + 3);
        }
        entry(xt, vals, idx, p, a0, a1, a2, a3);
        entry(xt, vals, idx, p + 1, b0, b1, b2, b3);
      }
      if (p < e) entry(xt, vals, idx, p, a0, a1, a2, a3);
      float* y = yt + (o - o0) * TT;
      _mm256_store_ps(y, _mm256_add_ps(a0, b0));
      _mm256_store_ps(y + 8, _mm256_add_ps(a1, b1));
      _mm256_store_ps(y + 16, _mm256_add_ps(a2, b2));
      _mm256_store_ps(y + 24, _mm256_add_ps(a3, b3));
    }
  }
  static void store(const SparseLinear& L, int64_t o0, int64_t o1, int64_t t0, int64_t nt, const float* yt,
                    const float*, float* Y) {
    store_f32_avx2(L, o0, o1, t0, nt, yt, Y);
  }
};

}  // namespace

void sparse_linear_avx2(int version, const SparseLinear& L, const float* X, int64_t rows, float* Y) {
  const bool bsr = L.kind == SparseKind::kBsr4;
  if (version >= 4)
    bsr ? tiled_linear<Avx2F32<true, 4>>(L, X, rows, Y) : tiled_linear<Avx2F32<false, 4>>(L, X, rows, Y);
  else if (version == 3)
    bsr ? tiled_linear<Avx2F32<true, 3>>(L, X, rows, Y) : tiled_linear<Avx2F32<false, 3>>(L, X, rows, Y);
  else if (version == 2)
    bsr ? tiled_linear<Avx2F32<true, 2>>(L, X, rows, Y) : tiled_linear<Avx2F32<false, 2>>(L, X, rows, Y);
  else
    bsr ? tiled_linear<Avx2F32<true, 1>>(L, X, rows, Y) : tiled_linear<Avx2F32<false, 1>>(L, X, rows, Y);
}

}  // namespace mb
