// AVX2 path of dropout: Philox4x32-10 for 8 blocks (32 random words) at once, bit-identical to common/philox.h.
// 32x32->64-bit products use _mm256_mul_epu32 on the even and the odd lanes; the four output words of each block
// are transposed into element order, compared with the threshold (unsigned), and packed into the byte mask.
#include <immintrin.h>

#include "common/philox.h"
#include "kernels/dropout/dropout.h"

namespace mb {
namespace drop {
namespace {

// (hi, lo) = 32x32 -> 64-bit product of every lane of c with the constant m (m broadcast in every 64-bit lane).
inline void mulhilo8(__m256i m, __m256i c, __m256i* hi, __m256i* lo) {
  __m256i pe = _mm256_mul_epu32(c, m);                         // lanes 0,2,4,6
  __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(c, 32), m);  // lanes 1,3,5,7
  *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
}

// keep (all-ones) iff w >= t, unsigned.
inline __m256i uge(__m256i w, __m256i t) { return _mm256_cmpeq_epi32(_mm256_max_epu32(w, t), w); }

}  // namespace

void fwd_avx2(const float* x, float* out, uint8_t* mask, uint64_t seed, uint64_t stream, uint32_t thresh,
              float scale, int64_t i0, int64_t i1) {
  const __m256i M0 = _mm256_set1_epi64x(0xD2511F53u), M1 = _mm256_set1_epi64x(0xCD9E8D57u);
  const __m256i T = _mm256_set1_epi32(static_cast<int>(thresh << 8));
  const __m256i s_lo = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream)));
  const __m256i s_hi = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream >> 32)));
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i one8 = _mm256_set1_epi8(1);
  const __m256 sc = _mm256_set1_ps(scale);
  int64_t i = i0;
  for (; i + 32 <= i1; i += 32) {
    const uint64_t blk = static_cast<uint64_t>(i) >> 2;
    alignas(32) uint32_t clo[8], chi[8];
    for (int j = 0; j < 8; ++j) {
      clo[j] = static_cast<uint32_t>(blk + j);
      chi[j] = static_cast<uint32_t>((blk + j) >> 32);
    }
    __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(clo));
    __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(chi));
    __m256i c2 = s_lo, c3 = s_hi;
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int r = 0; r < 10; ++r) {
      if (r) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
      __m256i hi0, lo0, hi1, lo1;
      mulhilo8(M0, c0, &hi0, &lo0);
      mulhilo8(M1, c2, &hi1, &lo1);
      __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
      __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
      c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    }
    // Transpose: element 4j + w is word w of block j.
    __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
    __m256i t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);  // blocks 0|4, 1|5
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);  // blocks 2|6, 3|7
    __m256i w[4] = {_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u2, u3, 0x20),
                    _mm256_permute2x128_si256(u0, u1, 0x31), _mm256_permute2x128_si256(u2, u3, 0x31)};
    __m256i k[4];
    for (int q = 0; q < 4; ++q) {
      k[q] = uge(w[q], T);
      __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * q), sc);
      _mm256_storeu_ps(out + i + 8 * q, _mm256_and_ps(v, _mm256_castsi256_ps(k[q])));
    }
    __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(k[0], k[1]), _mm256_packs_epi32(k[2], k[3]));
    b = _mm256_and_si256(_mm256_permutevar8x32_epi32(b, perm), one8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(mask + i), b);
  }
  if (i < i1) fwd_portable(x, out, mask, seed, stream, thresh, scale, i, i1);
}

void bwd_avx2(const float* dy, const uint8_t* mask, float scale, float* dx, int64_t i0, int64_t i1) {
  const __m256 sc = _mm256_set1_ps(scale);
  const __m256i zero = _mm256_setzero_si256();
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8) {
    __m256i m = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mask + i)));
    __m256i keep = _mm256_xor_si256(_mm256_cmpeq_epi32(m, zero), _mm256_set1_epi32(-1));
    _mm256_storeu_ps(dx + i, _mm256_and_ps(_mm256_mul_ps(_mm256_loadu_ps(dy + i), sc), _mm256_castsi256_ps(keep)));
  }
  if (i < i1) bwd_portable(dy, mask, scale, dx, i, i1);
}

}  // namespace drop
}  // namespace mb
