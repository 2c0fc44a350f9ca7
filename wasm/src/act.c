// Activations (op codes: 0 gelu (erf form), 1 gelu_tanh, 2 silu, 3 relu) and their derivatives; the
// fused bias add and bias-gradient column sum of biasAct / biasActBackward. gelu runs four f32 lanes at
// a time: Φ(x) = ½·erfc(−x/√2) from the erfc approximation erfc(z) ≈ t·exp(−z² + P(t)), t = 1/(1 + z/2),
// P of degree 9 (Press et al., Numerical Recipes §6.2; relative error < 1.2e-7 for every z ≥ 0), so the
// negative tail keeps its relative accuracy; test/backend/wasm.test.ts bounds the error vs the TS
// reference at 1e-6 absolute. The others are evaluated in double per element like the TS reference.
#include "kernels.h"

static const double SQRT_2_OVER_PI = 0.7978845608028654, INV_SQRT2 = 0.7071067811865476, INV_SQRT_2PI = 0.3989422804014327;

// the double-precision ops (gelu, code 0, is the vector path below)
static inline double act(int op, double v) {
  switch (op) {
    case 1: return 0.5 * v * (1 + wk_tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
    case 2: return v / (1 + wk_exp(-v));
    default: return v > 0 ? v : 0;
  }
}

static inline double act_grad(int op, double v) {
  switch (op) {
    case 1: {
      double t = wk_tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
      return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
    }
    case 2: {
      double s = 1 / (1 + wk_exp(-v));
      return s * (1 + v * (1 - s));
    }
    default: return v > 0 ? 1 : 0;
  }
}

/** erfc(|z|) for four lanes (NaN stays NaN, |z| = inf gives 0). */
static inline v128_t erfc_abs4(v128_t z) {
  static const float P[10] = { 0.17087277f, -0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f,
                               -0.18628806f, 0.09678418f, 0.37409196f, 1.00002368f, -1.26551223f };
  v128_t az = wasm_f32x4_abs(z), one = wasm_f32x4_splat(1);
  v128_t t = wasm_f32x4_div(one, wasm_f32x4_add(one, wasm_f32x4_mul(wasm_f32x4_splat(0.5f), az)));
  v128_t p = wasm_f32x4_splat(P[0]);
  for (int i = 1; i < 10; i++) p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(P[i]));
  return wasm_f32x4_mul(t, wk_exp4(wasm_f32x4_sub(p, wasm_f32x4_mul(az, az))));
}

/** Φ(x) = ½(1 + erf(x/√2)) for four lanes: 1 − ½erfc on the right, ½erfc on the left (no cancellation). */
static inline v128_t normal_cdf4(v128_t x) {
  v128_t h = wasm_f32x4_mul(wasm_f32x4_splat(0.5f), erfc_abs4(wasm_f32x4_mul(x, wasm_f32x4_splat((float)INV_SQRT2))));
  return wasm_v128_bitselect(wasm_f32x4_sub(wasm_f32x4_splat(1), h), h, wasm_f32x4_ge(x, wasm_f32x4_splat(0)));
}

static inline v128_t gelu4(v128_t x) { return wasm_f32x4_mul(x, normal_cdf4(x)); }

/** gelu'(x) = Φ(x) + x·φ(x). */
static inline v128_t gelu_grad4(v128_t x) {
  v128_t pdf = wasm_f32x4_mul(wasm_f32x4_splat((float)INV_SQRT_2PI), wk_exp4(wasm_f32x4_mul(wasm_f32x4_splat(-0.5f), wasm_f32x4_mul(x, x))));
  return wasm_f32x4_add(normal_cdf4(x), wasm_f32x4_mul(x, pdf));
}

EXPORT(activation)
void activation(int op, const float* x, float* out, int n, PART_ARGS) {
  PART(n, 4, i0, i1);
  x += i0; out += i0; n = i1 - i0;
  if (op == 0) {
    int i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(out + i, gelu4(wasm_v128_load(x + i)));
    if (i < n) store_tail(out + i, n - i, gelu4(load_tail(x + i, n - i, 0)));
    return;
  }
  for (int i = 0; i < n; i++) out[i] = (float)act(op, x[i]);
}

EXPORT(activation_backward)
void activation_backward(int op, const float* x, const float* gy, float* gx, int n, PART_ARGS) {
  PART(n, 4, i0, i1);
  x += i0; gy += i0; gx += i0; n = i1 - i0;
  // relu passes gy through unscaled (0·NaN must stay 0)
  if (op == 3) { for (int i = 0; i < n; i++) gx[i] = x[i] > 0 ? gy[i] : 0; return; }
  if (op == 0) {
    int i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(gx + i, wasm_f32x4_mul(wasm_v128_load(gy + i), gelu_grad4(wasm_v128_load(x + i))));
    if (i < n) store_tail(gx + i, n - i, wasm_f32x4_mul(load_tail(gy + i, n - i, 0), gelu_grad4(load_tail(x + i, n - i, 0))));
    return;
  }
  for (int i = 0; i < n; i++) gx[i] = (float)(gy[i] * act_grad(op, x[i]));
}

EXPORT(bias_add)
void bias_add(float* x, const float* bias, int rows, int cols, PART_ARGS) {
  PART(rows, 1, r0, r1);
  for (int r = r0; r < r1; r++) {
    float* xr = x + (long)r * cols;
    int c = 0;
    for (; c + 4 <= cols; c += 4) wasm_v128_store(xr + c, wasm_f32x4_add(wasm_v128_load(xr + c), wasm_v128_load(bias + c)));
    for (; c < cols; c++) xr[c] += bias[c];
  }
}

/** out[c] += Σ_r x[r, c], summed in row order in f32 per column (as the reference), then added once; threads split the columns. */
EXPORT(column_sum_add)
void column_sum_add(const float* x, float* out, int rows, int cols, PART_ARGS) {
  PART(cols, 4, c0, c1);
  int c = c0;
  for (; c + 4 <= c1; c += 4) {
    v128_t s = wasm_f32x4_splat(0);
    for (int r = 0; r < rows; r++) s = wasm_f32x4_add(s, wasm_v128_load(x + (long)r * cols + c));
    wasm_v128_store(out + c, wasm_f32x4_add(wasm_v128_load(out + c), s));
  }
  for (; c < c1; c++) {
    float s = 0;
    for (int r = 0; r < rows; r++) s += x[(long)r * cols + c];
    out[c] += s;
  }
}
