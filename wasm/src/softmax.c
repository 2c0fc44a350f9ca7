// Row softmax / log-softmax over [rows, cols] and their backward passes. Exponentials are four f32
// lanes at a time (wk_exp4); row sums are accumulated in double like the TS reference.
#include "kernels.h"

EXPORT(softmax)
void softmax(const float* x, float* out, int rows, int cols, PART_ARGS) {
  PART(rows, 1, r0, r1);
  for (int r = r0; r < r1; r++) {
    const float* xr = x + (long)r * cols;
    float* o = out + (long)r * cols;
    float mx = row_max(xr, cols);
    // an all −inf row: shift by 0 so exp gives 0 and 0/0 gives NaN, like torch
    if (mx == -__builtin_inff()) mx = 0;
    double s = exp_row(xr, o, cols, mx);
    v128_t inv = wasm_f32x4_splat((float)(1 / s));
    int c = 0;
    for (; c + 4 <= cols; c += 4) wasm_v128_store(o + c, wasm_f32x4_mul(wasm_v128_load(o + c), inv));
    for (; c < cols; c++) o[c] *= wasm_f32x4_extract_lane(inv, 0);
  }
}

EXPORT(softmax_backward)
void softmax_backward(const float* y, const float* gy, float* gx, int rows, int cols, PART_ARGS) {
  PART(rows, 1, r0, r1);
  for (int r = r0; r < r1; r++) {
    long o = (long)r * cols;
    acc64 d = acc64_zero();
    int c = 0;
    for (; c + 4 <= cols; c += 4) acc64_add(&d, wasm_f32x4_mul(wasm_v128_load(gy + o + c), wasm_v128_load(y + o + c)));
    if (c < cols) acc64_add(&d, wasm_f32x4_mul(load_tail(gy + o + c, cols - c, 0), load_tail(y + o + c, cols - c, 0)));
    v128_t dot = wasm_f32x4_splat((float)acc64_total(d));
    for (c = 0; c + 4 <= cols; c += 4)
      wasm_v128_store(gx + o + c, wasm_f32x4_mul(wasm_v128_load(y + o + c), wasm_f32x4_sub(wasm_v128_load(gy + o + c), dot)));
    for (; c < cols; c++) gx[o + c] = y[o + c] * (gy[o + c] - wasm_f32x4_extract_lane(dot, 0));
  }
}

EXPORT(log_softmax)
void log_softmax(const float* x, float* out, int rows, int cols, PART_ARGS) {
  PART(rows, 1, r0, r1);
  for (int r = r0; r < r1; r++) {
    const float* xr = x + (long)r * cols;
    float* o = out + (long)r * cols;
    float mx = row_max(xr, cols);
    if (mx == -__builtin_inff()) mx = 0;
    double lse = mx + wk_log(exp_row(xr, 0, cols, mx));
    // x − lse in double, rounded once (as the reference)
    v128_t l = wasm_f64x2_splat(lse);
    int c = 0;
    for (; c + 4 <= cols; c += 4) {
      v128_t v = wasm_v128_load(xr + c);
      v128_t lo = wasm_f32x4_demote_f64x2_zero(wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(v), l));
      v128_t hi = wasm_f32x4_demote_f64x2_zero(wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1)), l));
      wasm_v128_store(o + c, wasm_i32x4_shuffle(lo, hi, 0, 1, 4, 5));
    }
    for (; c < cols; c++) o[c] = (float)(xr[c] - lse);
  }
}

EXPORT(log_softmax_backward)
void log_softmax_backward(const float* y, const float* gy, float* gx, int rows, int cols, PART_ARGS) {
  PART(rows, 1, r0, r1);
  for (int r = r0; r < r1; r++) {
    long o = (long)r * cols;
    acc64 a = acc64_zero();
    int c = 0;
    for (; c + 4 <= cols; c += 4) acc64_add(&a, wasm_v128_load(gy + o + c));
    if (c < cols) acc64_add(&a, load_tail(gy + o + c, cols - c, 0));
    v128_t s = wasm_f32x4_splat((float)acc64_total(a));
    for (c = 0; c + 4 <= cols; c += 4)
      wasm_v128_store(gx + o + c, wasm_f32x4_sub(wasm_v128_load(gy + o + c), wasm_f32x4_mul(wk_exp4(wasm_v128_load(y + o + c)), s)));
    if (c < cols) store_tail(gx + o + c, cols - c, wasm_f32x4_sub(load_tail(gy + o + c, cols - c, 0), wasm_f32x4_mul(wk_exp4(load_tail(y + o + c, cols - c, 0)), s)));
  }
}
