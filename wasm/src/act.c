// Activations (op codes: 0 gelu (erf form), 1 gelu_tanh, 2 silu, 3 relu) and their derivatives,
// in double per element like the TS reference; the fused bias add and bias-gradient column sum of
// biasAct / biasActBackward.
#include "kernels.h"

static const double SQRT_2_OVER_PI = 0.7978845608028654, INV_SQRT2 = 0.7071067811865476, INV_SQRT_2PI = 0.3989422804014327;

static inline double act(int op, double v) {
  switch (op) {
    case 0: return 0.5 * v * (1 + wk_erf(v * INV_SQRT2));
    case 1: return 0.5 * v * (1 + wk_tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
    case 2: return v / (1 + wk_exp(-v));
    default: return v > 0 ? v : 0;
  }
}

static inline double act_grad(int op, double v) {
  switch (op) {
    case 0: return 0.5 * (1 + wk_erf(v * INV_SQRT2)) + v * INV_SQRT_2PI * wk_exp(-0.5 * v * v);
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

EXPORT(activation)
void activation(int op, const float* x, float* out, int n) {
  for (int i = 0; i < n; i++) out[i] = (float)act(op, x[i]);
}

EXPORT(activation_backward)
void activation_backward(int op, const float* x, const float* gy, float* gx, int n) {
  // relu passes gy through unscaled (0·NaN must stay 0)
  if (op == 3) { for (int i = 0; i < n; i++) gx[i] = x[i] > 0 ? gy[i] : 0; return; }
  for (int i = 0; i < n; i++) gx[i] = (float)(gy[i] * act_grad(op, x[i]));
}

EXPORT(bias_add)
void bias_add(float* x, const float* bias, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    float* xr = x + (long)r * cols;
    int c = 0;
    for (; c + 4 <= cols; c += 4) wasm_v128_store(xr + c, wasm_f32x4_add(wasm_v128_load(xr + c), wasm_v128_load(bias + c)));
    for (; c < cols; c++) xr[c] += bias[c];
  }
}

/** out[c] += Σ_r x[r, c], summed in row order in f32 per column (as the reference), then added once. */
EXPORT(column_sum_add)
void column_sum_add(const float* x, float* out, int rows, int cols) {
  int c = 0;
  for (; c + 4 <= cols; c += 4) {
    v128_t s = wasm_f32x4_splat(0);
    for (int r = 0; r < rows; r++) s = wasm_f32x4_add(s, wasm_v128_load(x + (long)r * cols + c));
    wasm_v128_store(out + c, wasm_f32x4_add(wasm_v128_load(out + c), s));
  }
  for (; c < cols; c++) {
    float s = 0;
    for (int r = 0; r < rows; r++) s += x[(long)r * cols + c];
    out[c] += s;
  }
}
