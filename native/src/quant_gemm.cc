// GEMM with a quantised weight (int8 per-row absmax, NF4 / FP4 blockwise 4-bit with optional double-
// quantised constants; layouts in src/quant/format.ts): rows of W are dequantised a block at a time
// into a thread-local f32 panel (≤ 4 MB, like the bf16 widening panel in gemm.cc) in parallel, and
// each panel goes through the f32 GEMM writing its columns of out (forward, ldc = rows) or
// accumulating its share of the input gradient (backward, lda = rows). No full f32 copy of W exists.
// The dequantisation has AVX-512 (16-entry permute as the code lookup) and AVX2 (two 8-entry
// permutes + blend) paths chosen at run time with __builtin_cpu_supports, and a scalar fallback; all
// three compute code[idx]·absmax in float exactly as the TS reference does (bit-identical values).
// The code tables come from JS (src/quant/codes.ts), so they are defined once.
#include <napi.h>
#include <omp.h>
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include "peft.h"
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define PEFT_X86 1
#endif

namespace peft {

enum QuantFmt { Q_INT8 = 0, Q_NF4 = 1, Q_FP4 = 2 };

struct QuantW {
  int fmt;
  int64_t rows, cols, bs;
  const uint8_t* data;
  const float* absmax;   // per block (4-bit) or per row (int8); null when nested
  const uint8_t* qabs;   // nested: 8-bit code index per block
  const float* absmax2;  // nested: per blockSize2 constants
  float offset;
  int64_t bs2;
  const float* code;   // 16 levels (4-bit)
  const float* code2;  // 256 levels (nested)
};

static inline float block_scale(const QuantW& w, int64_t b) {
  if (w.absmax) return w.absmax[b];
  // two separately rounded float operations, as the TS reference (volatile: no fused multiply-add)
  volatile float t = w.code2[w.qabs[b]] * w.absmax2[b / w.bs2];
  return t + w.offset;
}

// ---- 4-bit segment [i0, i1) of one block, scale s: out[j] = code[nibble(i0 + j)] * s
typedef void (*Deq4Fn)(const uint8_t*, const float*, int64_t, int64_t, float, float*);

static void deq4_scalar(const uint8_t* data, const float* code, int64_t i0, int64_t i1, float s, float* out) {
  for (int64_t i = i0; i < i1; i++) {
    const uint8_t b = data[i >> 1];
    out[i - i0] = code[(i & 1) ? (b & 15) : (b >> 4)] * s;
  }
}

#ifdef PEFT_X86
__attribute__((target("avx2,fma"))) static void deq4_avx2(const uint8_t* data, const float* code, int64_t i0, int64_t i1, float s, float* out) {
  int64_t i = i0;
  if ((i & 1) && i < i1) { out[0] = code[data[i >> 1] & 15] * s; i++; }
  const __m256 lo = _mm256_loadu_ps(code), hi = _mm256_loadu_ps(code + 8), vs = _mm256_set1_ps(s);
  const __m128i m4 = _mm_set1_epi8(15);
  for (; i + 8 <= i1; i += 8) {
    uint32_t word;
    std::memcpy(&word, data + (i >> 1), 4);
    const __m128i b = _mm_cvtsi32_si128((int)word);
    const __m128i nib = _mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(b, 4), m4), _mm_and_si128(b, m4));  // hi0, lo0, hi1, …
    const __m256i idx = _mm256_cvtepu8_epi32(nib);
    const __m256 a = _mm256_permutevar8x32_ps(lo, idx), c = _mm256_permutevar8x32_ps(hi, idx);
    const __m256 upper = _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(7)));
    _mm256_storeu_ps(out + (i - i0), _mm256_mul_ps(_mm256_blendv_ps(a, c, upper), vs));
  }
  deq4_scalar(data, code, i, i1, s, out + (i - i0));
}

__attribute__((target("avx512f,avx512bw"))) static void deq4_avx512(const uint8_t* data, const float* code, int64_t i0, int64_t i1, float s, float* out) {
  int64_t i = i0;
  if ((i & 1) && i < i1) { out[0] = code[data[i >> 1] & 15] * s; i++; }
  const __m512 tab = _mm512_loadu_ps(code), vs = _mm512_set1_ps(s);
  const __m128i m4 = _mm_set1_epi8(15);
  for (; i + 16 <= i1; i += 16) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(data + (i >> 1)));
    const __m128i nib = _mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(b, 4), m4), _mm_and_si128(b, m4));
    const __m512i idx = _mm512_cvtepu8_epi32(nib);
    _mm512_storeu_ps(out + (i - i0), _mm512_mul_ps(_mm512_permutexvar_ps(idx, tab), vs));
  }
  deq4_scalar(data, code, i, i1, s, out + (i - i0));
}
#endif

// ---- int8 row: out[c] = q[c] * s
typedef void (*Deq8Fn)(const int8_t*, int64_t, float, float*);
static void deq8_scalar(const int8_t* q, int64_t n, float s, float* out) {
  for (int64_t c = 0; c < n; c++) out[c] = (float)q[c] * s;
}
#ifdef PEFT_X86
__attribute__((target("avx2,fma"))) static void deq8_avx2(const int8_t* q, int64_t n, float s, float* out) {
  const __m256 vs = _mm256_set1_ps(s);
  int64_t c = 0;
  for (; c + 8 <= n; c += 8) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + c));
    _mm256_storeu_ps(out + c, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), vs));
  }
  deq8_scalar(q + c, n - c, s, out + c);
}
__attribute__((target("avx512f,avx512bw"))) static void deq8_avx512(const int8_t* q, int64_t n, float s, float* out) {
  const __m512 vs = _mm512_set1_ps(s);
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + c));
    _mm512_storeu_ps(out + c, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)), vs));
  }
  deq8_scalar(q + c, n - c, s, out + c);
}
#endif

static int g_isa = -1;  // 0 scalar, 1 avx2, 2 avx512 (PEFT_TS_QUANT_ISA=scalar|avx2|avx512 caps it)
static int quant_isa() {
  if (g_isa >= 0) return g_isa;
  int isa = 0;
#ifdef PEFT_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa = 1;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) isa = 2;
#endif
  if (const char* e = std::getenv("PEFT_TS_QUANT_ISA")) {
    std::string v(e);
    if (v == "scalar") isa = 0;
    else if (v == "avx2") isa = std::min(isa, 1);
  }
  return g_isa = isa;
}
static const char* isa_name(int isa) { return isa == 2 ? "avx512" : isa == 1 ? "avx2" : "scalar"; }

/** Rows r0 ≤ r < r1 of W into out ([r1 − r0, cols]), rows in parallel. */
static void dequant_rows(const QuantW& w, int64_t r0, int64_t r1, float* out) {
  const int isa = quant_isa();
  Deq4Fn d4 = deq4_scalar;
  Deq8Fn d8 = deq8_scalar;
#ifdef PEFT_X86
  if (isa == 2) { d4 = deq4_avx512; d8 = deq8_avx512; }
  else if (isa == 1) { d4 = deq4_avx2; d8 = deq8_avx2; }
#endif
  const int64_t cols = w.cols;
#pragma omp parallel for schedule(static) if ((r1 - r0) * cols > 32768)
  for (int64_t r = r0; r < r1; r++) {
    float* o = out + (r - r0) * cols;
    if (w.fmt == Q_INT8) {
      const float s = w.absmax[r] / 127.f;
      d8(reinterpret_cast<const int8_t*>(w.data) + r * cols, cols, s, o);
      continue;
    }
    const int64_t i0 = r * cols, i1 = i0 + cols;
    for (int64_t i = i0; i < i1;) {
      const int64_t b = i / w.bs, e = std::min(i1, (b + 1) * w.bs);
      d4(w.data, w.code, i, e, block_scale(w, b), o + (i - i0));
      i = e;
    }
  }
}

static inline void round_bf16(float* a, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    uint32_t u;
    std::memcpy(&u, &a[i], 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    std::memcpy(&a[i], &u, 4);
  }
}

static thread_local Scratch<float> q_panel, q_x, q_tmp;
static thread_local Scratch<uint16_t> q_panel16;

void quant_matmul(const float* x, const QuantW& w, float* out, int64_t m, bool backward, bool bf16) {
  const int64_t rows = w.rows, cols = w.cols, k_x = backward ? rows : cols;
  if (m <= 0) return;
  if (rows == 0) {
    if (backward) std::memset(out, 0, sizeof(float) * m * cols);
    return;
  }
  const float* xa = x;
  if (bf16) {
    float* xr = q_x.get((size_t)(m * k_x));
    std::memcpy(xr, x, sizeof(float) * m * k_x);
    round_bf16(xr, m * k_x);
    xa = xr;
  }
  const int64_t kPanel = int64_t(1) << 20;
  const int64_t rb = std::min(rows, std::max<int64_t>(16, kPanel / std::max<int64_t>(1, cols) / 16 * 16));
  float* panel = q_panel.get((size_t)(rb * cols));
  if (bf16 && bf16_mode() == 1) {
    // compute dtype bf16 on a CPU with bf16 dot products (oneDNN, see gemm.cc): the panel is stored
    // bf16 and multiplied bf16 × bf16 with f32 accumulation, the same values as the rounded f32 path
    uint16_t* pb = q_panel16.get((size_t)(rb * cols));
    float* tmp = q_tmp.get((size_t)(m * rb));
    for (int64_t r0 = 0; r0 < rows; r0 += rb) {
      const int64_t nb = std::min(rb, rows - r0);
      dequant_rows(w, r0, r0 + nb, panel);
      f32_to_bf16(panel, pb, nb * cols);
      Gemm g{1, m, 0, 0, false, false, 0, 0, 0, false};
      if (!backward) {  // tmp[m, nb] = x · panelᵀ, then into columns r0.. of out
        g.n = nb; g.k = cols; g.transB = true;
        matmul_bf16(xa, pb, tmp, g);
        for (int64_t i = 0; i < m; i++) std::memcpy(out + i * rows + r0, tmp + i * nb, sizeof(float) * nb);
      } else {  // out (+)= x[:, r0..] (packed) · panel
        for (int64_t i = 0; i < m; i++) std::memcpy(tmp + i * nb, xa + i * rows + r0, sizeof(float) * nb);
        g.n = cols; g.k = nb; g.accumulate = r0 > 0;
        matmul_bf16(tmp, pb, out, g);
      }
    }
    return;
  }
  for (int64_t r0 = 0; r0 < rows; r0 += rb) {
    const int64_t nb = std::min(rb, rows - r0);
    dequant_rows(w, r0, r0 + nb, panel);
    if (bf16) round_bf16(panel, nb * cols);
    Gemm g{1, m, 0, 0, false, false, 0, 0, 0, false};
    if (!backward) {  // out[:, r0:r0+nb] = x · panelᵀ
      g.n = nb; g.k = cols; g.transB = true; g.ldc = rows;
      matmul_f32(xa, panel, out + r0, g);
    } else {  // out (+)= x[:, r0:r0+nb] · panel
      g.n = cols; g.k = nb; g.lda = rows; g.accumulate = r0 > 0;
      matmul_f32(xa + r0, panel, out, g);
    }
  }
}

// ---------------------------------------------------------------- binding
// quantMatmul(x, out, m, backward, bf16, fmt, rows, cols, blockSize, data, absmax|null, code|null,
//             qabs|null, absmax2|null, offset, blockSize2, code2|null)
template <typename T, napi_typedarray_type TT>
static T* typed(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t need, bool nullable) {
  Napi::Value v = info[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) return nullptr;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TT)
    throw Napi::TypeError::New(info.Env(), std::string("peft_native.quantMatmul: ") + name + " has the wrong array type");
  auto ta = v.As<Napi::TypedArrayOf<T>>();
  if ((int64_t)ta.ElementLength() < need)
    throw Napi::RangeError::New(info.Env(), std::string("peft_native.quantMatmul: ") + name + " has " + std::to_string(ta.ElementLength()) +
                                                " elements, needs " + std::to_string(need));
  return ta.Data();
}

static Napi::Value QuantMatmulBinding(const Napi::CallbackInfo& info) {
  auto num = [&](size_t i) { return (int64_t)info[i].As<Napi::Number>().Int64Value(); };
  const int64_t m = num(2);
  const bool backward = info[3].As<Napi::Boolean>().Value(), bf16 = info[4].As<Napi::Boolean>().Value();
  QuantW w{};
  w.fmt = (int)num(5);
  w.rows = num(6);
  w.cols = num(7);
  w.bs = num(8);
  if (w.fmt < 0 || w.fmt > 2 || m < 0 || w.rows < 0 || w.cols < 0 || (w.fmt != Q_INT8 && w.bs <= 0))
    throw Napi::RangeError::New(info.Env(), "peft_native.quantMatmul: bad format or shape");
  const int64_t n = w.rows * w.cols, nb = w.fmt == Q_INT8 ? w.rows : (n + w.bs - 1) / std::max<int64_t>(1, w.bs);
  const float* x = typed<float, napi_float32_array>(info, 0, "x", m * (backward ? w.rows : w.cols), false);
  float* out = typed<float, napi_float32_array>(info, 1, "out", m * (backward ? w.cols : w.rows), false);
  w.data = typed<uint8_t, napi_uint8_array>(info, 9, "data", w.fmt == Q_INT8 ? n : (n + 1) / 2, false);
  w.absmax = typed<float, napi_float32_array>(info, 10, "absmax", nb, true);
  w.code = typed<float, napi_float32_array>(info, 11, "code", w.fmt == Q_INT8 ? 0 : 16, w.fmt == Q_INT8);
  if (!w.absmax) {
    if (w.fmt == Q_INT8) throw Napi::TypeError::New(info.Env(), "peft_native.quantMatmul: int8 needs absmax");
    w.bs2 = num(15);
    if (w.bs2 <= 0) throw Napi::RangeError::New(info.Env(), "peft_native.quantMatmul: bad blockSize2");
    w.qabs = typed<uint8_t, napi_uint8_array>(info, 12, "qabsmax", nb, false);
    w.absmax2 = typed<float, napi_float32_array>(info, 13, "absmax2", (nb + w.bs2 - 1) / w.bs2, false);
    w.offset = (float)info[14].As<Napi::Number>().DoubleValue();
    w.code2 = typed<float, napi_float32_array>(info, 16, "code2", 256, false);
  }
  quant_matmul(x, w, out, m, backward, bf16);
  return info.Env().Undefined();
}

void register_quant_gemm(Napi::Env env, Napi::Object exports) {
  exports.Set("quantMatmul", Napi::Function::New(env, QuantMatmulBinding, "quantMatmul"));
  exports.Set("quantIsa", Napi::String::New(env, isa_name(quant_isa())));
}

}  // namespace peft
