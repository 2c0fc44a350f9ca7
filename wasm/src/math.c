// Scalar double-precision exp/log/tanh and a 4-lane f32 exp for the freestanding kernels.
// exp: Cody–Waite reduction x = k·ln2 + r, |r| ≤ ln2/2, then a degree-13 Taylor polynomial.
// log: x = 2^e·m with m in [√½, √2), log m = 2·atanh(s), s = (m−1)/(m+1), odd series.
#include "kernels.h"

static const double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
static const double LOG2E = 1.44269504088896338700e+00;

static inline u64 bits_of(double x) { union { double d; u64 u; } c = { x }; return c.u; }
static inline double double_of(u64 u) { union { u64 u; double d; } c = { u }; return c.d; }

double wk_exp(double x) {
  if (x != x) return x;
  if (x > 709.782712893384) return __builtin_inf();
  if (x < -745.1332191019412) return 0.0;
  double kd = __builtin_nearbyint(x * LOG2E);
  int k = (int)kd;
  double r = (x - kd * LN2_HI) - kd * LN2_LO;
  // Horner over 1/n! for n = 13..0
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // scale by 2^k in two steps so that k below −1022 (subnormal results) stays representable
  int k1 = k / 2, k2 = k - k1;
  return p * double_of((u64)(k1 + 1023) << 52) * double_of((u64)(k2 + 1023) << 52);
}

double wk_log(double x) {
  if (x != x) return x;
  if (x < 0) return __builtin_nan("");
  if (x == 0) return -__builtin_inf();
  if (x == __builtin_inf()) return x;
  int e = 0;
  if (x < 2.2250738585072014e-308) { x *= 18014398509481984.0; e = -54; }  // subnormal: scale by 2^54
  u64 u = bits_of(x);
  e += (int)((u >> 52) & 0x7ff) - 1023;
  double m = double_of((u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);  // [1, 2)
  if (m > 1.4142135623730951) { m *= 0.5; e += 1; }
  double s = (m - 1) / (m + 1), s2 = s * s;
  // 2·(s + s³/3 + … + s^23/23); |s| ≤ 0.1716 so the next term is below 1e-19
  double p = 1.0 / 23;
  for (int n = 21; n >= 1; n -= 2) p = p * s2 + 1.0 / n;
  return 2 * s * p + e * LN2_HI + e * LN2_LO;
}

double wk_tanh(double x) {
  if (x != x) return x;
  double ax = x < 0 ? -x : x;
  double r;
  if (ax > 20) r = 1;
  else if (ax < 0.0625) {
    // odd Taylor series: the 1 − 2/(e^{2x}+1) form would cancel here
    double t = ax * ax;
    r = ax * (1 + t * (-1.0 / 3 + t * (2.0 / 15 + t * (-17.0 / 315 + t * (62.0 / 2835 + t * (-1382.0 / 155925))))));
  } else {
    r = 1 - 2 / (wk_exp(2 * ax) + 1);
  }
  return x < 0 ? -r : r;
}

v128_t wk_exp4(v128_t x) {
  const v128_t hi = wasm_f32x4_splat(88.72283f), lo = wasm_f32x4_splat(-87.33654f);
  v128_t xc = wasm_f32x4_min(wasm_f32x4_max(x, lo), hi);
  v128_t kf = wasm_f32x4_nearest(wasm_f32x4_mul(xc, wasm_f32x4_splat(1.44269504f)));
  v128_t r = wasm_f32x4_sub(xc, wasm_f32x4_mul(kf, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(kf, wasm_f32x4_splat(-2.12194440e-4f)));
  // degree-7 Taylor polynomial of e^r on |r| ≤ ln2/2
  v128_t p = wasm_f32x4_splat(1.0f / 5040);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 720));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 120));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 24));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 6));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(0.5f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  // 2^k split in two halves so that k = 128 (x near the top) does not overflow the exponent field
  v128_t k = wasm_i32x4_trunc_sat_f32x4(kf);
  v128_t k1 = wasm_i32x4_shr(k, 1), k2 = wasm_i32x4_sub(k, k1);
  v128_t s1 = wasm_i32x4_shl(wasm_i32x4_add(k1, wasm_i32x4_splat(127)), 23);
  v128_t s2 = wasm_i32x4_shl(wasm_i32x4_add(k2, wasm_i32x4_splat(127)), 23);
  v128_t y = wasm_f32x4_mul(wasm_f32x4_mul(p, s1), s2);
  y = wasm_v128_bitselect(wasm_f32x4_splat(0.0f), y, wasm_f32x4_lt(x, lo));
  y = wasm_v128_bitselect(wasm_f32x4_splat(__builtin_inff()), y, wasm_f32x4_gt(x, hi));
  return y;
}
