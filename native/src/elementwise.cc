// Elementwise kernels: unary ops and their derivatives, broadcasting binary ops, affine, bf16 casts.
#include <cmath>
#include <cstring>
#include "erfx.h"
#include "mathx.h"
#include <omp.h>
#include "peft.h"

namespace peft {

static const int64_t kPar = 1 << 15;  // below this many elements, threads cost more than they save

static inline float sigm(float x) { return 1.f / (1.f + vexp(-x)); }


static const float kSqrt2OverPi = 0.7978845608028654f, kInvSqrt2 = 0.7071067811865476f, kInvSqrt2Pi = 0.3989422804014327f;

#define PAR_FOR(n) _Pragma("omp parallel for simd schedule(static) if (n > kPar)") for (int64_t i = 0; i < n; i++)

// ---- Hand-vectorised activations (GELU erf/tanh, SiLU, ReLU) and their gradients, shared by unary,
// unary_backward and the fused bias+activation kernels (so fused and unfused results are identical).
// Written with GCC vector extensions (vfw: kVW lanes): the auto-vectorised scalar form spent a true
// division and a second exp per element, and GCC would not turn its selects into min/blend.
template <int OP>
PEFT_VINLINE vfw act_v(vfw z) {
  if constexpr (OP == U_GELU) {
    vfw e;
    return z * vw_cdf_erf(z * kInvSqrt2, e);
  } else if constexpr (OP == U_GELU_TANH) {
    // 0.5·(1 + tanh u) = σ(2u), u = √(2/π)·(v + 0.044715·v³)
    vfw e, r;
    const vfw w = z * ((2.f * kSqrt2OverPi) + (2.f * kSqrt2OverPi * 0.044715f) * (z * z));
    return z * vw_sigmoid(w, e, r);
  } else if constexpr (OP == U_SILU) {
    vfw e, r;
    return z * vw_sigmoid(z, e, r);
  } else {
    static_assert(OP == U_RELU, "act_v: unsupported op");
    return z > 0.f ? z : vw_set(0.f);
  }
}

// gy · act'(z)
template <int OP>
PEFT_VINLINE vfw act_grad_v(vfw z, vfw gy) {
  if constexpr (OP == U_GELU) {
    // Φ(z) + z·φ(z), φ(z) = e^{−z²/2}/√(2π): the Gaussian factor comes with the CDF
    vfw e;
    const vfw c = vw_cdf_erf(z * kInvSqrt2, e);
    return gy * (c + z * kInvSqrt2Pi * e);
  } else if constexpr (OP == U_GELU_TANH) {
    // σ(w) + v·σ(w)(1 − σ(w))·w', w = 2u, σ(1 − σ) = e·r²
    vfw e, r;
    const vfw z2 = z * z;
    const vfw w = z * ((2.f * kSqrt2OverPi) + (2.f * kSqrt2OverPi * 0.044715f) * z2);
    const vfw dw = (2.f * kSqrt2OverPi) + (2.f * kSqrt2OverPi * 3.f * 0.044715f) * z2;
    const vfw sg = vw_sigmoid(w, e, r);
    return gy * (sg + z * dw * (e * r * r));
  } else if constexpr (OP == U_SILU) {
    // σ·(1 + z·(1 − σ)), 1 − σ = z ≥ 0 ? e·r : r
    vfw e, r;
    const vfw sg = vw_sigmoid(z, e, r);
    const vfw er = e * r;
    return gy * (sg * (1.f + z * vw_sel_neg(z, r, er)));
  } else {
    static_assert(OP == U_RELU, "act_grad_v: unsupported op");
    return z > 0.f ? gy : vw_set(0.f);
  }
}

// out[i] = f(x[i]) over whole vectors, the last partial vector through a zero-padded copy. Guided
// scheduling: a thread that lost its core for a while (busy or virtualised machines) does not hold
// up the others, at no cost otherwise.
template <class F>
static void vmap1(const float* x, float* out, int64_t n, F f) {
  const int64_t nv = n / kVW;
#pragma omp parallel for schedule(guided, 256) if (n > kPar)
  for (int64_t i = 0; i < nv; i++) vw_store(out + i * kVW, f(vw_load(x + i * kVW)));
  const int64_t done = nv * kVW, rest = n - done;
  if (rest > 0) {
    float tx[kVW] = {}, to[kVW];
    std::memcpy(tx, x + done, rest * sizeof(float));
    vw_store(to, f(vw_load(tx)));
    std::memcpy(out + done, to, rest * sizeof(float));
  }
}
template <class F>
static void vmap2(const float* x, const float* y, float* out, int64_t n, F f) {
  const int64_t nv = n / kVW;
#pragma omp parallel for schedule(guided, 256) if (n > kPar)
  for (int64_t i = 0; i < nv; i++) vw_store(out + i * kVW, f(vw_load(x + i * kVW), vw_load(y + i * kVW)));
  const int64_t done = nv * kVW, rest = n - done;
  if (rest > 0) {
    float tx[kVW] = {}, ty[kVW] = {}, to[kVW];
    std::memcpy(tx, x + done, rest * sizeof(float));
    std::memcpy(ty, y + done, rest * sizeof(float));
    vw_store(to, f(vw_load(tx), vw_load(ty)));
    std::memcpy(out + done, to, rest * sizeof(float));
  }
}

void unary(int op, const float* x, float* out, int64_t n, float alpha) {
  (void)alpha;
  switch (op) {
    case U_NEG: PAR_FOR(n) out[i] = -x[i]; return;
    case U_EXP: PAR_FOR(n) out[i] = vexp(x[i]); return;
    case U_LOG: PAR_FOR(n) out[i] = std::log(x[i]); return;
    case U_SQRT: PAR_FOR(n) out[i] = std::sqrt(x[i]); return;
    case U_RSQRT: PAR_FOR(n) out[i] = 1.f / std::sqrt(x[i]); return;
    case U_ABS: PAR_FOR(n) out[i] = std::fabs(x[i]); return;
    case U_TANH: PAR_FOR(n) out[i] = std::tanh(x[i]); return;
    case U_SIGMOID: PAR_FOR(n) out[i] = sigm(x[i]); return;
    case U_RELU: PAR_FOR(n) out[i] = x[i] > 0.f ? x[i] : 0.f; return;
    case U_SILU: return vmap1(x, out, n, [](vfw v) { return act_v<U_SILU>(v); });
    case U_GELU: return vmap1(x, out, n, [](vfw v) { return act_v<U_GELU>(v); });
    case U_GELU_TANH: return vmap1(x, out, n, [](vfw v) { return act_v<U_GELU_TANH>(v); });
    case U_SQUARE: PAR_FOR(n) out[i] = x[i] * x[i]; return;
    case U_RECIPROCAL: PAR_FOR(n) out[i] = 1.f / x[i]; return;
  }
}

void unary_backward(int op, const float* x, const float* y, const float* gy, float* gx, int64_t n, float alpha) {
  (void)alpha;
  switch (op) {
    case U_NEG: PAR_FOR(n) gx[i] = -gy[i]; return;
    case U_EXP: PAR_FOR(n) gx[i] = gy[i] * y[i]; return;
    case U_LOG: PAR_FOR(n) gx[i] = gy[i] / x[i]; return;
    case U_SQRT: PAR_FOR(n) gx[i] = gy[i] * 0.5f / y[i]; return;
    case U_RSQRT: PAR_FOR(n) gx[i] = gy[i] * -0.5f * y[i] * y[i] * y[i]; return;
    case U_ABS: PAR_FOR(n) gx[i] = x[i] > 0.f ? gy[i] : (x[i] < 0.f ? -gy[i] : (x[i] == 0.f ? 0.f * gy[i] : x[i])); return;
    case U_TANH: PAR_FOR(n) gx[i] = gy[i] * (1.f - y[i] * y[i]); return;
    case U_SIGMOID: PAR_FOR(n) gx[i] = gy[i] * y[i] * (1.f - y[i]); return;
    case U_RELU: PAR_FOR(n) gx[i] = x[i] > 0.f ? gy[i] : 0.f; return;
    case U_SILU: return vmap2(x, gy, gx, n, [](vfw v, vfw g) { return act_grad_v<U_SILU>(v, g); });
    case U_GELU: return vmap2(x, gy, gx, n, [](vfw v, vfw g) { return act_grad_v<U_GELU>(v, g); });
    case U_GELU_TANH: return vmap2(x, gy, gx, n, [](vfw v, vfw g) { return act_grad_v<U_GELU_TANH>(v, g); });
    case U_SQUARE: PAR_FOR(n) gx[i] = gy[i] * 2.f * x[i]; return;
    case U_RECIPROCAL: PAR_FOR(n) gx[i] = -gy[i] * y[i] * y[i]; return;
  }
}

// NaN-propagating max/min with the same tie and NaN rules as the TS reference.
static inline float fmaxn(float a, float b) { return (a >= b || a != a) ? a : b; }
static inline float fminn(float a, float b) { return (a <= b || a != a) ? a : b; }

template <int OP>
static inline float bop(float a, float b) {
  if constexpr (OP == B_ADD) return a + b;
  else if constexpr (OP == B_SUB) return a - b;
  else if constexpr (OP == B_MUL) return a * b;
  else if constexpr (OP == B_DIV) return a / b;
  else if constexpr (OP == B_POW) return std::pow(a, b);
  else if constexpr (OP == B_MAX) return fmaxn(a, b);
  else return fminn(a, b);
}

// Rows of length `inner` with per-operand inner strides (0 or 1 on the fast paths); each thread takes
// a contiguous range of rows, decodes its first row's leading-dim offsets once and then steps an
// odometer (a division per dim per row cost as much as copying a 64-float row: head split/merge copies).
template <int OP>
static void binary_t(const float* a, const float* b, float* out, const std::vector<int64_t>& shape,
                     const std::vector<int64_t>& as, const std::vector<int64_t>& bs, int64_t n) {
  const int nd = (int)shape.size();
  const int64_t inner = shape[nd - 1], ia = as[nd - 1], ib = bs[nd - 1];
  const int64_t rows = inner == 0 ? 0 : n / inner;
#pragma omp parallel if (n > kPar)
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
    int64_t idx[16] = {0};  // nd ≤ 16: tensors here have at most a handful of dims
    int64_t ao = 0, bo = 0, rem = r0;
    for (int d = nd - 2; d >= 0; d--) {
      const int64_t q = rem / shape[d], c = rem - q * shape[d];
      rem = q;
      idx[d] = c;
      ao += c * as[d];
      bo += c * bs[d];
    }
    for (int64_t r = r0; r < r1; r++) {
      const float* ap = a + ao;
      const float* bp = b + bo;
      float* op = out + r * inner;
      if (ia == 1 && ib == 1) {
#pragma omp simd
        for (int64_t i = 0; i < inner; i++) op[i] = bop<OP>(ap[i], bp[i]);
      } else if (ia == 1 && ib == 0) {
        const float bv = bp[0];
#pragma omp simd
        for (int64_t i = 0; i < inner; i++) op[i] = bop<OP>(ap[i], bv);
      } else if (ia == 0 && ib == 1) {
        const float av = ap[0];
#pragma omp simd
        for (int64_t i = 0; i < inner; i++) op[i] = bop<OP>(av, bp[i]);
      } else {
        for (int64_t i = 0; i < inner; i++) op[i] = bop<OP>(ap[i * ia], bp[i * ib]);
      }
      for (int d = nd - 2; d >= 0; d--) {
        ao += as[d];
        bo += bs[d];
        if (++idx[d] < shape[d]) break;
        ao -= as[d] * shape[d];
        bo -= bs[d] * shape[d];
        idx[d] = 0;
      }
    }
  }
}

template <int OP>
static void binary_flat(const float* a, const float* b, float* out, int64_t n) {
  PAR_FOR(n) out[i] = bop<OP>(a[i], b[i]);
}

void binary(int op, const float* a, const float* b, float* out, const std::vector<int64_t>& shape,
            const std::vector<int64_t>& as, const std::vector<int64_t>& bs, int64_t n) {
  if (n == 0) return;
  bool ca = true, cb = true;
  int64_t acc = 1;
  for (int d = (int)shape.size() - 1; d >= 0; d--) {
    if (shape[d] != 1) {
      if (as[d] != acc) ca = false;
      if (bs[d] != acc) cb = false;
    }
    acc *= shape[d];
  }
  if (shape.empty() || (ca && cb)) {
    switch (op) {
      case B_ADD: return binary_flat<B_ADD>(a, b, out, n);
      case B_SUB: return binary_flat<B_SUB>(a, b, out, n);
      case B_MUL: return binary_flat<B_MUL>(a, b, out, n);
      case B_DIV: return binary_flat<B_DIV>(a, b, out, n);
      case B_POW: return binary_flat<B_POW>(a, b, out, n);
      case B_MAX: return binary_flat<B_MAX>(a, b, out, n);
      default: return binary_flat<B_MIN>(a, b, out, n);
    }
  }
  switch (op) {
    case B_ADD: return binary_t<B_ADD>(a, b, out, shape, as, bs, n);
    case B_SUB: return binary_t<B_SUB>(a, b, out, shape, as, bs, n);
    case B_MUL: return binary_t<B_MUL>(a, b, out, shape, as, bs, n);
    case B_DIV: return binary_t<B_DIV>(a, b, out, shape, as, bs, n);
    case B_POW: return binary_t<B_POW>(a, b, out, shape, as, bs, n);
    case B_MAX: return binary_t<B_MAX>(a, b, out, shape, as, bs, n);
    default: return binary_t<B_MIN>(a, b, out, shape, as, bs, n);
  }
}

// ---- Fused bias + activation over [rows, cols] (bias [cols] or null). Work is split into
// (row, column chunk) tasks so any shape keeps the threads busy; tails through padded copies.

template <int OP, bool BIAS>
static void bias_act_t(float* x, const float* b, float* out, int64_t rows, int64_t cols) {
  const int64_t chunk = 512, nch = (cols + chunk - 1) / chunk;
#pragma omp parallel for schedule(guided, 8) if (rows * cols > kPar)
  for (int64_t task = 0; task < rows * nch; task++) {
    const int64_t r = task / nch, c0 = (task % nch) * chunk, c1 = c0 + chunk < cols ? c0 + chunk : cols;
    float* xr = x + r * cols;
    float* orow = out + r * cols;
    int64_t c = c0;
    for (; c + kVW <= c1; c += kVW) {
      vfw z = vw_load(xr + c);
      if constexpr (BIAS) {
        z += vw_load(b + c);
        vw_store(xr + c, z);
      }
      vw_store(orow + c, act_v<OP>(z));
    }
    if (c < c1) {
      const int64_t rest = c1 - c;
      float tz[kVW] = {}, tb[kVW] = {}, to[kVW];
      std::memcpy(tz, xr + c, rest * sizeof(float));
      if constexpr (BIAS) std::memcpy(tb, b + c, rest * sizeof(float));
      vfw z = vw_load(tz);
      if constexpr (BIAS) z += vw_load(tb);
      vw_store(tz, z);
      vw_store(to, act_v<OP>(z));
      if constexpr (BIAS) std::memcpy(xr + c, tz, rest * sizeof(float));
      std::memcpy(orow + c, to, rest * sizeof(float));
    }
  }
}

// gx = gy·act'(z); with gb, rows are split into fixed blocks (independent of the thread count, so
// results are too), each block sums its gx rows in f32 into its own slice of a scratch buffer while
// streaming, and the block sums are then added in block order into gb.
template <int OP>
PEFT_VINLINE void act_grad_row(const float* z, const float* gy, float* gx, float* acc, int64_t cols) {
  // acc (cols rounded up to whole vectors) += this row of gx
  const int64_t nv = cols / kVW, rest = cols - nv * kVW;
  for (int64_t i = 0; i < nv; i++) {
    const vfw g = act_grad_v<OP>(vw_load(z + i * kVW), vw_load(gy + i * kVW));
    vw_store(gx + i * kVW, g);
    vw_store(acc + i * kVW, vw_load(acc + i * kVW) + g);
  }
  if (rest > 0) {
    const int64_t o = nv * kVW;
    float tz[kVW] = {}, tg[kVW] = {}, to[kVW];
    std::memcpy(tz, z + o, rest * sizeof(float));
    std::memcpy(tg, gy + o, rest * sizeof(float));
    const vfw g = act_grad_v<OP>(vw_load(tz), vw_load(tg));
    vw_store(to, g);
    std::memcpy(gx + o, to, rest * sizeof(float));
    // padded lanes have gy = 0: they add exact zeros into acc's padding
    vw_store(acc + o, vw_load(acc + o) + g);
  }
}

template <int OP>
static void bias_act_backward_t(const float* z, const float* gy, float* gx, float* gb, int64_t rows, int64_t cols) {
  // without a bias gradient this is elementwise
  if (!gb) return vmap2(z, gy, gx, rows * cols, [](vfw v, vfw g) { return act_grad_v<OP>(v, g); });
  const int64_t rb = rows / 256 > 64 ? rows / 256 : 64, nb = (rows + rb - 1) / rb, ld = cols + kVW;
  static thread_local Scratch<float> scratch;
  float* part = scratch.get((size_t)((nb + 1) * ld));
#pragma omp parallel for schedule(dynamic, 1) if (rows * cols > kPar)
  for (int64_t blk = 0; blk < nb; blk++) {
    float* acc = part + blk * ld;
    std::memset(acc, 0, ld * sizeof(float));
    const int64_t r1 = (blk + 1) * rb < rows ? (blk + 1) * rb : rows;
    for (int64_t r = blk * rb; r < r1; r++) act_grad_row<OP>(z + r * cols, gy + r * cols, gx + r * cols, acc, cols);
  }
  // block sums in block order (rows of part, so the loops vectorise), then into gb
  float* tot = part + nb * ld;
  std::memset(tot, 0, cols * sizeof(float));
  for (int64_t blk = 0; blk < nb; blk++) {
    const float* p = part + blk * ld;
#pragma omp simd
    for (int64_t c = 0; c < cols; c++) tot[c] += p[c];
  }
#pragma omp simd
  for (int64_t c = 0; c < cols; c++) gb[c] += tot[c];
}

void bias_act(int op, float* x, const float* bias, float* out, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  const bool b = bias != nullptr;
  switch (op) {
    case U_GELU: return b ? bias_act_t<U_GELU, true>(x, bias, out, rows, cols) : bias_act_t<U_GELU, false>(x, bias, out, rows, cols);
    case U_GELU_TANH:
      return b ? bias_act_t<U_GELU_TANH, true>(x, bias, out, rows, cols) : bias_act_t<U_GELU_TANH, false>(x, bias, out, rows, cols);
    case U_SILU: return b ? bias_act_t<U_SILU, true>(x, bias, out, rows, cols) : bias_act_t<U_SILU, false>(x, bias, out, rows, cols);
    case U_RELU: return b ? bias_act_t<U_RELU, true>(x, bias, out, rows, cols) : bias_act_t<U_RELU, false>(x, bias, out, rows, cols);
  }
}

void bias_act_backward(int op, const float* z, const float* gy, float* gx, float* gbias, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  switch (op) {
    case U_GELU: return bias_act_backward_t<U_GELU>(z, gy, gx, gbias, rows, cols);
    case U_GELU_TANH: return bias_act_backward_t<U_GELU_TANH>(z, gy, gx, gbias, rows, cols);
    case U_SILU: return bias_act_backward_t<U_SILU>(z, gy, gx, gbias, rows, cols);
    case U_RELU: return bias_act_backward_t<U_RELU>(z, gy, gx, gbias, rows, cols);
  }
}

void affine(const float* x, float* out, int64_t n, float alpha, float beta) { PAR_FOR(n) out[i] = x[i] * alpha + beta; }

void f32_to_bf16(const float* x, uint16_t* out, int64_t n) {
  PAR_FOR(n) {
    uint32_t u = f_to_bits(x[i]);
    bool nan = (u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0;
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    out[i] = (uint16_t)(nan ? ((u >> 16) | 0x40u) : r);
  }
}

void bf16_to_f32(const uint16_t* x, float* out, int64_t n) { PAR_FOR(n) out[i] = bits_to_f((uint32_t)x[i] << 16); }

}  // namespace peft
