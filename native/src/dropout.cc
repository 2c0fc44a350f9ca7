// Counter-based dropout mask. Two xoshiro128** draws from the caller's Rng state key a stateless
// hash of the element index (lowbias32 twice), so elements are independent: the fill runs in
// parallel and vectorises (32-bit multiplies, shifts, xors), and matches the TS reference bit for bit.
#include <cmath>
#include "peft.h"

namespace peft {

static inline uint32_t rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

static inline uint32_t xoshiro_next(uint32_t* s) {
  const uint32_t r = rotl32(s[1] * 5u, 7) * 9u;
  const uint32_t t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl32(s[3], 11);
  return r;
}

static inline uint32_t lowbias32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

// x == nullptr: the multipliers themselves (dropout_mask); else out[i] = x[i] · multiplier (x may be out)
static void dropout_fill(uint32_t* st, const float* x, float* out, int64_t n, double p, float keep) {
  const uint32_t k0 = xoshiro_next(st), k1 = xoshiro_next(st);
  // drop iff h < t with t = p·2³² (exact in double); for integer h that is h < ceil(t)
  const double t = p * 4294967296.0;
  if (!(t > 0.0) || t > 4294967295.0) {
    // nothing below t (p ≤ 0 or NaN) or every uint32 below t
    const float v = t > 0.0 ? 0.f : keep;
    if (x) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
      for (int64_t i = 0; i < n; i++) out[i] = x[i] * v;
    } else {
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
      for (int64_t i = 0; i < n; i++) out[i] = v;
    }
    return;
  }
  const uint32_t thr = (uint32_t)std::ceil(t);
  if (x) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 15))
    for (int64_t i = 0; i < n; i++) {
      const uint32_t h = lowbias32(lowbias32((uint32_t)i + k0) ^ k1);
      out[i] = x[i] * (h < thr ? 0.f : keep);
    }
  } else {
#pragma omp parallel for simd schedule(static) if (n > (1 << 15))
    for (int64_t i = 0; i < n; i++) {
      const uint32_t h = lowbias32(lowbias32((uint32_t)i + k0) ^ k1);
      out[i] = h < thr ? 0.f : keep;
    }
  }
}

void dropout_mask(uint32_t* st, float* out, int64_t n, double p, float keep) { dropout_fill(st, nullptr, out, n, p, keep); }

void dropout_apply(uint32_t* st, const float* x, float* out, int64_t n, double p, float keep) { dropout_fill(st, x, out, n, p, keep); }

}  // namespace peft
