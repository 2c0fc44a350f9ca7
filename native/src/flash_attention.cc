// Memory-linear attention (FlashAttention-2's scheme): the forward streams key blocks through an online
// softmax and keeps only each query row's max and 1/sum; the backward recomputes the probabilities block
// by block from them. Nothing of size Tq×Tk is allocated. Attention dropout regenerates each element's
// multiplier from the counter-based hash (dropout.cc) at its [B,H,Tq,Tk] index, so it equals the
// multiplier dropout_mask writes there. Masked scores follow attention.cc exactly (causal: finfo.min;
// key mask: added in f32), and a row whose visible keys are all masked is uniform over all keys.
#include <cmath>
#include <limits>
#include "mathx.h"
#include "peft.h"

namespace peft {

static const float kMin = -std::numeric_limits<float>::max();
static const int64_t BQ = 32, BK = 64;

static inline uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

// multiplier of element idx (of the [B,H,Tq,Tk] probabilities)
static inline float drop_at(const FlashDrop& dr, uint64_t idx) {
  const uint32_t h = hash32(hash32((uint32_t)idx + dr.k0) ^ dr.k1);
  return h < dr.thr ? 0.f : dr.keep;
}

// one key block [j0, j1) of kv head base kb, transposed to kt[D][BK] (dot products vectorise over keys),
// zero past j1 so the dot products always run over a full block (fixed trip count: register accumulators)
static void load_kt(const float* k, int64_t j0, int64_t j1, int64_t D, float* kt) {
  for (int64_t j = j0; j < j1; j++)
    for (int64_t d = 0; d < D; d++) kt[d * BK + (j - j0)] = k[j * D + d];
  if (j1 - j0 < BK)
    for (int64_t d = 0; d < D; d++)
      for (int64_t j = j1 - j0; j < BK; j++) kt[d * BK + j] = 0.f;
}

// c[j] = x · t[:, j] for the BK columns of a transposed block t[D][BK] (the accumulators stay in registers)
static inline void dot_block(const float* x, const float* t, int64_t D, float* out) {
  float c[BK];
  for (int64_t j = 0; j < BK; j++) c[j] = 0.f;
  for (int64_t d = 0; d < D; d++) {
    const float xd = x[d];
    const float* tr = t + d * BK;
#pragma omp simd
    for (int64_t j = 0; j < BK; j++) c[j] += xd * tr[j];
  }
  for (int64_t j = 0; j < BK; j++) out[j] = c[j];
}

// scores of query row qi against keys [j0, j1): s[j−j0] = scale·q·k + masks, as attention.cc computes them
static void scores(const float* qi, const float* kt, int64_t j0, int64_t j1, int64_t D, float scale, const float* mk,
                   int64_t jmax, float* s) {
  const int64_t n = j1 - j0;
  dot_block(qi, kt, D, s);
  for (int64_t j = 0; j < n; j++) {
    const int64_t jj = j0 + j;
    float x = s[j] * scale;
    if (jj > jmax) x = kMin;
    else if (mk) x = x + mk[jj];
    s[j] = x;
  }
}

// Visible keys of row i: [0, jmax] (jmax = i + Tk − Tq when causal, else Tk − 1).
static inline int64_t last_key(const Attn& p, int64_t i) { return p.causal ? i + (p.tk - p.tq) : p.tk - 1; }

void flash_attention(const float* q, const float* k, const float* v, const float* mask, float* out, float* stats,
                     const Attn& p, const FlashDrop* dr, int64_t kvs) {
  const int64_t H = p.heads, G = p.heads / p.kvHeads, Tq = p.tq, Tk = p.tk, D = p.d;
  const int64_t nqb = (Tq + BQ - 1) / BQ, tasks = p.batch * H * nqb;
#pragma omp parallel
  {
    std::vector<float> kt(D * BK), vb(BK * D), s(BK), acc(BQ * D), m(BQ), l(BQ);
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; t++) {
      const int64_t qb = t % nqb, bh = t / nqb, b = bh / H, h = bh % H;
      const int64_t i0 = qb * BQ, i1 = i0 + BQ < Tq ? i0 + BQ : Tq, nr = i1 - i0;
      const float* kh = k + (b * p.kvHeads + h / G) * kvs;
      const float* vh = v + (b * p.kvHeads + h / G) * kvs;
      const float* mk = mask ? mask + b * Tk : nullptr;
      for (int64_t r = 0; r < nr; r++) { m[r] = -std::numeric_limits<float>::infinity(); l[r] = 0.f; }
      for (int64_t x = 0; x < nr * D; x++) acc[x] = 0.f;
      int64_t jend = last_key(p, i1 - 1) + 1;
      jend = jend > Tk ? Tk : (jend < 0 ? 0 : jend);
      // pass 0: each row's visible keys [0, jmax]; pass 1, only for rows whose visible keys were all
      // masked (max still kMin or none seen): the causally hidden keys (jmax, Tk), all scoring kMin
      for (int pass = 0; pass < 2; pass++) {
        const int64_t jb = pass == 0 ? jend : Tk;
        if (pass == 1) {
          bool any = false;
          for (int64_t r = 0; r < nr; r++) any = any || (m[r] <= kMin && last_key(p, i0 + r) + 1 < Tk);
          if (!any) break;
        }
        for (int64_t j0 = 0; j0 < jb; j0 += BK) {
          const int64_t j1 = j0 + BK < jb ? j0 + BK : jb, n = j1 - j0;
          load_kt(kh, j0, j1, D, kt.data());
          for (int64_t x = 0; x < n * D; x++) vb[x] = vh[j0 * D + x];
          for (int64_t r = 0; r < nr; r++) {
            const int64_t i = i0 + r, jmax = last_key(p, i);
            if (pass == 1 && !(m[r] <= kMin)) continue;
            // this row's keys in the block: [ja, jz) relative to j0
            int64_t ja = pass == 0 ? 0 : jmax + 1 - j0, jz = pass == 0 ? jmax + 1 - j0 : n;
            ja = ja < 0 ? 0 : ja;
            jz = jz > n ? n : jz;
            if (ja >= jz) continue;
            scores(q + ((b * H + h) * Tq + i) * D, kt.data(), j0, j1, D, p.scale, mk, jmax, s.data());
            float mx = m[r];
            for (int64_t j = ja; j < jz; j++) mx = s[j] > mx ? s[j] : mx;
            const float corr = m[r] == -std::numeric_limits<float>::infinity() ? 0.f : vexp_neg(m[r] - mx);
            float* a = acc.data() + r * D;
            float sum = 0.f;
            for (int64_t j = ja; j < jz; j++) {
              const float e = vexp_neg(s[j] - mx);
              sum += e;
              s[j] = e;
            }
            l[r] = l[r] * corr + sum;
            m[r] = mx;
            if (corr != 1.f) {
#pragma omp simd
              for (int64_t d = 0; d < D; d++) a[d] *= corr;
            }
            const uint64_t rowIdx = (uint64_t)((b * H + h) * Tq + i) * (uint64_t)Tk;
            for (int64_t j = ja; j < jz; j++) {
              float w = s[j];
              if (dr) w *= drop_at(*dr, rowIdx + (uint64_t)(j0 + j));
              if (w == 0.f) continue;
              const float* vr = vb.data() + j * D;
#pragma omp simd
              for (int64_t d = 0; d < D; d++) a[d] += w * vr[d];
            }
          }
        }
      }
      for (int64_t r = 0; r < nr; r++) {
        const int64_t row = (b * H + h) * Tq + i0 + r;
        const float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;
        float* o = out + row * D;
        const float* a = acc.data() + r * D;
#pragma omp simd
        for (int64_t d = 0; d < D; d++) o[d] = a[d] * inv;
        stats[2 * row] = m[r];
        stats[2 * row + 1] = inv;
      }
    }
  }
}

// The keys row i attends with non-zero weight: [0, jmax] normally; all keys when its max is kMin
// (every visible key masked: uniform weights over all Tk keys, as the eager kernel gives).
static inline int64_t row_end(const Attn& p, int64_t i, float mrow) {
  if (mrow <= kMin) return p.tk;
  const int64_t e = last_key(p, i) + 1;
  return e > p.tk ? p.tk : e;
}

static thread_local Scratch<float> flash_delta;

void flash_attention_backward(const float* q, const float* k, const float* v, const float* mask, const float* out,
                              const float* stats, const float* gout, float* gq, float* gk, float* gv, const Attn& p,
                              const FlashDrop* dr) {
  const int64_t H = p.heads, Hkv = p.kvHeads, G = H / Hkv, Tq = p.tq, Tk = p.tk, D = p.d, rows = p.batch * H * Tq;
  const float scale = p.scale;
  // Δ_i = dO_i · O_i (= Σ_j dP_ij·P_ij, dropout included, since O = (P ⊙ drop)·V)
  float* delta = flash_delta.get((size_t)rows);
#pragma omp parallel for schedule(static) if (rows * D > (1 << 14))
  for (int64_t r = 0; r < rows; r++) {
    float acc = 0.f;
#pragma omp simd reduction(+ : acc)
    for (int64_t d = 0; d < D; d++) acc += gout[r * D + d] * out[r * D + d];
    delta[r] = acc;
  }
  // dS_ij for row i over keys [j0, j1) into s (P into pr): dS = scale · P ⊙ (dP ⊙ drop − Δ)
  auto grad_scores = [&](int64_t b, int64_t h, int64_t i, int64_t j0, int64_t j1, const float* kt, const float* vt,
                         const float* mk, float* s, float* pr) {
    const int64_t row = (b * H + h) * Tq + i, n = j1 - j0;
    const float mrow = stats[2 * row], inv = stats[2 * row + 1];
    // masked keys score kMin (causal) or s + mask (padding) as in the forward: P = 0 for them, except
    // in a fully masked row (max kMin), where every key gets P = 1/Tk
    scores(q + row * D, kt, j0, j1, D, scale, mk, last_key(p, i), s);
    float dp[BK];
    dot_block(gout + row * D, vt, D, dp);
    const uint64_t rowIdx = (uint64_t)row * (uint64_t)Tk;
    for (int64_t j = 0; j < n; j++) {
      const float P = vexp_neg(s[j] - mrow) * inv;
      const float m = dr ? drop_at(*dr, rowIdx + (uint64_t)(j0 + j)) : 1.f;
      pr[j] = P * m;
      s[j] = P * (dp[j] * m - delta[row]) * scale;
    }
  };
  const int64_t nkb = (Tk + BK - 1) / BK;
  // dK, dV: one task per (batch, kv head, key block); the group's query heads and all their rows
#pragma omp parallel
  {
    std::vector<float> kt(D * BK), vt(D * BK), s(BK), pr(BK), dk(BK * D), dv(BK * D);
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < p.batch * Hkv * nkb; t++) {
      const int64_t kb = t % nkb, bk = t / nkb, b = bk / Hkv, kh = bk % Hkv;
      const int64_t j0 = kb * BK, j1 = j0 + BK < Tk ? j0 + BK : Tk, n = j1 - j0;
      const float* kp = k + bk * Tk * D;
      const float* vp = v + bk * Tk * D;
      const float* mk = mask ? mask + b * Tk : nullptr;
      load_kt(kp, j0, j1, D, kt.data());
      load_kt(vp, j0, j1, D, vt.data());
      for (int64_t x = 0; x < n * D; x++) dk[x] = dv[x] = 0.f;
      for (int64_t g = 0; g < G; g++) {
        const int64_t h = kh * G + g;
        for (int64_t i = 0; i < Tq; i++) {
          const int64_t row = (b * H + h) * Tq + i;
          if (row_end(p, i, stats[2 * row]) <= j0) continue;
          grad_scores(b, h, i, j0, j1, kt.data(), vt.data(), mk, s.data(), pr.data());
          const float* qi = q + row * D;
          const float* go = gout + row * D;
          for (int64_t j = 0; j < n; j++) {
            const float w = pr[j], ds = s[j];
            float* dvr = dv.data() + j * D;
            float* dkr = dk.data() + j * D;
            if (w != 0.f) {
#pragma omp simd
              for (int64_t d = 0; d < D; d++) dvr[d] += w * go[d];
            }
            if (ds != 0.f) {
#pragma omp simd
              for (int64_t d = 0; d < D; d++) dkr[d] += ds * qi[d];
            }
          }
        }
      }
      for (int64_t x = 0; x < n * D; x++) {
        gk[bk * Tk * D + j0 * D + x] = dk[x];
        gv[bk * Tk * D + j0 * D + x] = dv[x];
      }
    }
  }
  // dQ: one task per (batch, head, query block), over each row's keys
  const int64_t nqb = (Tq + BQ - 1) / BQ;
#pragma omp parallel
  {
    std::vector<float> kt(D * BK), vt(D * BK), s(BK), pr(BK), kb(BK * D);
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < p.batch * H * nqb; t++) {
      const int64_t qb = t % nqb, bh = t / nqb, b = bh / H, h = bh % H;
      const int64_t i0 = qb * BQ, i1 = i0 + BQ < Tq ? i0 + BQ : Tq;
      const int64_t bk = b * Hkv + h / G;
      const float* kp = k + bk * Tk * D;
      const float* vp = v + bk * Tk * D;
      const float* mk = mask ? mask + b * Tk : nullptr;
      int64_t jend = 0;
      for (int64_t i = i0; i < i1; i++) {
        const int64_t e = row_end(p, i, stats[2 * ((b * H + h) * Tq + i)]);
        jend = e > jend ? e : jend;
      }
      for (int64_t i = i0; i < i1; i++)
        for (int64_t d = 0; d < D; d++) gq[((b * H + h) * Tq + i) * D + d] = 0.f;
      for (int64_t j0 = 0; j0 < jend; j0 += BK) {
        const int64_t j1 = j0 + BK < Tk ? j0 + BK : Tk, n = j1 - j0;
        load_kt(kp, j0, j1, D, kt.data());
        load_kt(vp, j0, j1, D, vt.data());
        for (int64_t x = 0; x < n * D; x++) kb[x] = kp[j0 * D + x];
        for (int64_t i = i0; i < i1; i++) {
          const int64_t row = (b * H + h) * Tq + i;
          if (row_end(p, i, stats[2 * row]) <= j0) continue;
          grad_scores(b, h, i, j0, j1, kt.data(), vt.data(), mk, s.data(), pr.data());
          float* dq = gq + row * D;
          for (int64_t j = 0; j < n; j++) {
            const float ds = s[j];
            if (ds == 0.f) continue;
            const float* kr = kb.data() + j * D;
#pragma omp simd
            for (int64_t d = 0; d < D; d++) dq[d] += ds * kr[d];
          }
        }
      }
    }
  }
}

}  // namespace peft
