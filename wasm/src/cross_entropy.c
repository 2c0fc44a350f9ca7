// Cross entropy per row of logits [rows, cols] against int32 labels (ignore index, label smoothing ε)
// and its backward; the forward keeps each row's log-sum-exp, the backward recomputes p from it.
#include "kernels.h"

EXPORT(cross_entropy)
void cross_entropy(const float* logits, const int* labels, float* loss, float* lse, int rows, int cols, int ignoreIndex, float eps, PART_ARGS) {
  PART(rows, 1, r0, r1);
  for (int r = r0; r < r1; r++) {
    const float* x = logits + (long)r * cols;
    float mx = row_max(x, cols);
    double l = mx + wk_log(exp_row(x, 0, cols, mx));
    lse[r] = (float)l;
    int y = labels[r];
    if (y == ignoreIndex) { loss[r] = 0; continue; }
    double nll = y >= 0 && y < cols ? l - x[y] : __builtin_nan("");
    if (eps == 0) { loss[r] = (float)nll; continue; }
    acc64 s = acc64_zero();
    int c = 0;
    for (; c + 4 <= cols; c += 4) acc64_add(&s, wasm_v128_load(x + c));
    if (c < cols) acc64_add(&s, load_tail(x + c, cols - c, 0));
    loss[r] = (float)((1 - (double)eps) * nll + eps * (l - acc64_total(s) / cols));
  }
}

EXPORT(cross_entropy_backward)
void cross_entropy_backward(const float* logits, const float* lse, const int* labels, const float* gLoss, float* gLogits,
                            int rows, int cols, int ignoreIndex, float eps, PART_ARGS) {
  float u = eps / cols;
  PART(rows, 1, r0, r1);
  for (int r = r0; r < r1; r++) {
    long o = (long)r * cols;
    int y = labels[r];
    if (y == ignoreIndex) { for (int c = 0; c < cols; c++) gLogits[o + c] = 0; continue; }
    float g = gLoss[r];
    // exp(logits − lse) written into gLogits, then scaled
    exp_row(logits + o, gLogits + o, cols, lse[r]);
    v128_t vg = wasm_f32x4_splat(g), vu = wasm_f32x4_splat(u);
    int c = 0;
    for (; c + 4 <= cols; c += 4) wasm_v128_store(gLogits + o + c, wasm_f32x4_mul(vg, wasm_f32x4_sub(wasm_v128_load(gLogits + o + c), vu)));
    for (; c < cols; c++) gLogits[o + c] = g * (gLogits[o + c] - u);
    if (y >= 0 && y < cols) gLogits[o + y] -= g * (1 - eps);
  }
}
