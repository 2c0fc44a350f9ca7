// Branch-free float math that GCC auto-vectorises (AVX2/AVX-512) inside simple loops.
#pragma once
#include <cstdint>
#include <cstring>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace peft {

static inline float bits_to_f(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
static inline uint32_t f_to_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

// e^x: range reduction x = n·ln2 + r (|r| ≤ ln2/2), degree-6 Taylor polynomial, 2^n by exponent bits.
// Max relative error ≈ 2e-7; exact 0 below -86.6 (results < 2e-38) (and for -inf), +inf above 88.7, NaN → NaN.
static inline float vexp(float x) {
  const float hi = 88.72f, lo = -86.6f;
  float xc = x > hi ? hi : (x < lo ? lo : x);
  float n = __builtin_floorf(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693145751953125f;
  r = r - n * 1.428606765330187e-06f;
  float p = 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  int32_t e = (int32_t)n + 126;  // 2^(n-1), so n = 128 stays finite
  float s = bits_to_f((uint32_t)e << 23);
  float y = p * s * 2.f;
  y = x < lo ? 0.f : y;
  y = x > hi ? __builtin_inff() : y;
  return x != x ? x : y;
}

// e^x for x ≤ 0 (or NaN): vexp without the overflow and infinity handling, for softmax-style
// shifted inputs and e^{−a²}. Exact 0 below −86.6, NaN → NaN.
static inline float vexp_neg(float x) {
  const float lo = -86.6f;
  float xc = x < lo ? lo : x;
  float n = __builtin_floorf(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693145751953125f;
  r = r - n * 1.428606765330187e-06f;
  float p = 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  int32_t e = (int32_t)n + 127;  // n ≤ 0 here, so 2^n is a normal number
  float y = p * bits_to_f((uint32_t)e << 23);
  return x < lo ? 0.f : y;
}

// Σ g(x[j]) over a contiguous row with four independent 8-wide accumulators (GCC vector
// extensions; omp-simd reductions use a single accumulator and wait on add latency). Blocks of
// 1024 are accumulated in double. g maps a v8 to a v8 (elementwise).
typedef float v8 __attribute__((vector_size(32)));
static inline v8 v8_load(const float* p) {
  v8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename G>
static inline float vsum(const float* x, int64_t n, G g) {
  double tot = 0.0;
  for (int64_t j0 = 0; j0 < n; j0 += 1024) {
    const int64_t len = n - j0 < 1024 ? n - j0 : 1024;
    const float* p = x + j0;
    v8 a0 = {}, a1 = {}, a2 = {}, a3 = {};
    int64_t j = 0;
    for (; j + 32 <= len; j += 32) {
      a0 += g(v8_load(p + j));
      a1 += g(v8_load(p + j + 8));
      a2 += g(v8_load(p + j + 16));
      a3 += g(v8_load(p + j + 24));
    }
    for (; j + 8 <= len; j += 8) a0 += g(v8_load(p + j));
    const v8 a = (a0 + a1) + (a2 + a3);
    float t = 0.f;
    for (int l = 0; l < 8; l++) t += a[l];
    for (; j < len; j++) {
      v8 v = {};
      v[0] = p[j];
      t += g(v)[0];
    }
    tot += t;
  }
  return (float)tot;
}

// ---- Width-generic float vectors for hand-vectorised kernels (GCC vector extensions): 16 lanes
// with AVX-512, 8 with AVX, 4 otherwise (GCC lowers them to SSE/NEON on other targets).
#if defined(__AVX512F__)
constexpr int kVW = 16;
#elif defined(__AVX__)
constexpr int kVW = 8;
#else
constexpr int kVW = 4;
#endif
typedef float vfw __attribute__((vector_size(kVW * 4)));
typedef int32_t viw __attribute__((vector_size(kVW * 4)));
typedef uint32_t vuw __attribute__((vector_size(kVW * 4)));
#define PEFT_VINLINE static inline __attribute__((always_inline))
PEFT_VINLINE vfw vw_load(const float* p) {
  vfw v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
PEFT_VINLINE void vw_store(float* p, vfw v) { std::memcpy(p, &v, sizeof v); }
PEFT_VINLINE vfw vw_set(float f) { return vfw{} + f; }
PEFT_VINLINE vfw vw_abs(vfw x) { return (vfw)((vuw)x & 0x7fffffffu); }
// a < b ? a : b — so a NaN `a` gives b (x86 minps/maxps semantics, one instruction there)
PEFT_VINLINE vfw vw_min(vfw a, vfw b) {
#if defined(__AVX512F__)
  return (vfw)_mm512_maskz_min_ps((__mmask16)0xFFFF, (__m512)a, (__m512)b);  // (maskz: no -Wmaybe-uninitialized from GCC 12)
#elif defined(__AVX__)
  return (vfw)_mm256_min_ps((__m256)a, (__m256)b);
#else
  return a < b ? a : b;
#endif
}
PEFT_VINLINE vfw vw_max(vfw a, vfw b) {
#if defined(__AVX512F__)
  return (vfw)_mm512_maskz_max_ps((__mmask16)0xFFFF, (__m512)a, (__m512)b);
#elif defined(__AVX__)
  return (vfw)_mm256_max_ps((__m256)a, (__m256)b);
#else
  return a > b ? a : b;
#endif
}
// lanes of a where m has its sign bit set (m < 0, −0, negative NaN), else lanes of b
PEFT_VINLINE vfw vw_sel_neg(vfw m, vfw a, vfw b) {
#if defined(__AVX512F__) && defined(__AVX512DQ__)
  return (vfw)_mm512_mask_blend_ps(_mm512_movepi32_mask((__m512i)m), (__m512)b, (__m512)a);
#elif defined(__AVX__) && !defined(__AVX512F__)
  return (vfw)_mm256_blendv_ps((__m256)b, (__m256)a, (__m256)m);
#else
  return (viw)m < 0 ? a : b;
#endif
}
// x & mask (mask lanes all-ones or zero, e.g. a comparison result)
PEFT_VINLINE vfw vw_and(vfw x, viw mask) { return (vfw)((viw)x & mask); }

// e^x for x in [−87.3, 0] (callers clamp): round-to-nearest n = x·log2 e via the 1.5·2²³ shift,
// one-step reduction r = x − n·ln2 (|error| ≤ |n|·1.9e-9), degree-5 minimax polynomial with p(0) = 1
// (fitted in double for this file, relative error 9.2e-8), 2ⁿ from exponent bits. Max relative
// error ≈ 3e-7 at x = −87.
PEFT_VINLINE vfw vw_exp_le0(vfw x) {
  const vfw t = x * 1.44269504088896341f + 12582912.f;
  const vfw n = t - 12582912.f;
  const vfw r = x - n * 0.693147182464599609375f;
  vfw p = vw_set(0.008290279231842019f);
  p = p * r + 0.04189787408148992f;
  p = p * r + 0.16667636258782215f;
  p = p * r + 0.4999914994786445f;
  p = p * r + 0.9999997073033061f;
  p = p * r + 1.f;
  return p * (vfw)(((vuw)t + 127u) << 23);
}

// σ(w) = 1/(1 + e^−w) as w ≥ 0 ? r : e·r with e = e^{−|w|}, r = 1/(1 + e): relative accuracy on both
// tails. Also returns e and r (σ(1 − σ) = e·r², 1 − σ = w ≥ 0 ? e·r : r). ±inf give exactly 0 / 1,
// NaN gives a finite value (callers multiply by an operand that carries the NaN).
PEFT_VINLINE vfw vw_sigmoid(vfw w, vfw& e, vfw& r) {
  const vfw a = vw_abs(w);
  e = vw_and(vw_exp_le0(vw_max(-a, vw_set(-87.3f))), a < 87.3f);
  r = 1.f / (1.f + e);
  return vw_sel_neg(w, e * r, r);
}

}  // namespace peft
