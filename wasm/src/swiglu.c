// SwiGLU gating (llama's MLP): out = silu(gate) · up and its two input gradients, four f32 lanes at a
// time with the SIMD exp (wk_exp4, ~2 ulp), s = 1/(1 + e^−g). Threads split the elements in 4-aligned runs.
#include "kernels.h"

static inline v128_t sigmoid4(v128_t g) {
  v128_t one = wasm_f32x4_splat(1);
  return wasm_f32x4_div(one, wasm_f32x4_add(one, wk_exp4(wasm_f32x4_neg(g))));
}

static inline v128_t silu_mul4(v128_t g, v128_t u) { return wasm_f32x4_mul(wasm_f32x4_mul(g, sigmoid4(g)), u); }

EXPORT(silu_mul)
void silu_mul(const float* gate, const float* up, float* out, int n, PART_ARGS) {
  PART(n, 4, i0, i1);
  int i = i0;
  for (; i + 4 <= i1; i += 4) wasm_v128_store(out + i, silu_mul4(wasm_v128_load(gate + i), wasm_v128_load(up + i)));
  if (i < i1) store_tail(out + i, i1 - i, silu_mul4(load_tail(gate + i, i1 - i, 0), load_tail(up + i, i1 - i, 0)));
}

// gUp = gy·g·s, gGate = gy·up·s·(1 + g·(1 − s)) for one vector of lanes
static inline void silu_mul_grad4(v128_t g, v128_t u, v128_t gy, v128_t* gGate, v128_t* gUp) {
  v128_t s = sigmoid4(g), one = wasm_f32x4_splat(1);
  *gUp = wasm_f32x4_mul(wasm_f32x4_mul(gy, g), s);
  v128_t d = wasm_f32x4_add(one, wasm_f32x4_mul(g, wasm_f32x4_sub(one, s)));
  *gGate = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_mul(gy, u), s), d);
}

EXPORT(silu_mul_backward)
void silu_mul_backward(const float* gate, const float* up, const float* gy, float* gGate, float* gUp, int n, PART_ARGS) {
  PART(n, 4, i0, i1);
  int i = i0;
  v128_t a, b;
  for (; i + 4 <= i1; i += 4) {
    silu_mul_grad4(wasm_v128_load(gate + i), wasm_v128_load(up + i), wasm_v128_load(gy + i), &a, &b);
    wasm_v128_store(gGate + i, a);
    wasm_v128_store(gUp + i, b);
  }
  if (i < i1) {
    int t = i1 - i;
    silu_mul_grad4(load_tail(gate + i, t, 0), load_tail(up + i, t, 0), load_tail(gy + i, t, 0), &a, &b);
    store_tail(gGate + i, t, a);
    store_tail(gUp + i, t, b);
  }
}
