// Scaled dot-product attention (HF eager semantics, as src/backend/ts/attention.ts) composed per
// (batch, head) from the blocked GEMM and a row softmax: S = QKᵀ, s = f32(S·scale) then + mask in
// f32 (a causally dropped key gets MASK_MIN once), P = softmax(s) into probs, out = (P ⊙ drop)·V.
// Backward: dV += Pdᵀ·dO, dP = (dO·Vᵀ) ⊙ drop, dS = scale·P ⊙ (dP − rowsum(dP ⊙ P)), dQ = dS·K,
// dK += dSᵀ·Q; kv heads shared by a group of query heads sum their gradients.
// mask, out and drop may be 0 (null). scratch: parts × (gemm_scratch_floats() + 2·tq·tk) floats.
// Threads: part = 0..parts−1 takes a run of the (batch, head) pairs forward and of the (batch, kv head)
// groups backward (a group's query heads stay on one thread, so dK and dV are summed in one order).
#include "kernels.h"

static const float MASK_MIN = -3.4028234663852886e38f;

EXPORT(attention)
void attention(const float* q, const float* k, const float* v, const float* mask, float* out, float* probs,
               int B, int H, int Hkv, int Tq, int Tk, int D, float scale, int causal, const float* drop, float* scratch,
               int part, int parts) {
  int group = H / Hkv, off = Tk - Tq, u0, u1;
  scratch += (long)part * (gemm_scratch_floats() + 2 * Tq * Tk);
  float* pd = scratch + gemm_scratch_floats();
  wk_share(B * H, 1, part, parts, &u0, &u1);
  for (int u = u0; u < u1; u++) {
    int b = u / H, h = u % H;
    long qb = (long)(b * H + h) * Tq * D, kb = (long)(b * Hkv + h / group) * Tk * D, pb = (long)(b * H + h) * Tq * Tk;
    float* P = probs + pb;
    wk_gemm_one(q + qb, k + kb, P, Tq, Tk, D, 0, 1, 0, scratch);
    for (int i = 0; i < Tq; i++) {
      float* row = P + (long)i * Tk;
      for (int j = 0; j < Tk; j++) {
        float s = row[j] * scale;
        if (causal && j > i + off) s = s + MASK_MIN;
        else if (mask) s = s + mask[(long)b * Tk + j];
        row[j] = s;
      }
      float mx = row_max(row, Tk);
      double sum = exp_row(row, row, Tk, mx);
      float inv = (float)(1 / sum);
      for (int j = 0; j < Tk; j++) row[j] *= inv;
    }
    if (!out) continue;
    const float* w = P;
    if (drop) {
      for (long t = 0; t < (long)Tq * Tk; t++) pd[t] = P[t] * drop[pb + t];
      w = pd;
    }
    wk_gemm_one(w, v + kb, out + qb, Tq, D, Tk, 0, 0, 0, scratch);
    }
}

EXPORT(attention_backward)
void attention_backward(const float* q, const float* k, const float* v, const float* probs, const float* gOut, float* gq, float* gk, float* gv,
                        int B, int H, int Hkv, int Tq, int Tk, int D, float scale, const float* drop, float* scratch, int part, int parts) {
  int group = H / Hkv, u0, u1;
  scratch += (long)part * (gemm_scratch_floats() + 2 * Tq * Tk);
  float* pd = scratch + gemm_scratch_floats();
  float* ds = pd + (long)Tq * Tk;
  wk_share(B * Hkv, 1, part, parts, &u0, &u1);
  for (long t = (long)u0 * Tk * D; t < (long)u1 * Tk * D; t++) gk[t] = gv[t] = 0;
  for (int u = u0; u < u1; u++)
    for (int h = (u % Hkv) * group; h < (u % Hkv + 1) * group; h++) {
      int b = u / Hkv;
      long qb = (long)(b * H + h) * Tq * D, kb = (long)(b * Hkv + h / group) * Tk * D, pb = (long)(b * H + h) * Tq * Tk;
      const float* P = probs + pb;
      const float* w = P;
      if (drop) {
        for (long t = 0; t < (long)Tq * Tk; t++) pd[t] = P[t] * drop[pb + t];
        w = pd;
      }
      wk_gemm_one(w, gOut + qb, gv + kb, Tk, D, Tq, 1, 0, 1, scratch);
      wk_gemm_one(gOut + qb, v + kb, ds, Tq, Tk, D, 0, 1, 0, scratch);
      for (int i = 0; i < Tq; i++) {
        float* dp = ds + (long)i * Tk;
        const float* pr = P + (long)i * Tk;
        const float* dr = drop ? drop + pb + (long)i * Tk : 0;
        double rs = 0;
        for (int j = 0; j < Tk; j++) {
          if (dr) dp[j] *= dr[j];
          rs += (double)dp[j] * pr[j];
        }
        for (int j = 0; j < Tk; j++) dp[j] = (float)(pr[j] * (dp[j] - rs) * scale);
      }
      wk_gemm_one(ds, k + kb, gq + qb, Tq, D, Tk, 0, 0, 0, scratch);
      wk_gemm_one(ds, q + qb, gk + kb, Tk, D, Tq, 1, 0, 1, scratch);
    }
}
