// Peak int8 dot-product rates of this CPU, per core: the bound of the INT8 kernels (native/kernels/quant/).
// Register-only loops (no loads): VPDPBUSD latency (one dependent chain) and throughput (12 independent chains) on
// ymm and zmm, and the AVX2 sign-trick sequence of qlinear v1 (vpabsb, vpsignb, vpmaddubsw, vpmaddwd, vpaddd per
// 8 tokens x 4 columns) over 8 chains. Rates in G instructions/s and G int8 multiply-adds/s; the dependent
// integer add chain gives the clock (one add per cycle).
//
//   gcc -O3 bench/int8_throughput.c -o /tmp/int8_throughput && flock /tmp/cpu-bench.lock /tmp/int8_throughput
//
// Measured here (AMD EPYC, Zen 4, family 25 model 17, 2026-11-29): clock ~3.6 GHz; VPDPBUSD latency 1.10 ns
// (~4 cycles); ymm 6.4 G/s = 206 G MAC/s (~1.8 per cycle); zmm 3.7 G/s = 235 G MAC/s (~1 per cycle); sign trick
// 56 G MAC/s. qlinear v1 runs at ~55, v2 at ~105 (latency-bound: 5 chains of 4 cycles), v3 at ~190 G MAC/s per
// thread on the base projections (src/bench/linear.ts, bench/profile_q8.mjs).
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define N 100000000L
#define VNNI __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512vnni"), noinline))

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

VNNI static int dp_ymm_chains(void) {
  __m256i a[12];
  for (int i = 0; i < 12; i++) a[i] = _mm256_set1_epi32(i);
  __m256i x = _mm256_set1_epi8(3), w = _mm256_set1_epi8(5);
  for (long n = 0; n < N / 12; n++) {
    _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++) a[i] = _mm256_dpbusd_epi32(a[i], x, w);
    __asm__ volatile("" : "+x"(x), "+x"(w));
  }
  __m256i s = a[0];
  for (int i = 1; i < 12; i++) s = _mm256_add_epi32(s, a[i]);
  return _mm256_extract_epi32(s, 0);
}

VNNI static int dp_zmm_chains(void) {
  __m512i a[12];
  for (int i = 0; i < 12; i++) a[i] = _mm512_set1_epi32(i);
  __m512i x = _mm512_set1_epi8(3), w = _mm512_set1_epi8(5);
  for (long n = 0; n < N / 12; n++) {
    _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++) a[i] = _mm512_dpbusd_epi32(a[i], x, w);
    __asm__ volatile("" : "+v"(x), "+v"(w));
  }
  __m512i s = a[0];
  for (int i = 1; i < 12; i++) s = _mm512_add_epi32(s, a[i]);
  return _mm_cvtsi128_si32(_mm512_castsi512_si128(s));
}

VNNI static int dp_latency(void) {
  __m256i a = _mm256_set1_epi32(1), x = _mm256_set1_epi8(3), w = _mm256_set1_epi8(5);
  for (long n = 0; n < N; n++) a = _mm256_dpbusd_epi32(a, x, w);
  return _mm256_extract_epi32(a, 0);
}

__attribute__((target("avx2"), noinline)) static int sign_trick_chains(void) {
  __m256i a[8], xs[8];
  for (int i = 0; i < 8; i++) a[i] = _mm256_set1_epi32(i), xs[i] = _mm256_set1_epi8((char)(-3 - i));
  const __m256i w = _mm256_set1_epi8(5), ones = _mm256_set1_epi16(1);
  for (long n = 0; n < N / 8; n++) {
    _Pragma("GCC unroll 8") for (int i = 0; i < 8; i++) {
      __asm__ volatile("" : "+x"(xs[i]));  // a fresh x every time: |x| and sign(w, x) are not hoisted
      const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(xs[i]), _mm256_sign_epi8(w, xs[i]));
      a[i] = _mm256_add_epi32(a[i], _mm256_madd_epi16(p, ones));
    }
  }
  __m256i s = a[0];
  for (int i = 1; i < 8; i++) s = _mm256_add_epi32(s, a[i]);
  return _mm256_extract_epi32(s, 0);
}

__attribute__((noinline)) static long add_chain(void) {
  long a = 0;
  for (long n = 0; n < N; n++) __asm__ volatile("add $1, %0" : "+r"(a));
  return a;
}

int main(void) {
  __builtin_cpu_init();
  double t = now();
  long r = add_chain();
  const double per = (now() - t) / N;
  printf("dependent integer adds: %.2f G/s (~ the clock in GHz)\n", 1e-9 / per);
  if (!__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512vl")) {
    printf("no AVX-512 VNNI: VPDPBUSD rates skipped\n");
  } else {
    t = now();
    r += dp_latency();
    printf("VPDPBUSD ymm latency: %.3f ns (%.1f cycles)\n", (now() - t) / N * 1e9, (now() - t) / N / per);
    t = now();
    r += dp_ymm_chains();
    double s = (now() - t) / N;
    printf("VPDPBUSD ymm: %.2f G/s = %.0f G int8 MAC/s\n", 1e-9 / s, 32e-9 / s);
    t = now();
    r += dp_zmm_chains();
    s = (now() - t) / N;
    printf("VPDPBUSD zmm: %.2f G/s = %.0f G int8 MAC/s\n", 1e-9 / s, 64e-9 / s);
  }
  t = now();
  r += sign_trick_chains();
  const double s = (now() - t) / N;
  printf("AVX2 sign trick (vpabsb, vpsignb, vpmaddubsw, vpmaddwd, vpaddd): %.2f G/s = %.0f G int8 MAC/s\n", 1e-9 / s,
         32e-9 / s);
  return r == 42;  // keeps the results live
}
