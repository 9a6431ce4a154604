// INT8 linears, version 3 (AVX-512 VNNI on zmm, register-blocked). See qlinear.h for the math, qlinear.cc for the
// tile layout, qlinear_avx2.cc for v1/v2.
//
// What limited v2 (measured on the AMD EPYC of this project, Zen 4: VPDPBUSD has a latency of ~4 cycles and a
// throughput of ~2 ymm or ~1 zmm per cycle, i.e. 64 int8 multiply-adds per cycle either way): v2 keeps one output
// row's 4 ymm accumulators plus the offset correction in flight, 5 dependent chains of latency 4, so it issues ~1.25
// VPDPBUSD per cycle of which 1 is useful: ~32 MACs per cycle, half the peak, and every row reloads the tile.
//
// v3:
//   dense: a block of R = 8 output rows x the tile's 32 tokens (2 zmm of 16 tokens each) = 16 zmm accumulators,
//          16 independent chains: per 4-column group the two tile vectors are loaded once for all 8 rows and each
//          row's 4 weights are broadcast once (2 loads + 8 broadcasts per 16 VPDPBUSD). Row blocks of 4, then single
//          rows, take what is left of a chunk.
//   BSR4:  one row at a time (its blocks address different tile groups than the next row's), the row's blocks
//          dealt alternately to 2 sets of 2 zmm accumulators (4 chains), added at the end.
//   Both: the tile holds xu = q + 128 (u8, prepared with the offset, as v2), and sum_k xu w = sum_k q w + 128 sum_k w.
//         v2 accumulated 128 * sum_k w with one more VPDPBUSD per group; v3 takes it per row from the caller
//         (Int8Linear computes it once at construction), or else computes it per row and tile from the row's
//         contiguous weight bytes (one VPDPBUSD against ones per 64 bytes, then a horizontal sum: ~10% of a dense
//         row's time at in = 768, more for a short BSR4 row).
// Every sum is exact in int32 modulo 2^32 (VPDPBUSD wraps, it does not saturate), and the true sum fits in int32
// (|sum q w| <= 127 * 127 * in), so the result equals v1's and v2's integer for integer whatever the order; the
// dequantizing store is v1's. Without VNNI, v3 runs v1.
//
// Measured (one thread, this project's Zen 4, bench/int8_throughput.c for the bound): VPDPBUSD peaks at ~235 G int8
// MAC/s per core on zmm (~220 on ymm); on the base projections v1 runs at ~55, v2 at ~105, v3 at ~190 G MAC/s
// (~80% of the peak; the rest: tile preparation, the dequantizing store, row-block edges). 12 rows per block (24
// accumulators) measured 2x slower than 8 (register pressure: spills); the K = 3072 tile (96 KiB) streams from L2
// at 128 bytes per 16 VPDPBUSD, well inside L2's bandwidth, so wo needs no K-blocking (it runs as fast as in = 768).
#include <immintrin.h>

#include <cstring>

#include "common/cpu.h"
#include "kernels/quant/qlinear.h"
#include "kernels/quant/qlinear_avx2_common.h"
#include "kernels/sparse/tiled_driver.h"

namespace mb {
namespace {

constexpr int64_t TT = 32;  // tokens per tile: 128 bytes per 4-column group, two zmm

#define MB_TARGET_V3 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))

// 128 * (sum of the n int8 weights w), modulo 2^32 (the correction of the q + 128 offset).
MB_TARGET_V3 inline int32_t offset_correction(const int8_t* w, int64_t n) {
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i s = _mm512_setzero_si512();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) s = _mm512_dpbusd_epi32(s, ones, _mm512_loadu_si512(w + i));
  if (i < n) {
    const __mmask64 m = (uint64_t(1) << (n - i)) - 1;  // n - i in 1 .. 63
    s = _mm512_dpbusd_epi32(s, ones, _mm512_maskz_loadu_epi8(m, w + i));
  }
  alignas(64) uint32_t v[16];  // (GCC 12's _mm512_reduce_add_epi32 warns of an uninitialised temporary)
  _mm512_store_si512(v, s);
  uint32_t sum = 0;
  for (int j = 0; j < 16; ++j) sum += v[j];
  return static_cast<int32_t>(sum * 128u);
}

MB_TARGET_V3 inline __m512i bcast4_512(const int8_t* w) {
  int32_t v;
  std::memcpy(&v, w, 4);
  return _mm512_set1_epi32(v);
}

// The per-row correction 128 * sum_k q[o, k] of the q + 128 offset (mod 2^32): the caller's (L.row_corr, computed
// once by Int8Linear) or, without it, computed here.
MB_TARGET_V3 inline int32_t row_correction(const SparseLinear& L, int64_t o, const int8_t* w, int64_t n) {
  const int32_t* rc = L.row_corr;
  return rc ? rc[o] : offset_correction(w, n);
}

// y[r * TT + t] = sum over the row's groups of q w for R consecutive dense rows o .. o + R - 1 (w: row o, ldw =
// in_pad bytes). kHalf: only the tile's first 16 tokens (the tile holds at most 16 valid ones; y's other half is
// left unwritten, the store never reads it).
template <int R, bool kHalf>
MB_TARGET_V3 __attribute__((always_inline)) inline void dense_rows(const SparseLinear& L, int64_t o, const int8_t* w,
                                                                   int64_t ldw, const uint8_t* tile, int32_t* y) {
  __m512i lo[R], hi[R];
  for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm512_setzero_si512();
  const int64_t ng = ldw / 4;
  for (int64_t g = 0; g < ng; ++g) {
    const __m512i x0 = _mm512_load_si512(tile + g * TT * 4);
    const __m512i x1 = kHalf ? x0 : _mm512_load_si512(tile + g * TT * 4 + 64);
    for (int r = 0; r < R; ++r) {
      const __m512i wv = bcast4_512(w + r * ldw + 4 * g);
      lo[r] = _mm512_dpbusd_epi32(lo[r], x0, wv);
      if (!kHalf) hi[r] = _mm512_dpbusd_epi32(hi[r], x1, wv);
    }
  }
  for (int r = 0; r < R; ++r) {
    const __m512i c = _mm512_set1_epi32(row_correction(L, o + r, w + r * ldw, ldw));
    _mm512_storeu_si512(y + r * TT, _mm512_sub_epi32(lo[r], c));
    if (!kHalf) _mm512_storeu_si512(y + r * TT + 16, _mm512_sub_epi32(hi[r], c));
  }
}

template <bool kHalf>
MB_TARGET_V3 inline void dense_chunk(const SparseLinear& L, int64_t o0, int64_t o1, const uint8_t* tile, int32_t* y) {
  const int8_t* vals = static_cast<const int8_t*>(L.vals);
  const int64_t ldw = L.in_pad;
  int64_t o = o0;
  for (; o + 8 <= o1; o += 8) dense_rows<8, kHalf>(L, o, vals + o * ldw, ldw, tile, y + (o - o0) * TT);
  for (; o + 4 <= o1; o += 4) dense_rows<4, kHalf>(L, o, vals + o * ldw, ldw, tile, y + (o - o0) * TT);
  for (; o < o1; ++o) dense_rows<1, kHalf>(L, o, vals + o * ldw, ldw, tile, y + (o - o0) * TT);
}

// y[t] = sum over row o's stored blocks of q w. The blocks alternate between 2 sets of 2 zmm accumulators: 4
// chains, enough for one VPDPBUSD per cycle, since a block costs 2 zmm tile loads, its index and its broadcast
// (~3 cycles of load ports for 2 VPDPBUSD). Software prefetch of the tile groups ahead measured no faster, also for
// the 96 KiB tile of in = 3072 (L2 hits), so there is none.
template <bool kHalf>
MB_TARGET_V3 inline void bsr_row(const SparseLinear& L, int64_t o, const uint8_t* tile, int32_t* y) {
  const int8_t* vals = static_cast<const int8_t*>(L.vals);
  const int32_t* idx = L.idx;
  const int64_t b = L.rowptr[o], e = L.rowptr[o + 1];
  __m512i lo0 = _mm512_setzero_si512(), hi0 = lo0, lo1 = lo0, hi1 = lo0;
  int64_t p = b;
  for (; p + 2 <= e; p += 2) {
    const uint8_t* x0 = tile + static_cast<int64_t>(idx[p]) * TT * 4;
    const uint8_t* x1 = tile + static_cast<int64_t>(idx[p + 1]) * TT * 4;
    const __m512i w0 = bcast4_512(vals + 4 * p), w1 = bcast4_512(vals + 4 * p + 4);
    lo0 = _mm512_dpbusd_epi32(lo0, _mm512_load_si512(x0), w0);
    if (!kHalf) hi0 = _mm512_dpbusd_epi32(hi0, _mm512_load_si512(x0 + 64), w0);
    lo1 = _mm512_dpbusd_epi32(lo1, _mm512_load_si512(x1), w1);
    if (!kHalf) hi1 = _mm512_dpbusd_epi32(hi1, _mm512_load_si512(x1 + 64), w1);
  }
  if (p < e) {
    const uint8_t* x = tile + static_cast<int64_t>(idx[p]) * TT * 4;
    const __m512i wv = bcast4_512(vals + 4 * p);
    lo0 = _mm512_dpbusd_epi32(lo0, _mm512_load_si512(x), wv);
    if (!kHalf) hi0 = _mm512_dpbusd_epi32(hi0, _mm512_load_si512(x + 64), wv);
  }
  const __m512i c = _mm512_set1_epi32(row_correction(L, o, vals + 4 * b, 4 * (e - b)));
  _mm512_storeu_si512(y, _mm512_sub_epi32(_mm512_add_epi32(lo0, lo1), c));
  if (!kHalf) _mm512_storeu_si512(y + 16, _mm512_sub_epi32(_mm512_add_epi32(hi0, hi1), c));
}

template <bool kDense>
struct VnniQ8V3 {
  static constexpr int64_t TT = mb::TT;
  static constexpr int64_t kScratchPerRow = TT;
  static int64_t tile_bytes(const SparseLinear& L) { return L.in_pad * TT; }
  static void prep(const SparseLinear& L, const float* X, int64_t t0, int64_t nt, uint8_t* tile, float* sx) {
    q8_prep_avx2<TT, true>(L, X, t0, nt, tile, sx);
  }
  // A tile of at most 16 valid tokens (one short request, or the last tile of a batch) computes only its first
  // zmm of tokens: half the VPDPBUSDs and tile loads, the same integers for the tokens the store reads.
  static constexpr bool kTileTokens = true;
  MB_TARGET_V3 static void compute(const SparseLinear& L, int64_t o0, int64_t o1, const uint8_t* tile, float* yt,
                                   int64_t nt) {
    int32_t* y = reinterpret_cast<int32_t*>(yt);
    const bool half = nt <= 16;
    if (kDense) {
      half ? dense_chunk<true>(L, o0, o1, tile, y) : dense_chunk<false>(L, o0, o1, tile, y);
    } else if (half) {
      for (int64_t o = o0; o < o1; ++o) bsr_row<true>(L, o, tile, y + (o - o0) * TT);
    } else {
      for (int64_t o = o0; o < o1; ++o) bsr_row<false>(L, o, tile, y + (o - o0) * TT);
    }
  }
  static void store(const SparseLinear& L, int64_t o0, int64_t o1, int64_t t0, int64_t nt, const float* yt,
                    const float* sx, float* Y) {
    q8_store_avx2<TT>(L, o0, o1, t0, nt, reinterpret_cast<const int32_t*>(yt), sx, Y);
  }
};

}  // namespace

bool q8_linear_avx2_v3(const SparseLinear& L, const float* X, int64_t rows, float* Y) {
  if (!cpu_has_avx512vnni()) return false;
  if (L.kind == SparseKind::kQ8Dense)
    tiled_linear<VnniQ8V3<true>>(L, X, rows, Y);
  else
    tiled_linear<VnniQ8V3<false>>(L, X, rows, Y);
  return true;
}

}  // namespace mb
