// Anchor for the AVX2 static library (compiled with -mavx2 -mfma): a self-check that the library's code really
// was built for AVX2, used by the portable side before it trusts the AVX2 path.
#include <immintrin.h>

namespace mb {
int avx2_library_self_check() {
#if defined(__AVX2__) && defined(__FMA__)
  __m256 a = _mm256_set1_ps(2.0f);
  __m256 r = _mm256_fmadd_ps(a, a, a);  // 6
  return static_cast<int>(_mm256_cvtss_f32(r));
#else
  return -1;
#endif
}
}  // namespace mb
