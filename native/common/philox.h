// Philox4x32-10 counter-based generator (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
// Random number i of stream s under seed k is a pure function of (k, s, i), so dropout masks do not depend on the
// thread count or on the order in which tiles are computed, and a backward pass can regenerate the forward's mask.
// Mirrored bit for bit by src/kernels/reference/philox.ts.
#pragma once
#include <cstdint>

namespace mb {

struct Philox4 {
  uint32_t v[4];
};

inline Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    if (r) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
    uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
  }
  return {{c0, c1, c2, c3}};
}

// The 32-bit random word number `index` of stream `stream` under `seed`: word (index & 3) of the Philox block at
// counter (index >> 2, stream), key = seed.
inline uint32_t philox_word(uint64_t seed, uint64_t stream, uint64_t index) {
  uint64_t blk = index >> 2;
  Philox4 r = philox4x32_10(static_cast<uint32_t>(blk), static_cast<uint32_t>(blk >> 32),
                            static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                            static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return r.v[index & 3];
}

// Uniform float in [0, 1) with 24 random bits.
inline float philox_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  return static_cast<float>(philox_word(seed, stream, index) >> 8) * (1.0f / 16777216.0f);
}

// Dropout decision: element kept iff its uniform is >= p (so P(keep) = 1 - p).
inline bool dropout_keep(uint64_t seed, uint64_t stream, uint64_t index, float p) {
  return philox_uniform(seed, stream, index) >= p;
}

}  // namespace mb
