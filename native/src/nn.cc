// Row-wise fused kernels: reductions, softmax/log-softmax, LayerNorm/RMSNorm, cross entropy,
// embedding and AdamW. Each kernel is one pass (or two over an L1/L2-resident row), parallel
// over rows with the shared OpenMP pool.
#include <omp.h>
#include <cmath>
#include <cstring>
#include <limits>
#include "mathx.h"
#include "peft.h"

namespace peft {

static const int64_t kPar = 1 << 14;  // elements below which a kernel stays on one thread
static const float kNegInf = -std::numeric_limits<float>::infinity();

// Row sums: f32 SIMD partial sums over blocks of 256, accumulated in double, so long rows
// (vocabularies of 32k+) keep ~1e-7 relative accuracy like the TS reference's double sums.
// (Four interleaved accumulators were tried: GCC then keeps the omp-simd reduction lanes in
// memory and the kernels got 2-4x slower.) f(j) may also write element j (softmax's exp).
template <typename F>
static inline float bsum(int64_t n, F f) {
  double tot = 0.0;
  for (int64_t j0 = 0; j0 < n; j0 += 256) {
    const int64_t j1 = j0 + 256 < n ? j0 + 256 : n;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = j0; j < j1; j++) s += f(j);
    tot += s;
  }
  return (float)tot;
}

// ------------------------------------------------------------------ reductions
void sum(const float* x, float* out, int64_t outer, int64_t n, int64_t inner) {
  const int64_t total = outer * n * inner;
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (total > kPar)
    for (int64_t o = 0; o < outer; o++) {
      const float* r = x + o * n;
      float s = 0.f;
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < n; j++) s += r[j];
      out[o] = s;
    }
    return;
  }
  // parallel over (outer, chunk of inner) so each thread owns disjoint outputs
  const int64_t chunk = 256, nch = (inner + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (total > kPar)
  for (int64_t t = 0; t < outer * nch; t++) {
    const int64_t o = t / nch, c0 = (t % nch) * chunk, c1 = c0 + chunk < inner ? c0 + chunk : inner;
    float* op = out + o * inner;
    for (int64_t i = c0; i < c1; i++) op[i] = 0.f;
    const float* base = x + o * n * inner;
    for (int64_t j = 0; j < n; j++) {
      const float* r = base + j * inner;
#pragma omp simd
      for (int64_t i = c0; i < c1; i++) op[i] += r[i];
    }
  }
}

void max(const float* x, float* out, int32_t* idx, int64_t outer, int64_t n, int64_t inner) {
  const int64_t total = outer * n * inner;
#pragma omp parallel for schedule(static) if (total > kPar)
  for (int64_t t = 0; t < outer * inner; t++) {
    const int64_t o = t / inner, i = t % inner;
    const float* base = x + o * n * inner + i;
    float best = kNegInf;
    int32_t bi = 0;
    for (int64_t j = 0; j < n; j++) {
      float v = base[j * inner];
      if (v > best || v != v) {
        best = v;
        bi = (int32_t)j;
        if (v != v) break;
      }
    }
    out[t] = best;
    idx[t] = bi;
  }
}

// ------------------------------------------------------------------ softmax family
static inline float row_max(const float* r, int64_t n) {
  float m = kNegInf;
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < n; j++) m = r[j] > m ? r[j] : m;
  return m;
}

void softmax(const float* x, float* out, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kPar)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = out + r * cols;
    float mx = row_max(xr, cols);
    if (mx == kNegInf) mx = 0.f;  // all −inf: exp gives 0 and 0/0 = NaN, as torch
    const float s = bsum(cols, [&](int64_t j) {
      float e = vexp_neg(xr[j] - mx);
      yr[j] = e;
      return e;
    });
    const float inv = 1.f / s;
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) yr[j] *= inv;
  }
}

void softmax_backward(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kPar)
  for (int64_t r = 0; r < rows; r++) {
    const float *yr = y + r * cols, *gr = gy + r * cols;
    float* xr = gx + r * cols;
    const float dot = bsum(cols, [&](int64_t j) { return gr[j] * yr[j]; });
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) xr[j] = yr[j] * (gr[j] - dot);
  }
}

void log_softmax(const float* x, float* out, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kPar)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = out + r * cols;
    float mx = row_max(xr, cols);
    if (mx == kNegInf) mx = 0.f;
    const float s = bsum(cols, [&](int64_t j) { return vexp_neg(xr[j] - mx); });
    const float lse = mx + std::log(s);
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) yr[j] = xr[j] - lse;
  }
}

void log_softmax_backward(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kPar)
  for (int64_t r = 0; r < rows; r++) {
    const float *yr = y + r * cols, *gr = gy + r * cols;
    float* xr = gx + r * cols;
    const float s = bsum(cols, [&](int64_t j) { return gr[j]; });
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) xr[j] = gr[j] - vexp_neg(yr[j]) * s;
  }
}

// ------------------------------------------------------------------ norms
void layer_norm(const float* x, const float* w, const float* b, float* out, float* mean, float* rstd, int64_t rows,
                int64_t cols, float eps) {
#pragma omp parallel for schedule(static) if (rows * cols > kPar)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = out + r * cols;
    const float mu = vsum(xr, cols, [](v8 a) { return a; }) / (float)cols;
    const float v = vsum(xr, cols, [mu](v8 a) {
      v8 d = a - mu;
      return d * d;
    });
    const float rs = (float)(1.0 / std::sqrt((double)v / (double)cols + (double)eps));
    mean[r] = mu;
    rstd[r] = rs;
    if (w && b) {
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - mu) * rs * w[j] + b[j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) {
        float y = (xr[j] - mu) * rs;
        if (w) y *= w[j];
        if (b) y += b[j];
        yr[j] = y;
      }
    }
  }
}

// Per-thread partial sums for weight/bias gradients (reduced after the parallel loop).
static thread_local Scratch<float> norm_partials;

void layer_norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* gy, float* gx,
                         float* gw, float* gb, int64_t rows, int64_t cols) {
  const int nt = rows * cols > kPar ? num_threads() : 1;
  float* part = norm_partials.get((size_t)nt * cols * 2);
  std::memset(part, 0, sizeof(float) * nt * cols * 2);
#pragma omp parallel num_threads(nt)
  {
    float* pw = part + (size_t)omp_get_thread_num() * cols * 2;
    float* pb = pw + cols;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float *xr = x + r * cols, *gr = gy + r * cols;
      float* xo = gx + r * cols;
      const float mu = mean[r], rs = rstd[r];
      float sd = 0.f, sdx = 0.f;
#pragma omp simd reduction(+ : sd, sdx)
      for (int64_t j = 0; j < cols; j++) {
        float xh = (xr[j] - mu) * rs;
        float d = w ? gr[j] * w[j] : gr[j];
        sd += d;
        sdx += d * xh;
        pw[j] += gr[j] * xh;
        pb[j] += gr[j];
      }
      const float md = sd / (float)cols, mdx = sdx / (float)cols;
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) {
        float xh = (xr[j] - mu) * rs;
        float d = w ? gr[j] * w[j] : gr[j];
        xo[j] = rs * (d - md - xh * mdx);
      }
    }
  }
  for (int t = 0; t < nt; t++) {
    const float* pw = part + (size_t)t * cols * 2;
    if (gw)
      for (int64_t j = 0; j < cols; j++) gw[j] += pw[j];
    if (gb)
      for (int64_t j = 0; j < cols; j++) gb[j] += pw[cols + j];
  }
}

void rms_norm(const float* x, const float* w, float* out, float* rstd, int64_t rows, int64_t cols, float eps) {
#pragma omp parallel for schedule(static) if (rows * cols > kPar)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = out + r * cols;
    const float ss = vsum(xr, cols, [](v8 a) { return a * a; });
    const float rs = (float)(1.0 / std::sqrt((double)ss / (double)cols + (double)eps));
    rstd[r] = rs;
    if (w) {
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] * rs) * w[j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) yr[j] = xr[j] * rs;
    }
  }
}

void rms_norm_backward(const float* x, const float* w, const float* rstd, const float* gy, float* gx, float* gw, int64_t rows,
                       int64_t cols) {
  const int nt = rows * cols > kPar ? num_threads() : 1;
  float* part = norm_partials.get((size_t)nt * cols);
  std::memset(part, 0, sizeof(float) * nt * cols);
#pragma omp parallel num_threads(nt)
  {
    float* pw = part + (size_t)omp_get_thread_num() * cols;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float *xr = x + r * cols, *gr = gy + r * cols;
      float* xo = gx + r * cols;
      const float rs = rstd[r];
      float sdx = 0.f;
#pragma omp simd reduction(+ : sdx)
      for (int64_t j = 0; j < cols; j++) {
        float xh = xr[j] * rs;
        float d = w ? gr[j] * w[j] : gr[j];
        sdx += d * xh;
        pw[j] += gr[j] * xh;
      }
      const float mdx = sdx / (float)cols;
#pragma omp simd
      for (int64_t j = 0; j < cols; j++) {
        float xh = xr[j] * rs;
        float d = w ? gr[j] * w[j] : gr[j];
        xo[j] = rs * (d - xh * mdx);
      }
    }
  }
  if (gw)
    for (int t = 0; t < nt; t++) {
      const float* pw = part + (size_t)t * cols;
      for (int64_t j = 0; j < cols; j++) gw[j] += pw[j];
    }
}

// ------------------------------------------------------------------ cross entropy
// Forward keeps only the per-row log-sum-exp (not the [rows, cols] probabilities): the backward
// recomputes p = exp(x − lse) from the logits, which the caller holds anyway.
void cross_entropy(const float* logits, const int32_t* labels, float* loss, float* lse_out, int64_t rows, int64_t cols,
                   int32_t ignore, float smoothing) {
#pragma omp parallel for schedule(static) if (rows * cols > kPar)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = logits + r * cols;
    const float mx = row_max(xr, cols);
    const float s = bsum(cols, [&](int64_t j) { return vexp_neg(xr[j] - mx); });
    const float sl = smoothing == 0.f ? 0.f : bsum(cols, [&](int64_t j) { return xr[j]; });
    const float lse = mx + std::log(s);
    lse_out[r] = lse;
    const int32_t y = labels[r];
    if (y == ignore) {
      loss[r] = 0.f;
      continue;
    }
    const float nll = (y >= 0 && y < cols) ? lse - xr[y] : std::numeric_limits<float>::quiet_NaN();
    loss[r] = smoothing == 0.f ? nll : (1.f - smoothing) * nll + smoothing * (lse - sl / (float)cols);
  }
}

void cross_entropy_backward(const float* logits, const float* lse, const int32_t* labels, const float* gloss, float* glogits,
                            int64_t rows, int64_t cols, int32_t ignore, float smoothing) {
  const float u = smoothing / (float)cols;
#pragma omp parallel for schedule(static) if (rows * cols > kPar)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = logits + r * cols;
    float* gr = glogits + r * cols;
    const int32_t y = labels[r];
    if (y == ignore) {
      std::memset(gr, 0, sizeof(float) * cols);
      continue;
    }
    const float g = gloss[r], l = lse[r];
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) gr[j] = g * (vexp_neg(xr[j] - l) - u);
    if (y >= 0 && y < cols) gr[y] -= g * (1.f - smoothing);
  }
}

// ------------------------------------------------------------------ SwiGLU gate
void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kPar)
  for (int64_t i = 0; i < n; i++) {
    const float g = gate[i];
    out[i] = g / (1.f + vexp(-g)) * up[i];
  }
}

void silu_mul_backward(const float* gate, const float* up, const float* gy, float* ggate, float* gup, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kPar)
  for (int64_t i = 0; i < n; i++) {
    const float g = gate[i], s = 1.f / (1.f + vexp(-g));
    gup[i] = gy[i] * g * s;
    ggate[i] = gy[i] * up[i] * s * (1.f + g * (1.f - s));
  }
}

// ------------------------------------------------------------------ embedding
void embedding(const float* w, const int32_t* ids, float* out, int64_t count, int64_t dim) {
#pragma omp parallel for schedule(static) if (count * dim > kPar)
  for (int64_t t = 0; t < count; t++) std::memcpy(out + t * dim, w + (int64_t)ids[t] * dim, sizeof(float) * dim);
}

void embedding_backward(const float* gout, const int32_t* ids, float* gw, int64_t count, int64_t dim) {
  // threads own disjoint column slices, so repeated ids never race
  const int nt = count * dim > kPar ? num_threads() : 1;
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    const int64_t c0 = dim * t / T, c1 = dim * (t + 1) / T;
    for (int64_t i = 0; i < count; i++) {
      float* dst = gw + (int64_t)ids[i] * dim;
      const float* src = gout + i * dim;
#pragma omp simd
      for (int64_t c = c0; c < c1; c++) dst[c] += src[c];
    }
  }
}

// ------------------------------------------------------------------ AdamW
// Same operation order and f32 rounding as torch.optim.AdamW's single-tensor path (and the TS
// reference); contraction into FMAs is disabled here so results match bit for bit.
__attribute__((optimize("fp-contract=off"))) void adamw(float* p, const float* g, float* m, float* v, int64_t n,
                                                         const AdamW& hp) {
  const double lr = hp.lr, b1 = hp.beta1, b2d = hp.beta2, step = hp.step;
  const float decay = (float)(1.0 - lr * hp.wd);
  const float w1 = (float)(1.0 - b1);
  const bool lerpLow = w1 < 0.5f;
  const float w2 = (float)(1.0 - b2d);
  const float b2 = (float)b2d;
  const double bc1 = 1.0 - std::pow(b1, step);
  const float bc2Sqrt = (float)std::sqrt(1.0 - std::pow(b2d, step));
  const float negStep = (float)(-(lr / bc1));
  const float epsF = (float)hp.eps;
  const float omw1 = 1.f - w1;
  const bool wd = hp.wd != 0.0;
#pragma omp parallel for simd schedule(static) if (n > kPar)
  for (int64_t i = 0; i < n; i++) {
    float pi = p[i];
    if (wd) pi = pi * decay;
    const float gi = g[i], mi = m[i];
    const float mNew = lerpLow ? mi + w1 * (gi - mi) : gi - (gi - mi) * omw1;
    const float vNew = v[i] * b2 + (w2 * gi) * gi;
    const float denom = std::sqrt(vNew) / bc2Sqrt + epsF;
    p[i] = pi + (negStep * mNew) / denom;
    m[i] = mNew;
    v[i] = vNew;
  }
}


// Products are rounded to f32 before the sum, as in PyTorch's x·cos + rotate_half(x)·sin (so no
// fused multiply-add here: the forward equals the TS reference bit for bit).
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
void rotary(const float* x, const float* cos, const float* sin, float* out, const Rope& p, bool inverse) {
  const int64_t B = p.batch, H = p.heads, T = p.seq, D = p.d, half = D / 2;
  const int64_t rows = B * H * T;
#pragma omp parallel for schedule(static) if (rows * D > kPar)
  for (int64_t row = 0; row < rows; row++) {
    const int64_t t = row % T, bh = row / T, h = bh % H, b = bh / H;
    const float* xr = x + b * p.sb + h * p.sh + t * p.st;
    const float* c = cos + (p.per_batch ? b * T * D : 0) + t * D;
    const float* s = sin + (p.per_batch ? b * T * D : 0) + t * D;
    float* o = out + row * D;
    if (!inverse) {
      for (int64_t i = 0; i < half; i++) {
        const float x1 = xr[i], x2 = xr[half + i];
        const float a1 = x1 * c[i], b1 = x2 * s[i], a2 = x2 * c[half + i], b2 = x1 * s[half + i];
        o[i] = a1 - b1;
        o[half + i] = a2 + b2;
      }
    } else {
      for (int64_t i = 0; i < half; i++) {
        const float g1 = xr[i], g2 = xr[half + i];
        o[i] = g1 * c[i] + g2 * s[half + i];
        o[half + i] = g2 * c[half + i] - g1 * s[i];
      }
    }
  }
}
#pragma GCC pop_options

}  // namespace peft
