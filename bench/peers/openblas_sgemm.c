/*
 * Benchmark peer: OpenBLAS cblas_sgemm on the shapes given on the command line, for src/bench/sgemm.ts.
 * Never linked into the package; compiled at bench time with `cc -O2 openblas_sgemm.c -lopenblas`.
 *
 * usage: openblas_sgemm [--min-ms X] [--min-reps N] TA,TB,M,N,K ...     (TA/TB: N or T; row-major like ours)
 * Threads: OPENBLAS_NUM_THREADS from the environment (set by the caller to our thread count).
 * Output (stdout): one JSON array, [{"shape": "N,T,4096,2304,768", "ms": median_ms, "reps": n}, ...].
 * Operands: A, B, C of the exact sizes (lda = width), filled with small pseudo-random values; beta = 0 for NN/NT
 * shapes is not special-cased by OpenBLAS, so we use the same alpha = 1, beta = 0 as the TS harness.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static float* rnd(size_t n, unsigned* s) {
  float* p = (float*)malloc(n * sizeof(float) + 64);
  for (size_t i = 0; i < n; ++i) {
    *s = *s * 1664525u + 1013904223u;
    p[i] = (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f;
  }
  return p;
}

int main(int argc, char** argv) {
  double min_ms = 500;
  int min_reps = 5, first = 1;
  unsigned seed = 12345;
  printf("[");
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--min-ms") && i + 1 < argc) { min_ms = atof(argv[++i]); continue; }
    if (!strcmp(argv[i], "--min-reps") && i + 1 < argc) { min_reps = atoi(argv[++i]); continue; }
    char ta, tb;
    long M, N, K;
    if (sscanf(argv[i], "%c,%c,%ld,%ld,%ld", &ta, &tb, &M, &N, &K) != 5) {
      fprintf(stderr, "bad shape '%s'\n", argv[i]);
      return 2;
    }
    const int tA = ta == 'T', tB = tb == 'T';
    float* A = rnd((size_t)M * K, &seed);
    float* B = rnd((size_t)K * N, &seed);
    float* C = rnd((size_t)M * N, &seed);
    const int lda = tA ? (int)M : (int)K, ldb = tB ? (int)K : (int)N, ldc = (int)N;
    const enum CBLAS_TRANSPOSE TA = tA ? CblasTrans : CblasNoTrans, TB = tB ? CblasTrans : CblasNoTrans;
    for (int w = 0; w < 2; ++w)
      cblas_sgemm(CblasRowMajor, TA, TB, (int)M, (int)N, (int)K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
    double* times = NULL;
    int n = 0, cap = 0;
    const double t0 = now_ms();
    while (n < min_reps || now_ms() - t0 < min_ms) {
      const double t = now_ms();
      cblas_sgemm(CblasRowMajor, TA, TB, (int)M, (int)N, (int)K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
      if (n == cap) times = (double*)realloc(times, sizeof(double) * (cap = cap ? 2 * cap : 64));
      times[n++] = now_ms() - t;
      if (n >= 10000) break;
    }
    qsort(times, n, sizeof(double), cmp);
    printf("%s{\"shape\": \"%s\", \"ms\": %.6f, \"reps\": %d}", first ? "" : ", ", argv[i], times[n / 2], n);
    first = 0;
    fflush(stdout);
    free(times);
    free(A);
    free(B);
    free(C);
  }
  printf("]\n");
  return 0;
}
