// LayerNorm / RMSNorm over the last dim of [rows, cols] and their backward passes. Row statistics
// are accumulated in double (as the TS reference); w, b, gw, gb may be 0 (null). gw/gb are += .
#include "kernels.h"

#define LD(p, c, n) ((c) + 4 <= (n) ? wasm_v128_load((p) + (c)) : load_tail((p) + (c), (n) - (c), 0))
#define ST(p, c, n, v) do { if ((c) + 4 <= (n)) wasm_v128_store((p) + (c), v); else store_tail((p) + (c), (n) - (c), v); } while (0)

EXPORT(layer_norm)
void layer_norm(const float* x, const float* w, const float* b, float* out, float* mean, float* rstd, int rows, int cols, float eps, PART_ARGS) {
  PART(rows, 1, r0, r1);
  for (int r = r0; r < r1; r++) {
    const float* xr = x + (long)r * cols;
    float* o = out + (long)r * cols;
    acc64 s = acc64_zero();
    for (int c = 0; c < cols; c += 4) acc64_add(&s, LD(xr, c, cols));
    double mu = acc64_total(s) / cols;
    v128_t mud = wasm_f64x2_splat(mu), lo = wasm_f64x2_splat(0), hi = lo;
    for (int c = 0; c < cols; c += 4) {
      v128_t v = LD(xr, c, cols);
      v128_t dl = wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(v), mud);
      v128_t dh = wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1)), mud);
      if (cols - c < 4) {
        // lanes past the row end must not count: (0 − mu)² would
        int t = cols - c;
        if (t < 2) dl = wasm_f64x2_replace_lane(dl, 1, 0);
        if (t < 4) dh = t < 3 ? wasm_f64x2_splat(0) : wasm_f64x2_replace_lane(dh, 1, 0);
      }
      lo = wasm_f64x2_add(lo, wasm_f64x2_mul(dl, dl));
      hi = wasm_f64x2_add(hi, wasm_f64x2_mul(dh, dh));
    }
    v128_t vs = wasm_f64x2_add(lo, hi);
    double var = (wasm_f64x2_extract_lane(vs, 0) + wasm_f64x2_extract_lane(vs, 1)) / cols;
    double rs = 1 / __builtin_sqrt(var + eps);
    mean[r] = (float)mu;
    rstd[r] = (float)rs;
    v128_t muf = wasm_f32x4_splat((float)mu), rsf = wasm_f32x4_splat((float)rs);
    for (int c = 0; c < cols; c += 4) {
      v128_t y = wasm_f32x4_mul(wasm_f32x4_sub(LD(xr, c, cols), muf), rsf);
      if (w) y = wasm_f32x4_mul(y, LD(w, c, cols));
      if (b) y = wasm_f32x4_add(y, LD(b, c, cols));
      ST(o, c, cols, y);
    }
  }
}

EXPORT(layer_norm_backward)
void layer_norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* gy, float* gx,
                         float* gw, float* gb, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    long o = (long)r * cols;
    v128_t mu = wasm_f32x4_splat(mean[r]), rs = wasm_f32x4_splat(rstd[r]);
    acc64 sd = acc64_zero(), sdx = acc64_zero();
    for (int c = 0; c < cols; c += 4) {
      v128_t g = LD(gy + o, c, cols);
      v128_t xh = wasm_f32x4_mul(wasm_f32x4_sub(LD(x + o, c, cols), mu), rs);
      v128_t d = w ? wasm_f32x4_mul(g, LD(w, c, cols)) : g;
      acc64_add(&sd, d);
      acc64_add(&sdx, wasm_f32x4_mul(d, xh));
      if (gw) ST(gw, c, cols, wasm_f32x4_add(LD(gw, c, cols), wasm_f32x4_mul(g, xh)));
      if (gb) ST(gb, c, cols, wasm_f32x4_add(LD(gb, c, cols), g));
    }
    // tail lanes are zero in g, so they add nothing to the sums
    v128_t md = wasm_f32x4_splat((float)(acc64_total(sd) / cols)), mdx = wasm_f32x4_splat((float)(acc64_total(sdx) / cols));
    for (int c = 0; c < cols; c += 4) {
      v128_t g = LD(gy + o, c, cols);
      v128_t xh = wasm_f32x4_mul(wasm_f32x4_sub(LD(x + o, c, cols), mu), rs);
      v128_t d = w ? wasm_f32x4_mul(g, LD(w, c, cols)) : g;
      ST(gx + o, c, cols, wasm_f32x4_mul(rs, wasm_f32x4_sub(wasm_f32x4_sub(d, md), wasm_f32x4_mul(xh, mdx))));
    }
  }
}

EXPORT(rms_norm)
void rms_norm(const float* x, const float* w, float* out, float* rstd, int rows, int cols, float eps, PART_ARGS) {
  PART(rows, 1, r0, r1);
  for (int r = r0; r < r1; r++) {
    const float* xr = x + (long)r * cols;
    float* o = out + (long)r * cols;
    v128_t lo = wasm_f64x2_splat(0), hi = lo;
    for (int c = 0; c < cols; c += 4) {
      v128_t v = LD(xr, c, cols);
      v128_t dl = wasm_f64x2_promote_low_f32x4(v), dh = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
      lo = wasm_f64x2_add(lo, wasm_f64x2_mul(dl, dl));
      hi = wasm_f64x2_add(hi, wasm_f64x2_mul(dh, dh));
    }
    v128_t vs = wasm_f64x2_add(lo, hi);
    double rs = 1 / __builtin_sqrt((wasm_f64x2_extract_lane(vs, 0) + wasm_f64x2_extract_lane(vs, 1)) / cols + eps);
    rstd[r] = (float)rs;
    v128_t rsf = wasm_f32x4_splat((float)rs);
    // HF Llama order: (x · rstd) rounded, then · w
    for (int c = 0; c < cols; c += 4) {
      v128_t y = wasm_f32x4_mul(LD(xr, c, cols), rsf);
      if (w) y = wasm_f32x4_mul(y, LD(w, c, cols));
      ST(o, c, cols, y);
    }
  }
}

EXPORT(rms_norm_backward)
void rms_norm_backward(const float* x, const float* w, const float* rstd, const float* gy, float* gx, float* gw, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    long o = (long)r * cols;
    v128_t rs = wasm_f32x4_splat(rstd[r]);
    acc64 sdx = acc64_zero();
    for (int c = 0; c < cols; c += 4) {
      v128_t g = LD(gy + o, c, cols);
      v128_t xh = wasm_f32x4_mul(LD(x + o, c, cols), rs);
      v128_t d = w ? wasm_f32x4_mul(g, LD(w, c, cols)) : g;
      acc64_add(&sdx, wasm_f32x4_mul(d, xh));
      if (gw) ST(gw, c, cols, wasm_f32x4_add(LD(gw, c, cols), wasm_f32x4_mul(g, xh)));
    }
    v128_t mdx = wasm_f32x4_splat((float)(acc64_total(sdx) / cols));
    for (int c = 0; c < cols; c += 4) {
      v128_t g = LD(gy + o, c, cols);
      v128_t xh = wasm_f32x4_mul(LD(x + o, c, cols), rs);
      v128_t d = w ? wasm_f32x4_mul(g, LD(w, c, cols)) : g;
      ST(gx + o, c, cols, wasm_f32x4_mul(rs, wasm_f32x4_sub(d, wasm_f32x4_mul(xh, mdx))));
    }
  }
}
