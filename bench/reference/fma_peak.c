// FMA throughput of one core (AVX2, 8 floats per FMA): 12 independent dependency chains keep both
// FMA pipes busy, so GFLOP/s = 2 · 8 · FMAs per second. The README's "FMA peak" figure comes from here.
// Build and run: gcc -O2 -mavx2 -mfma bench/reference/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
// (two copies at once, `/tmp/fma_peak & /tmp/fma_peak`, give the per-core figure with both cores busy).
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

int main(void) {
  enum { CHAINS = 12 };
  __m256 acc[CHAINS];
  const __m256 mul = _mm256_set1_ps(1.0000001f), add = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
  const long iters = 200000000L;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long n = 0; n < iters; n++) {
#pragma GCC unroll 12
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], mul, add);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  const double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  float sink = 0, lanes[8];
  for (int i = 0; i < CHAINS; i++) {
    _mm256_storeu_ps(lanes, acc[i]);
    sink += lanes[0];
  }
  printf("%.1f GFLOP/s on one core (AVX2 FMA; checksum %g)\n", (double)iters * CHAINS * 16 / s / 1e9, sink);
  return 0;
}
