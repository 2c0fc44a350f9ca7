// Elementwise kernels: unary ops and their derivatives, broadcasting binary ops, affine, bf16 casts.
#include <cmath>
#include <cstring>
#include "erfx.h"
#include "mathx.h"
#include "peft.h"

namespace peft {

static const int64_t kPar = 1 << 15;  // below this many elements, threads cost more than they save

static inline float sigm(float x) { return 1.f / (1.f + vexp(-x)); }


static const float kSqrt2OverPi = 0.7978845608028654f, kInvSqrt2 = 0.7071067811865476f, kInvSqrt2Pi = 0.3989422804014327f;

#define PAR_FOR(n) _Pragma("omp parallel for simd schedule(static) if (n > kPar)") for (int64_t i = 0; i < n; i++)

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
    case U_SILU: PAR_FOR(n) out[i] = x[i] * sigm(x[i]); return;
    case U_GELU: PAR_FOR(n) out[i] = x[i] * cdf_erf(x[i] * kInvSqrt2); return;
    case U_GELU_TANH:
      // 0.5·(1 + tanh(u)) = σ(2u): no cancellation in the negative tail
      PAR_FOR(n) {
        float v = x[i];
        out[i] = v * sigm(2.f * kSqrt2OverPi * (v + 0.044715f * v * v * v));
      }
      return;
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
    case U_SILU:
      PAR_FOR(n) {
        float s = sigm(x[i]);
        gx[i] = gy[i] * s * (1.f + x[i] * (1.f - s));
      }
      return;
    case U_GELU:
      PAR_FOR(n) {
        float v = x[i];
        gx[i] = gy[i] * (cdf_erf(v * kInvSqrt2) + v * kInvSqrt2Pi * vexp_neg(-0.5f * v * v));
      }
      return;
    case U_GELU_TANH:
      PAR_FOR(n) {
        float v = x[i];
        float sg = sigm(2.f * kSqrt2OverPi * (v + 0.044715f * v * v * v));  // (1 + tanh u)/2
        float du = kSqrt2OverPi * (1.f + 3.f * 0.044715f * v * v);
        gx[i] = gy[i] * (sg + 2.f * v * sg * (1.f - sg) * du);
      }
      return;
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

// Rows of length `inner` with per-operand inner strides (0 or 1 on the fast paths); `outer` row
// offsets come from an odometer over the leading dims.
template <int OP>
static void binary_t(const float* a, const float* b, float* out, const std::vector<int64_t>& shape,
                     const std::vector<int64_t>& as, const std::vector<int64_t>& bs, int64_t n) {
  const int nd = (int)shape.size();
  // merge nothing fancy: treat the last dim as the row
  const int64_t inner = shape[nd - 1], ia = as[nd - 1], ib = bs[nd - 1];
  const int64_t rows = inner == 0 ? 0 : n / inner;
#pragma omp parallel if (n > kPar)
  {
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      // decode r into the leading-dim offsets
      int64_t rem = r, ao = 0, bo = 0;
      for (int d = nd - 2; d >= 0; d--) {
        int64_t q = rem / shape[d], c = rem - q * shape[d];
        rem = q;
        ao += c * as[d];
        bo += c * bs[d];
      }
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

void affine(const float* x, float* out, int64_t n, float alpha, float beta) { PAR_FOR(n) out[i] = x[i] * alpha + beta; }

static inline uint32_t rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

void dropout_mask(uint32_t* st, float* out, int64_t n, double p, float keep) {
  uint32_t s0 = st[0], s1 = st[1], s2 = st[2], s3 = st[3];
  for (int64_t i = 0; i < n; i++) {
    const uint32_t r = rotl32(s1 * 5u, 7) * 9u;
    const uint32_t t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl32(s3, 11);
    out[i] = (double)r / 4294967296.0 < p ? 0.f : keep;
  }
  st[0] = s0; st[1] = s1; st[2] = s2; st[3] = s3;
}

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
