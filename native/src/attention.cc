// Fused scaled-dot-product attention built from batched GEMMs plus one row pass.
// The query heads that share a kv head are contiguous in q, so for each (batch, kv head) the
// group's queries form one (group·Tq × D) matrix: grouped-query attention needs no copies and
// dK/dV sum over the group inside the GEMM.
#include <cstring>
#include <limits>
#include "mathx.h"
#include "peft.h"

namespace peft {

// HF: torch.finfo(float32).min; the same value as MASK_MIN in src/backend/backend.ts (ops and the TS kernel)
static const float kMaskMin = -std::numeric_limits<float>::max();

static thread_local Scratch<float> attn_dp;
static thread_local Scratch<float> attn_pd;  // P ⊙ drop (attention dropout)

void attention(const float* q, const float* k, const float* v, const float* mask, float* out, float* probs, const Attn& p,
               const float* drop) {
  const int64_t G = p.heads / p.kvHeads, BK = p.batch * p.kvHeads, M = G * p.tq, Tq = p.tq, Tk = p.tk, D = p.d;
  // scores = scale · Q·Kᵀ straight into probs
  matmul_f32_alpha(q, k, probs, Gemm{BK, M, Tk, D, false, true, M * D, Tk * D, M * Tk, false}, p.scale);
  const int64_t off = Tk - Tq, rows = p.batch * p.heads * Tq;
  // out == nullptr: only P is wanted (the backward recomputing it); no dropout, no P·V
  if (!out) drop = nullptr;
  // with dropout the GEMM reads Pd = P ⊙ drop; probs keep P (the backward needs it)
  float* pd = drop ? attn_pd.get((size_t)(rows * Tk)) : nullptr;
#pragma omp parallel for schedule(static) if (rows * Tk > (1 << 14))
  for (int64_t r = 0; r < rows; r++) {
    const int64_t i = r % Tq, b = r / (p.heads * Tq);
    float* s = probs + r * Tk;
    const float* mk = mask ? mask + b * Tk : nullptr;
    // causal keys get exactly finfo.min; others get the additive key mask (in f32), as HF combines them
    const int64_t jmax = p.causal ? i + off : Tk - 1;  // last visible key
    if (mk) {
      const int64_t lim = jmax + 1 < Tk ? jmax + 1 : Tk;
#pragma omp simd
      for (int64_t j = 0; j < lim; j++) s[j] += mk[j];
    }
    for (int64_t j = jmax + 1 < 0 ? 0 : jmax + 1; j < Tk; j++) s[j] = kMaskMin;
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < Tk; j++) mx = s[j] > mx ? s[j] : mx;
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < Tk; j++) {
      float e = vexp_neg(s[j] - mx);
      s[j] = e;
      sum += e;
    }
    const float inv = 1.f / sum;
    if (pd) {
      const float* dr = drop + r * Tk;
      float* o = pd + r * Tk;
#pragma omp simd
      for (int64_t j = 0; j < Tk; j++) {
        const float pj = s[j] * inv;
        s[j] = pj;
        o[j] = pj * dr[j];
      }
    } else {
#pragma omp simd
      for (int64_t j = 0; j < Tk; j++) s[j] *= inv;
    }
  }
  if (out) matmul_f32(pd ? pd : probs, v, out, Gemm{BK, M, D, Tk, false, false, M * Tk, Tk * D, M * D, false});
}

void attention_backward(const float* q, const float* k, const float* v, const float* probs, const float* gout, float* gq,
                        float* gk, float* gv, const Attn& p, const float* drop) {
  const int64_t G = p.heads / p.kvHeads, BK = p.batch * p.kvHeads, M = G * p.tq, Tk = p.tk, D = p.d;
  // dP = dO·Vᵀ
  float* dp = attn_dp.get((size_t)(BK * M * Tk));
  matmul_f32(gout, v, dp, Gemm{BK, M, Tk, D, false, true, M * D, Tk * D, M * Tk, false});
  // with dropout: Pd = P ⊙ drop (for dV) and dP ⊙= drop; then dS = scale · P ⊙ (dP − rowsum(dP ⊙ P))
  const int64_t rows = BK * M;
  const float scale = p.scale;
  float* pd = drop ? attn_pd.get((size_t)(rows * Tk)) : nullptr;
#pragma omp parallel for schedule(static) if (rows * Tk > (1 << 14))
  for (int64_t r = 0; r < rows; r++) {
    const float* pr = probs + r * Tk;
    float* d = dp + r * Tk;
    if (pd) {
      const float* dr = drop + r * Tk;
      float* o = pd + r * Tk;
#pragma omp simd
      for (int64_t j = 0; j < Tk; j++) {
        o[j] = pr[j] * dr[j];
        d[j] *= dr[j];
      }
    }
    float rs = 0.f;
#pragma omp simd reduction(+ : rs)
    for (int64_t j = 0; j < Tk; j++) rs += d[j] * pr[j];
#pragma omp simd
    for (int64_t j = 0; j < Tk; j++) d[j] = pr[j] * (d[j] - rs) * scale;
  }
  // dV = Pdᵀ·dO (summed over the group's query rows)
  matmul_f32(pd ? pd : probs, gout, gv, Gemm{BK, Tk, D, M, true, false, M * Tk, M * D, Tk * D, false});
  // dQ = dS·K, dK = dSᵀ·Q
  matmul_f32(dp, k, gq, Gemm{BK, M, D, Tk, false, false, M * Tk, Tk * D, M * D, false});
  matmul_f32(dp, q, gk, Gemm{BK, Tk, D, M, true, false, M * Tk, M * D, Tk * D, false});
}

}  // namespace peft
