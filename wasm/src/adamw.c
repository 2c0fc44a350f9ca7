// AdamW step in place on p, m, v: the TS reference's sequence of f32-rounded operations (PyTorch's
// single-tensor AdamW), four lanes at a time. Every f32x4 operation rounds like the scalar one, so
// the result is bit-identical to the reference (whatever the split between threads). The step's
// scalars are computed by the caller.
#include "kernels.h"

EXPORT(adamw)
void adamw(float* p, const float* g, float* m, float* v, int n, float decay, int hasDecay, float w1, int lerpLow,
           float w2, float b2, float bc2Sqrt, float negStepSize, float eps, PART_ARGS) {
  PART(n, 4, i0, i1);
  p += i0; g += i0; m += i0; v += i0; n = i1 - i0;
  v128_t vdecay = wasm_f32x4_splat(decay), vw1 = wasm_f32x4_splat(w1), vomw1 = wasm_f32x4_splat(1 - w1);
  v128_t vw2 = wasm_f32x4_splat(w2), vb2 = wasm_f32x4_splat(b2), vbc2 = wasm_f32x4_splat(bc2Sqrt);
  v128_t vstep = wasm_f32x4_splat(negStepSize), veps = wasm_f32x4_splat(eps);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t pi = wasm_v128_load(p + i), gi = wasm_v128_load(g + i), mi = wasm_v128_load(m + i), vi = wasm_v128_load(v + i);
    if (hasDecay) pi = wasm_f32x4_mul(pi, vdecay);
    v128_t diff = wasm_f32x4_sub(gi, mi);
    v128_t mn = lerpLow ? wasm_f32x4_add(mi, wasm_f32x4_mul(vw1, diff)) : wasm_f32x4_sub(gi, wasm_f32x4_mul(diff, vomw1));
    v128_t vn = wasm_f32x4_add(wasm_f32x4_mul(vi, vb2), wasm_f32x4_mul(wasm_f32x4_mul(vw2, gi), gi));
    v128_t denom = wasm_f32x4_add(wasm_f32x4_div(wasm_f32x4_sqrt(vn), vbc2), veps);
    wasm_v128_store(p + i, wasm_f32x4_add(pi, wasm_f32x4_div(wasm_f32x4_mul(vstep, mn), denom)));
    wasm_v128_store(m + i, mn);
    wasm_v128_store(v + i, vn);
  }
  for (; i < n; i++) {
    float pi = p[i], gi = g[i], mi = m[i];
    if (hasDecay) pi = pi * decay;
    float mn = lerpLow ? mi + w1 * (gi - mi) : gi - (gi - mi) * (1 - w1);
    float vn = v[i] * b2 + (w2 * gi) * gi;
    float denom = __builtin_sqrtf(vn) / bc2Sqrt + eps;
    p[i] = pi + (negStepSize * mn) / denom;
    m[i] = mn;
    v[i] = vn;
  }
}
