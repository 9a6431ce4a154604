// SGEMM, AVX2+FMA path (compiled with -mavx2 -mfma; only called when mb::use_avx2()).
//
// Micro-kernel: a 6x16 tile of C in 12 ymm accumulators; per k it loads one 16-float row of the packed B
// micro-panel (2 ymm) and broadcasts 6 floats of the packed A micro-panel, for 12 FMAs (the register layout of the
// BLIS Haswell/Zen sgemm kernel). 12 independent accumulators cover the FMA latency (4 cycles) x 2 FMA pipes of
// Zen 2/3 with margin; 12 + 2 + 2 = all 16 ymm registers. The k loop is GCC inline asm (unrolled x4): written
// with intrinsics, GCC 12 spilled accumulators to the stack and the kernel ran at ~78% of peak instead of ~97%.
// Blocking (KC 256, MC 144, NC <= 4080) follows BLIS's Zen configuration; 384/96, 320/120 and 512/72 measured
// the same within noise on this EPYC.
// Packing: op(B)^T and op(A) with rows along memory are transposed 8x8 in registers; contiguous cases are copies.
// The driver (loops, blocking, threading) is sgemm_driver.h.
#include <immintrin.h>

#include "common/transpose_avx2.h"

#include <cmath>

#include "kernels/gemm/sgemm_driver.h"
#include "kernels/gemm/sgemm_prepacked.h"

namespace mb {
namespace {

struct Avx2Kern {
  static constexpr int MR = 6, NR = 16;
  // KC x NR micro-panel of B = 16 KiB (half the 32 KiB L1d); MC x KC block of A = 144 KiB (in the 512 KiB L2);
  // KC x NC panel of B <= 4 MiB (in L3).
  static constexpr int64_t KC = 256, MC = 144, NC = 4080;

  static void pack_a(bool tA, const float* A, int64_t lda, int64_t i0, int64_t k0, int64_t mc, int64_t kc,
                     float* out) {
    if (tA) {
      // op(A)[i][k] = A[k*lda + i]: each k row of the block is contiguous. Loop over chunks of 16 k (16 rows of A
      // streamed), then over the micro-panels, so that neither reads nor writes stride across many pages.
      const int64_t full = mc / MR * MR;
      for (int64_t k1 = 0; k1 < kc; k1 += 16) {
        const int64_t k2 = std::min(kc, k1 + 16);
        for (int64_t ip = 0; ip < full; ip += MR) {
          float* o = out + ip * kc;
          const float* a = A + k0 * lda + i0 + ip;
          for (int64_t k = k1; k < k2; ++k) {
            const float* src = a + k * lda;
            _mm_storeu_ps(o + k * MR, _mm_loadu_ps(src));
            _mm_storel_pi(reinterpret_cast<__m64*>(o + k * MR + 4),
                          _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + 4))));
          }
        }
      }
      if (full < mc) pack_a_generic<MR>(true, A, lda, i0 + full, k0, mc - full, kc, out + full * kc);
      return;
    }
    // Rows of op(A) along memory: transpose 6 (padded to 8) rows x 8 k at a time; each k's 6 floats are written
    // with an 8-float store that the next k overwrites (the buffer has slack after its end).
    for (int64_t ip = 0; ip < mc; ip += MR) {
      const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ip));
      float* o = out + ip * kc;
      if (mr < MR) {
        pack_a_generic<MR>(false, A, lda, i0 + ip, k0, mr, kc, o);
        continue;
      }
      const float* a = A + (i0 + ip) * lda + k0;
      int64_t k = 0;
      for (; k + 8 <= kc; k += 8) {
        __m256 r0 = _mm256_loadu_ps(a + 0 * lda + k), r1 = _mm256_loadu_ps(a + 1 * lda + k);
        __m256 r2 = _mm256_loadu_ps(a + 2 * lda + k), r3 = _mm256_loadu_ps(a + 3 * lda + k);
        __m256 r4 = _mm256_loadu_ps(a + 4 * lda + k), r5 = _mm256_loadu_ps(a + 5 * lda + k);
        __m256 r6 = _mm256_setzero_ps(), r7 = _mm256_setzero_ps();
        transpose8(r0, r1, r2, r3, r4, r5, r6, r7);
        float* q = o + k * MR;
        _mm256_storeu_ps(q + 0 * MR, r0);
        _mm256_storeu_ps(q + 1 * MR, r1);
        _mm256_storeu_ps(q + 2 * MR, r2);
        _mm256_storeu_ps(q + 3 * MR, r3);
        _mm256_storeu_ps(q + 4 * MR, r4);
        _mm256_storeu_ps(q + 5 * MR, r5);
        _mm256_storeu_ps(q + 6 * MR, r6);
        // last one: exactly 6 floats (the next panel may already be written... it is not, but stay in bounds)
        _mm_storeu_ps(q + 7 * MR, _mm256_castps256_ps128(r7));
        _mm_storel_pi(reinterpret_cast<__m64*>(q + 7 * MR + 4), _mm256_extractf128_ps(r7, 1));
      }
      for (; k < kc; ++k)
        for (int r = 0; r < MR; ++r) o[k * MR + r] = a[r * lda + k];
    }
  }

  static void pack_b(bool tB, const float* B, int64_t ldb, int64_t k0, int64_t j0, int64_t kc, int64_t nc,
                     float* out) {
    if (!tB) {
      // Contiguous rows of B: chunks of 16 k (16 rows streamed), then the micro-panels (a TLB-friendly order).
      const int64_t full = nc / NR * NR;
      for (int64_t k1 = 0; k1 < kc; k1 += 16) {
        const int64_t k2 = std::min(kc, k1 + 16);
        for (int64_t jp = 0; jp < full; jp += NR) {
          float* o = out + jp * kc;
          const float* b = B + k0 * ldb + j0 + jp;
          for (int64_t k = k1; k < k2; ++k) {
            _mm256_store_ps(o + k * NR, _mm256_loadu_ps(b + k * ldb));
            _mm256_store_ps(o + k * NR + 8, _mm256_loadu_ps(b + k * ldb + 8));
          }
        }
      }
      if (full < nc) pack_b_generic<NR>(false, B, ldb, k0, j0 + full, kc, nc - full, out + full * kc);
      return;
    }
    // op(B)[k][j] = B[j*ldb + k]: 8 columns x 8 k transposed in registers.
    for (int64_t jp = 0; jp < nc; jp += NR) {
      const int64_t nr = std::min<int64_t>(NR, nc - jp);
      float* o = out + jp * kc;
      if (nr < NR) {
        pack_b_generic<NR>(true, B, ldb, k0, j0 + jp, kc, nr, o);
        continue;
      }
      for (int h = 0; h < 2; ++h) {
        const float* b = B + (j0 + jp + 8 * h) * ldb + k0;
        float* oh = o + 8 * h;
        int64_t k = 0;
        for (; k + 8 <= kc; k += 8) {
          __m256 r0 = _mm256_loadu_ps(b + 0 * ldb + k), r1 = _mm256_loadu_ps(b + 1 * ldb + k);
          __m256 r2 = _mm256_loadu_ps(b + 2 * ldb + k), r3 = _mm256_loadu_ps(b + 3 * ldb + k);
          __m256 r4 = _mm256_loadu_ps(b + 4 * ldb + k), r5 = _mm256_loadu_ps(b + 5 * ldb + k);
          __m256 r6 = _mm256_loadu_ps(b + 6 * ldb + k), r7 = _mm256_loadu_ps(b + 7 * ldb + k);
          transpose8(r0, r1, r2, r3, r4, r5, r6, r7);
          float* q = oh + k * NR;
          _mm256_store_ps(q + 0 * NR, r0);
          _mm256_store_ps(q + 1 * NR, r1);
          _mm256_store_ps(q + 2 * NR, r2);
          _mm256_store_ps(q + 3 * NR, r3);
          _mm256_store_ps(q + 4 * NR, r4);
          _mm256_store_ps(q + 5 * NR, r5);
          _mm256_store_ps(q + 6 * NR, r6);
          _mm256_store_ps(q + 7 * NR, r7);
        }
        for (; k < kc; ++k)
          for (int c = 0; c < 8; ++c) oh[k * NR + c] = b[c * ldb + k];
      }
    }
  }

  // C[0:mr, 0:nr] = alpha * (Ap @ Bp) + beta * C; the tile arithmetic is fma(alpha, acc, beta * c) (or
  // fma(alpha, acc, c) when beta == 1, alpha * acc when beta == 0) whether the tile is full or an edge.
  static void micro(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, float alpha, float beta,
                    int mr, int nr) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    const float* a = Ap;
    const float* b = Bp;
    // Prefetch the C tile (stored after the k loop) while the loop runs.
    for (int r = 0; r < mr; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc + 15), _MM_HINT_T0);
    }
    // The k loop in inline asm: GCC spills some of the 12 accumulators when this is written with intrinsics.
    // ymm12/13: B row (16 floats), ymm14/15: alternating A broadcasts; accumulators in the 12 other ymm.
    int64_t k4 = kc / 4, k1 = kc % 4;
    if (k4 > 0) {
      __asm__ volatile(
          ".p2align 5\n\t"
          "1:\n\t"
          "prefetcht0 384(%[a])\n\t"
          "vmovaps 0(%[b]), %%ymm12\n\t"
          "vmovaps 32(%[b]), %%ymm13\n\t"
          "vbroadcastss 0(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c00]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c01]\n\t"
          "vbroadcastss 4(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c10]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c11]\n\t"
          "vbroadcastss 8(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c20]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c21]\n\t"
          "vbroadcastss 12(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c30]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c31]\n\t"
          "vbroadcastss 16(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c40]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c41]\n\t"
          "vbroadcastss 20(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c50]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c51]\n\t"
          "vmovaps 64(%[b]), %%ymm12\n\t"
          "vmovaps 96(%[b]), %%ymm13\n\t"
          "vbroadcastss 24(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c00]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c01]\n\t"
          "vbroadcastss 28(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c10]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c11]\n\t"
          "vbroadcastss 32(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c20]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c21]\n\t"
          "vbroadcastss 36(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c30]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c31]\n\t"
          "vbroadcastss 40(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c40]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c41]\n\t"
          "vbroadcastss 44(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c50]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c51]\n\t"
          "vmovaps 128(%[b]), %%ymm12\n\t"
          "vmovaps 160(%[b]), %%ymm13\n\t"
          "vbroadcastss 48(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c00]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c01]\n\t"
          "vbroadcastss 52(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c10]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c11]\n\t"
          "vbroadcastss 56(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c20]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c21]\n\t"
          "vbroadcastss 60(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c30]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c31]\n\t"
          "vbroadcastss 64(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c40]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c41]\n\t"
          "vbroadcastss 68(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c50]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c51]\n\t"
          "vmovaps 192(%[b]), %%ymm12\n\t"
          "vmovaps 224(%[b]), %%ymm13\n\t"
          "vbroadcastss 72(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c00]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c01]\n\t"
          "vbroadcastss 76(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c10]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c11]\n\t"
          "vbroadcastss 80(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c20]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c21]\n\t"
          "vbroadcastss 84(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c30]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c31]\n\t"
          "vbroadcastss 88(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c40]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c41]\n\t"
          "vbroadcastss 92(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c50]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c51]\n\t"
          "add $96, %[a]\n\t"
          "add $256, %[b]\n\t"
          "dec %[k]\n\t"
          "jnz 1b\n\t"
          : [a] "+r"(a), [b] "+r"(b), [k] "+r"(k4), [c00] "+x"(c00), [c01] "+x"(c01), [c10] "+x"(c10),
            [c11] "+x"(c11), [c20] "+x"(c20), [c21] "+x"(c21), [c30] "+x"(c30), [c31] "+x"(c31),
            [c40] "+x"(c40), [c41] "+x"(c41), [c50] "+x"(c50), [c51] "+x"(c51)
          :
          : "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
    }
    if (k1 > 0) {
      __asm__ volatile(
          "1:\n\t"
          "vmovaps 0(%[b]), %%ymm12\n\t"
          "vmovaps 32(%[b]), %%ymm13\n\t"
          "vbroadcastss 0(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c00]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c01]\n\t"
          "vbroadcastss 4(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c10]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c11]\n\t"
          "vbroadcastss 8(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c20]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c21]\n\t"
          "vbroadcastss 12(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c30]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c31]\n\t"
          "vbroadcastss 16(%[a]), %%ymm14\n\t"
          "vfmadd231ps %%ymm12, %%ymm14, %[c40]\n\t"
          "vfmadd231ps %%ymm13, %%ymm14, %[c41]\n\t"
          "vbroadcastss 20(%[a]), %%ymm15\n\t"
          "vfmadd231ps %%ymm12, %%ymm15, %[c50]\n\t"
          "vfmadd231ps %%ymm13, %%ymm15, %[c51]\n\t"
          "add $24, %[a]\n\t"
          "add $64, %[b]\n\t"
          "dec %[k]\n\t"
          "jnz 1b\n\t"
          : [a] "+r"(a), [b] "+r"(b), [k] "+r"(k1), [c00] "+x"(c00), [c01] "+x"(c01), [c10] "+x"(c10),
            [c11] "+x"(c11), [c20] "+x"(c20), [c21] "+x"(c21), [c30] "+x"(c30), [c31] "+x"(c31),
            [c40] "+x"(c40), [c41] "+x"(c41), [c50] "+x"(c50), [c51] "+x"(c51)
          :
          : "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
    }
    const __m256 va = _mm256_set1_ps(alpha);
    if (mr == MR && nr == NR) {
      float* c = C;
#define MB_ROW(r)                                                                                           \
  {                                                                                                         \
    float* cr = c + (r) * ldc;                                                                              \
    if (beta == 0.0f) {                                                                                     \
      _mm256_storeu_ps(cr, _mm256_mul_ps(va, c##r##0));                                                     \
      _mm256_storeu_ps(cr + 8, _mm256_mul_ps(va, c##r##1));                                                 \
    } else if (beta == 1.0f) {                                                                              \
      _mm256_storeu_ps(cr, _mm256_fmadd_ps(va, c##r##0, _mm256_loadu_ps(cr)));                              \
      _mm256_storeu_ps(cr + 8, _mm256_fmadd_ps(va, c##r##1, _mm256_loadu_ps(cr + 8)));                      \
    } else {                                                                                                \
      const __m256 vb = _mm256_set1_ps(beta);                                                               \
      _mm256_storeu_ps(cr, _mm256_fmadd_ps(va, c##r##0, _mm256_mul_ps(vb, _mm256_loadu_ps(cr))));           \
      _mm256_storeu_ps(cr + 8, _mm256_fmadd_ps(va, c##r##1, _mm256_mul_ps(vb, _mm256_loadu_ps(cr + 8)))); \
    }                                                                                                       \
  }
      MB_ROW(0) MB_ROW(1) MB_ROW(2) MB_ROW(3) MB_ROW(4) MB_ROW(5)
#undef MB_ROW
      return;
    }
    alignas(32) float t[MR * NR];
    _mm256_store_ps(t + 0, c00);
    _mm256_store_ps(t + 8, c01);
    _mm256_store_ps(t + 16, c10);
    _mm256_store_ps(t + 24, c11);
    _mm256_store_ps(t + 32, c20);
    _mm256_store_ps(t + 40, c21);
    _mm256_store_ps(t + 48, c30);
    _mm256_store_ps(t + 56, c31);
    _mm256_store_ps(t + 64, c40);
    _mm256_store_ps(t + 72, c41);
    _mm256_store_ps(t + 80, c50);
    _mm256_store_ps(t + 88, c51);
    for (int r = 0; r < mr; ++r) {
      float* cr = C + r * ldc;
      const float* tr = t + r * NR;
      if (beta == 0.0f) {
        for (int j = 0; j < nr; ++j) cr[j] = alpha * tr[j];
      } else if (beta == 1.0f) {
        for (int j = 0; j < nr; ++j) cr[j] = std::fma(alpha, tr[j], cr[j]);
      } else {
        for (int j = 0; j < nr; ++j) cr[j] = std::fma(alpha, tr[j], beta * cr[j]);
      }
    }
  }
};

}  // namespace

// v2 on the AVX2 path: packed, blocked, threaded, 6x16 FMA micro-kernel.
void sgemm_v2_avx2(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                   int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_packed<Avx2Kern>(GemmArgs{transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc});
}

// Pre-packed inference linear (sgemm_prepacked.h) with this path's micro-kernel and panel layout.
int64_t linear_packed_floats_avx2(int64_t N, int64_t K) { return packed_w_floats<Avx2Kern>(N, K); }
void linear_pack_w_avx2(const float* W, int64_t N, int64_t K, float* out) { pack_w<Avx2Kern>(W, N, K, out); }
void linear_packed_avx2(int version, const float* X, int64_t M, int64_t K, const float* Wp, int64_t N,
                        const float* bias, float* Y) {
  linear_prepacked<Avx2Kern>(version, X, M, K, Wp, N, bias, Y);
}

}  // namespace mb
