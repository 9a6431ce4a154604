// Small float32 vector primitives shared by the embedding, rows and loss kernels, in two builds: the AVX2+FMA one
// (vec_avx2.cc, compiled with -mavx2 -mfma) and the portable one (rows.cc); the dispatching wrappers pick one by
// mb::use_avx2(). Every primitive is elementwise with one IEEE operation per element (or, for the float64
// reductions, a fixed summation order inside one call), so results never depend on how callers split the work.
#pragma once
#include <cstdint>

namespace mb {

// out[i] = a[i] + b[i] (float32; out may alias a or b).
void vec_add_avx2(float* out, const float* a, const float* b, int64_t n);
void vec_add_portable(float* out, const float* a, const float* b, int64_t n);
// dst[i] += src[i] (float32).
void vec_acc_avx2(float* dst, const float* src, int64_t n);
void vec_acc_portable(float* dst, const float* src, int64_t n);
// y[i] = float32(a * x[i] + b * y[i]) with the arithmetic in float64; b == 0 writes float32(a * x[i]) without
// reading y.
void vec_axpby_avx2(int64_t n, double a, const float* x, double b, float* y);
void vec_axpby_portable(int64_t n, double a, const float* x, double b, float* y);
// sum_i x[i]^2 in float64, in a fixed order for a given n (the order differs between the two builds).
double vec_sumsq_avx2(const float* x, int64_t n);
double vec_sumsq_portable(const float* x, int64_t n);

// Dispatching wrappers (defined in rows.cc).
void vec_add(float* out, const float* a, const float* b, int64_t n);
void vec_acc(float* dst, const float* src, int64_t n);

}  // namespace mb
