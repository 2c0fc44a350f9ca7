// Shared declarations of the freestanding wasm32 kernels (no libc, no libm): scalar math helpers
// and the export attribute. Every pointer argument is a byte offset into the imported memory,
// laid out by the TS side (src/backend/wasm/heap.ts); nothing here allocates.
#ifndef PEFT_WASM_KERNELS_H
#define PEFT_WASM_KERNELS_H
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name), visibility("default")))

// c + a·b per lane: one fused-or-not relaxed multiply-add in the relaxed-SIMD build (-mrelaxed-simd,
// WK_RELAXED), a rounded multiply then add otherwise (the TS reference's order of operations)
#ifdef WK_RELAXED
#define MADD(a, b, c) __builtin_wasm_relaxed_madd_f32x4(a, b, c)
#else
#define MADD(a, b, c) wasm_f32x4_add(c, wasm_f32x4_mul(a, b))
#endif

typedef unsigned int u32;
typedef unsigned long long u64;

// one (unbatched) GEMM of gemm.c: out (m×n) (+)= op(a)·op(b), scratch of gemm_scratch_floats() floats
void wk_gemm_one(const float* a, const float* b, float* out, int m, int n, int k, int transA, int transB, int accumulate, float* scratch);
int gemm_scratch_floats(void);
// [lo, hi) of `count` items, in runs of `align`, that part `part` of `parts` takes (gemm.c)
void wk_share(int count, int align, int part, int parts, int* lo, int* hi);
// Threads: every export that ends in (int part, int parts) does part `part` of `parts` of its work (the
// others run on the pool's workers); PART declares [lo, hi), this part's run of `count` items.
#define PART(count, align, lo, hi) int lo, hi; wk_share(count, align, part, parts, &lo, &hi)
#define PART_ARGS int part, int parts

// double-precision exp/log/tanh (math.c), accurate to a few ulp of double
double wk_exp(double x);
double wk_log(double x);
double wk_tanh(double x);
// four f32 exps at once (math.c), ~2 ulp of f32; exact 0 below -87.34, +inf above 88.72, NaN kept
v128_t wk_exp4(v128_t x);

static inline float hsum4(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}
static inline float hmax4(v128_t v) {
  float a = wasm_f32x4_extract_lane(v, 0), b = wasm_f32x4_extract_lane(v, 1);
  float c = wasm_f32x4_extract_lane(v, 2), d = wasm_f32x4_extract_lane(v, 3);
  float m = a > b ? a : b, n = c > d ? c : d;
  return m > n ? m : n;
}

// Row reductions accumulated in double: two f64x2 accumulators take the low and high lanes of a f32x4.
typedef struct { v128_t lo, hi; } acc64;
static inline acc64 acc64_zero(void) { acc64 a = { wasm_f64x2_splat(0), wasm_f64x2_splat(0) }; return a; }
static inline void acc64_add(acc64* a, v128_t v) {
  a->lo = wasm_f64x2_add(a->lo, wasm_f64x2_promote_low_f32x4(v));
  a->hi = wasm_f64x2_add(a->hi, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1)));
}
static inline double acc64_total(acc64 a) {
  v128_t s = wasm_f64x2_add(a.lo, a.hi);
  return wasm_f64x2_extract_lane(s, 0) + wasm_f64x2_extract_lane(s, 1);
}
/** Loads the n < 4 trailing floats at p into a vector whose other lanes are `fill`. */
static inline v128_t load_tail(const float* p, int n, float fill) {
  float t[4] __attribute__((aligned(16))) = { fill, fill, fill, fill };
  for (int i = 0; i < n; i++) t[i] = p[i];
  return wasm_v128_load(t);
}
static inline void store_tail(float* p, int n, v128_t v) {
  float t[4] __attribute__((aligned(16)));
  wasm_v128_store(t, v);
  for (int i = 0; i < n; i++) p[i] = t[i];
}
/** Max of x[0..n) (NaN if any element is NaN, like f32x4.max); -inf for n = 0. */
static inline float row_max(const float* x, int n) {
  v128_t m = wasm_f32x4_splat(-__builtin_inff());
  int c = 0;
  for (; c + 4 <= n; c += 4) m = wasm_f32x4_max(m, wasm_v128_load(x + c));
  if (c < n) m = wasm_f32x4_max(m, load_tail(x + c, n - c, -__builtin_inff()));
  float a = wasm_f32x4_extract_lane(m, 0), b = wasm_f32x4_extract_lane(m, 1);
  float d = wasm_f32x4_extract_lane(m, 2), e = wasm_f32x4_extract_lane(m, 3);
  if (a != a || b != b || d != d || e != e) return __builtin_nanf("");
  return hmax4(m);
}
/** out[c] = exp(x[c] − shift) (out may be null) and returns Σ exp in double. */
static inline double exp_row(const float* x, float* out, int n, float shift) {
  acc64 s = acc64_zero();
  v128_t sh = wasm_f32x4_splat(shift);
  int c = 0;
  for (; c + 4 <= n; c += 4) {
    v128_t e = wk_exp4(wasm_f32x4_sub(wasm_v128_load(x + c), sh));
    if (out) wasm_v128_store(out + c, e);
    acc64_add(&s, e);
  }
  if (c < n) {
    v128_t e = wk_exp4(wasm_f32x4_sub(load_tail(x + c, n - c, -__builtin_inff()), sh));
    if (out) store_tail(out + c, n - c, e);
    acc64_add(&s, e);
  }
  return acc64_total(s);
}
#endif
