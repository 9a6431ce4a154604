// Internal interface between the dropout bindings (dropout.cc, portable path) and the AVX2 path (dropout_avx2.cc).
// Element i is kept iff (philox_word(seed, stream, i) >> 8) >= thresh, where thresh = ceil(float(p) * 2^24): exactly
// `philox_uniform(seed, stream, i) >= float(p)` (common/philox.h) in integer form.
#pragma once
#include <cstdint>

namespace mb {
namespace drop {

// Forward on elements [i0, i1) (i0 a multiple of 4): out[i] = keep ? x[i] * scale : 0, mask[i] = keep.
void fwd_avx2(const float* x, float* out, uint8_t* mask, uint64_t seed, uint64_t stream, uint32_t thresh,
              float scale, int64_t i0, int64_t i1);
void fwd_portable(const float* x, float* out, uint8_t* mask, uint64_t seed, uint64_t stream, uint32_t thresh,
                  float scale, int64_t i0, int64_t i1);
// Backward on [i0, i1): dx[i] = mask[i] ? dy[i] * scale : 0.
void bwd_avx2(const float* dy, const uint8_t* mask, float scale, float* dx, int64_t i0, int64_t i1);
void bwd_portable(const float* dy, const uint8_t* mask, float scale, float* dx, int64_t i0, int64_t i1);

}  // namespace drop
}  // namespace mb
