// N-API surface of peft_native. Every kernel takes typed arrays (zero-copy views of the caller's
// buffers) plus plain numbers, checks that each buffer is large enough for the described shape,
// and writes its results into the caller's output arrays.
#include <napi.h>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include "peft.h"
#ifdef __GLIBC__
#include <malloc.h>
#endif

using namespace peft;

namespace peft {
void register_quant_gemm(Napi::Env env, Napi::Object exports);  // quant_gemm.cc
}

namespace {

struct Args {
  const Napi::CallbackInfo& info;
  const char* fn;
  Napi::Env env() const { return info.Env(); }
  [[noreturn]] void fail(const std::string& msg) const {
    throw Napi::TypeError::New(info.Env(), std::string("peft_native.") + fn + ": " + msg);
  }
  [[noreturn]] void range(const std::string& msg) const {
    throw Napi::RangeError::New(info.Env(), std::string("peft_native.") + fn + ": " + msg);
  }
  template <typename T, napi_typedarray_type TT>
  T* arr(size_t i, const char* name, int64_t need, bool nullable, int64_t* len = nullptr) const {
    Napi::Value v = info[i];
    if (nullable && (v.IsNull() || v.IsUndefined())) return nullptr;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TT) fail(std::string(name) + " has the wrong array type");
    auto ta = v.As<Napi::TypedArrayOf<T>>();
    const int64_t n = (int64_t)ta.ElementLength();
    if (n < need) range(std::string(name) + " has " + std::to_string(n) + " elements, needs " + std::to_string(need));
    if (len) *len = n;
    return ta.Data();
  }
  float* f32(size_t i, const char* name, int64_t need, bool nullable = false, int64_t* len = nullptr) const {
    return arr<float, napi_float32_array>(i, name, need, nullable, len);
  }
  uint16_t* u16(size_t i, const char* name, int64_t need, int64_t* len = nullptr) const {
    return arr<uint16_t, napi_uint16_array>(i, name, need, false, len);
  }
  uint32_t* u32(size_t i, const char* name, int64_t need) const {
    return arr<uint32_t, napi_uint32_array>(i, name, need, false);
  }
  int32_t* i32(size_t i, const char* name, int64_t need, int64_t* len = nullptr) const {
    return arr<int32_t, napi_int32_array>(i, name, need, false, len);
  }
  int64_t len(size_t i) const {
    Napi::Value v = info[i];
    if (!v.IsTypedArray()) fail("argument " + std::to_string(i) + " is not a typed array");
    return (int64_t)v.As<Napi::TypedArray>().ElementLength();
  }
  double num(size_t i, const char* name) const {
    Napi::Value v = info[i];
    if (!v.IsNumber()) fail(std::string(name) + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
  }
  int64_t dim(size_t i, const char* name) const {
    double d = num(i, name);
    if (d < 0 || d != (double)(int64_t)d) range(std::string(name) + " must be a non-negative integer, got " + std::to_string(d));
    return (int64_t)d;
  }
  int64_t sint(size_t i, const char* name) const { return (int64_t)num(i, name); }
  bool flag(size_t i) const { return info[i].ToBoolean().Value(); }
  std::vector<int64_t> ints(size_t i, const char* name) const {
    Napi::Value v = info[i];
    if (!v.IsArray()) fail(std::string(name) + " must be an array of numbers");
    auto a = v.As<Napi::Array>();
    std::vector<int64_t> out(a.Length());
    for (uint32_t j = 0; j < a.Length(); j++) out[j] = (int64_t)a.Get(j).As<Napi::Number>().DoubleValue();
    return out;
  }
};

// extent (elements touched) of a batched operand: last item's offset + its size
int64_t extent(int64_t batch, int64_t stride, int64_t size) { return batch <= 0 || size == 0 ? 0 : (batch - 1) * stride + size; }

Gemm gemm_args(const Args& a, size_t i) {
  Gemm g{a.dim(i, "batch"), a.dim(i + 1, "m"), a.dim(i + 2, "n"), a.dim(i + 3, "k"), a.flag(i + 4), a.flag(i + 5),
         a.dim(i + 6, "strideA"), a.dim(i + 7, "strideB"), a.dim(i + 8, "strideOut"), a.flag(i + 9)};
  return g;
}

GemmImpl parse_impl(const Args& a, const std::string& s) {
  if (s == "auto") return GemmImpl::Auto;
  if (s == "dnnl" || s == "onednn") return GemmImpl::Dnnl;
  if (s == "blas" || s == "openblas") return GemmImpl::Blas;
  if (s == "ref") return GemmImpl::Ref;
  if (s == "onednn-sgemm") return GemmImpl::DnnlSgemm;
  a.range("unknown GEMM implementation '" + s + "' (expected auto, onednn, onednn-sgemm, openblas or ref)");
}

const char* impl_name(GemmImpl i) {
  switch (i) {
    case GemmImpl::Dnnl: return "onednn";
    case GemmImpl::Blas: return "openblas";
    case GemmImpl::Ref: return "ref";
    case GemmImpl::DnnlSgemm: return "onednn-sgemm";
    default: return "auto";
  }
}

// Library errors (oneDNN's dnnl::error, std::bad_alloc) become JS errors instead of aborting node.
Napi::Value guard(const Napi::CallbackInfo& info, Napi::Value (*body)(const Napi::CallbackInfo&), const char* name) {
  try {
    return body(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("peft_native.") + name + ": " + e.what());
  }
}

#define KERNEL(name)                                                                                     \
  Napi::Value name##_body(const Napi::CallbackInfo& info);                                               \
  Napi::Value name(const Napi::CallbackInfo& info) { return guard(info, name##_body, #name); }           \
  Napi::Value name##_body(const Napi::CallbackInfo& info)

KERNEL(Matmul) {
  Args a{info, "matmul"};
  Gemm g = gemm_args(a, 3);
  const float* A = a.f32(0, "a", extent(g.batch, g.strideA, g.m * g.k));
  const float* B = a.f32(1, "b", extent(g.batch, g.strideB, g.k * g.n));
  float* C = a.f32(2, "out", extent(g.batch, g.strideOut, g.m * g.n));
  matmul_f32(A, B, C, g);
  return info.Env().Undefined();
}

KERNEL(MatmulWith) {
  Args a{info, "matmulWith"};
  GemmImpl impl = parse_impl(a, info[0].As<Napi::String>().Utf8Value());
  Gemm g = gemm_args(a, 4);
  const float* A = a.f32(1, "a", extent(g.batch, g.strideA, g.m * g.k));
  const float* B = a.f32(2, "b", extent(g.batch, g.strideB, g.k * g.n));
  float* C = a.f32(3, "out", extent(g.batch, g.strideOut, g.m * g.n));
  if (((impl == GemmImpl::Dnnl || impl == GemmImpl::DnnlSgemm) && !have_dnnl()) || (impl == GemmImpl::Blas && !have_blas()))
    a.range(std::string(impl_name(impl)) + " is not built into this addon");
  matmul_f32_with(impl, A, B, C, g);
  return info.Env().Undefined();
}

KERNEL(MatmulBf16) {
  Args a{info, "matmulBf16"};
  Gemm g = gemm_args(a, 3);
  const float* A = a.f32(0, "a", extent(g.batch, g.strideA, g.m * g.k));
  const uint16_t* B = a.u16(1, "b", extent(g.batch, g.strideB, g.k * g.n));
  float* C = a.f32(2, "out", extent(g.batch, g.strideOut, g.m * g.n));
  matmul_bf16(A, B, C, g);
  return info.Env().Undefined();
}

int op_index(const Args& a, size_t i, int count) {
  int64_t op = a.sint(i, "op");
  if (op < 0 || op >= count) a.range("unknown op code " + std::to_string(op));
  return (int)op;
}

KERNEL(Unary) {
  Args a{info, "unary"};
  int op = op_index(a, 0, U_COUNT);
  int64_t n = a.len(1);
  const float* x = a.f32(1, "x", n);
  float* out = a.f32(2, "out", n);
  unary(op, x, out, n, (float)a.num(3, "alpha"));
  return info.Env().Undefined();
}

KERNEL(UnaryBackward) {
  Args a{info, "unaryBackward"};
  int op = op_index(a, 0, U_COUNT);
  int64_t n = a.len(1);
  const float* x = a.f32(1, "x", n);
  const float* y = a.f32(2, "y", n);
  const float* gy = a.f32(3, "gy", n);
  float* gx = a.f32(4, "gx", n);
  unary_backward(op, x, y, gy, gx, n, (float)a.num(5, "alpha"));
  return info.Env().Undefined();
}

int bias_act_op(const Args& a, size_t i) {
  const int op = op_index(a, i, U_COUNT);
  if (op != U_GELU && op != U_GELU_TANH && op != U_SILU && op != U_RELU) a.range("op " + std::to_string(op) + " has no fused bias kernel");
  return op;
}

KERNEL(BiasAct) {
  Args a{info, "biasAct"};
  const int op = bias_act_op(a, 0);
  const int64_t rows = a.dim(4, "rows"), cols = a.dim(5, "cols"), n = rows * cols;
  bias_act(op, a.f32(1, "x", n), a.f32(2, "bias", cols, true), a.f32(3, "out", n), rows, cols);
  return info.Env().Undefined();
}

KERNEL(BiasActBackward) {
  Args a{info, "biasActBackward"};
  const int op = bias_act_op(a, 0);
  const int64_t rows = a.dim(5, "rows"), cols = a.dim(6, "cols"), n = rows * cols;
  bias_act_backward(op, a.f32(1, "z", n), a.f32(2, "gy", n), a.f32(3, "gx", n), a.f32(4, "gBias", cols, true), rows, cols);
  return info.Env().Undefined();
}

KERNEL(Binary) {
  Args a{info, "binary"};
  int op = op_index(a, 0, B_COUNT);
  std::vector<int64_t> shape = a.ints(4, "shape"), as = a.ints(5, "aStrides"), bs = a.ints(6, "bStrides");
  if (as.size() != shape.size() || bs.size() != shape.size()) a.range("strides must have one entry per dim");
  if (shape.size() > 17) a.range("at most 17 dims");
  int64_t n = 1, ea = 1, eb = 1;
  for (size_t d = 0; d < shape.size(); d++) {
    if (shape[d] < 0 || as[d] < 0 || bs[d] < 0) a.range("negative shape or stride");
    n *= shape[d];
    if (shape[d] > 0) {
      ea += (shape[d] - 1) * as[d];
      eb += (shape[d] - 1) * bs[d];
    }
  }
  if (n == 0) ea = eb = 0;
  const float* A = a.f32(1, "a", ea);
  const float* B = a.f32(2, "b", eb);
  float* out = a.f32(3, "out", n);
  binary(op, A, B, out, shape, as, bs, n);
  return info.Env().Undefined();
}

KERNEL(Affine) {
  Args a{info, "affine"};
  int64_t n = a.len(0);
  const float* x = a.f32(0, "x", n);
  float* out = a.f32(1, "out", n);
  affine(x, out, n, (float)a.num(2, "alpha"), (float)a.num(3, "beta"));
  return info.Env().Undefined();
}

KERNEL(Sum) {
  Args a{info, "sum"};
  int64_t outer = a.dim(2, "outer"), n = a.dim(3, "n"), inner = a.dim(4, "inner");
  sum(a.f32(0, "x", outer * n * inner), a.f32(1, "out", outer * inner), outer, n, inner);
  return info.Env().Undefined();
}

KERNEL(Max) {
  Args a{info, "max"};
  int64_t outer = a.dim(3, "outer"), n = a.dim(4, "n"), inner = a.dim(5, "inner");
  max(a.f32(0, "x", outer * n * inner), a.f32(1, "out", outer * inner), a.i32(2, "idx", outer * inner), outer, n, inner);
  return info.Env().Undefined();
}

#define ROWS_KERNEL(Name, fn)                                                      \
  KERNEL(Name) {                                                                   \
    Args a{info, #fn};                                                             \
    int64_t rows = a.dim(2, "rows"), cols = a.dim(3, "cols");                      \
    fn(a.f32(0, "x", rows * cols), a.f32(1, "out", rows * cols), rows, cols);      \
    return info.Env().Undefined();                                                 \
  }
ROWS_KERNEL(Softmax, softmax)
ROWS_KERNEL(LogSoftmax, log_softmax)

#define ROWS_BW_KERNEL(Name, fn)                                                                         \
  KERNEL(Name) {                                                                                         \
    Args a{info, #fn};                                                                                   \
    int64_t rows = a.dim(3, "rows"), cols = a.dim(4, "cols");                                            \
    fn(a.f32(0, "y", rows * cols), a.f32(1, "gy", rows * cols), a.f32(2, "gx", rows * cols), rows, cols); \
    return info.Env().Undefined();                                                                       \
  }
ROWS_BW_KERNEL(SoftmaxBackward, softmax_backward)
ROWS_BW_KERNEL(LogSoftmaxBackward, log_softmax_backward)

KERNEL(LayerNorm) {
  Args a{info, "layerNorm"};
  int64_t rows = a.dim(6, "rows"), cols = a.dim(7, "cols"), n = rows * cols;
  layer_norm(a.f32(0, "x", n), a.f32(1, "w", cols, true), a.f32(2, "b", cols, true), a.f32(3, "out", n), a.f32(4, "mean", rows),
             a.f32(5, "rstd", rows), rows, cols, (float)a.num(8, "eps"));
  return info.Env().Undefined();
}

KERNEL(LayerNormBackward) {
  Args a{info, "layerNormBackward"};
  int64_t rows = a.dim(8, "rows"), cols = a.dim(9, "cols"), n = rows * cols;
  layer_norm_backward(a.f32(0, "x", n), a.f32(1, "w", cols, true), a.f32(2, "mean", rows), a.f32(3, "rstd", rows), a.f32(4, "gy", n),
                      a.f32(5, "gx", n), a.f32(6, "gw", cols, true), a.f32(7, "gb", cols, true), rows, cols);
  return info.Env().Undefined();
}

KERNEL(RmsNorm) {
  Args a{info, "rmsNorm"};
  int64_t rows = a.dim(4, "rows"), cols = a.dim(5, "cols"), n = rows * cols;
  rms_norm(a.f32(0, "x", n), a.f32(1, "w", cols, true), a.f32(2, "out", n), a.f32(3, "rstd", rows), rows, cols, (float)a.num(6, "eps"));
  return info.Env().Undefined();
}

KERNEL(RmsNormBackward) {
  Args a{info, "rmsNormBackward"};
  int64_t rows = a.dim(6, "rows"), cols = a.dim(7, "cols"), n = rows * cols;
  rms_norm_backward(a.f32(0, "x", n), a.f32(1, "w", cols, true), a.f32(2, "rstd", rows), a.f32(3, "gy", n), a.f32(4, "gx", n),
                    a.f32(5, "gw", cols, true), rows, cols);
  return info.Env().Undefined();
}

KERNEL(CrossEntropy) {
  Args a{info, "crossEntropy"};
  int64_t rows = a.dim(4, "rows"), cols = a.dim(5, "cols"), n = rows * cols;
  cross_entropy(a.f32(0, "logits", n), a.i32(1, "labels", rows), a.f32(2, "loss", rows), a.f32(3, "lse", rows), rows, cols,
                (int32_t)a.sint(6, "ignoreIndex"), (float)a.num(7, "labelSmoothing"));
  return info.Env().Undefined();
}

KERNEL(CrossEntropyBackward) {
  Args a{info, "crossEntropyBackward"};
  int64_t rows = a.dim(5, "rows"), cols = a.dim(6, "cols"), n = rows * cols;
  cross_entropy_backward(a.f32(0, "logits", n), a.f32(1, "lse", rows), a.i32(2, "labels", rows), a.f32(3, "gLoss", rows),
                         a.f32(4, "gLogits", n), rows, cols, (int32_t)a.sint(7, "ignoreIndex"), (float)a.num(8, "labelSmoothing"));
  return info.Env().Undefined();
}

KERNEL(SiluMul) {
  Args a{info, "siluMul"};
  int64_t n = a.len(0);
  silu_mul(a.f32(0, "gate", n), a.f32(1, "up", n), a.f32(2, "out", n), n);
  return info.Env().Undefined();
}

KERNEL(SiluMulBackward) {
  Args a{info, "siluMulBackward"};
  int64_t n = a.len(0);
  silu_mul_backward(a.f32(0, "gate", n), a.f32(1, "up", n), a.f32(2, "gy", n), a.f32(3, "gGate", n), a.f32(4, "gUp", n), n);
  return info.Env().Undefined();
}

Attn attn_args(const Args& a, size_t i) {
  Attn p{a.dim(i, "batch"), a.dim(i + 1, "heads"), a.dim(i + 2, "kvHeads"), a.dim(i + 3, "tq"), a.dim(i + 4, "tk"),
         a.dim(i + 5, "headDim"), (float)a.num(i + 6, "scale"), false};
  if (p.kvHeads == 0 || p.heads % p.kvHeads != 0) a.range("kvHeads must divide heads");
  return p;
}

KERNEL(Attention) {
  Args a{info, "attention"};
  Attn p = attn_args(a, 6);
  p.causal = a.flag(13);
  const int64_t nq = p.batch * p.heads * p.tq * p.d, nk = p.batch * p.kvHeads * p.tk * p.d, np = p.batch * p.heads * p.tq * p.tk;
  // optional trailing drop: attention-dropout multipliers [B,H,Tq,Tk]
  const float* drop = info.Length() > 14 ? a.f32(14, "drop", np, true) : nullptr;
  attention(a.f32(0, "q", nq), a.f32(1, "k", nk), a.f32(2, "v", nk), a.f32(3, "mask", p.batch * p.tk, true), a.f32(4, "out", nq, true),
            a.f32(5, "probs", np), p, drop);
  return info.Env().Undefined();
}

KERNEL(AttentionBackward) {
  Args a{info, "attentionBackward"};
  Attn p = attn_args(a, 8);
  const int64_t nq = p.batch * p.heads * p.tq * p.d, nk = p.batch * p.kvHeads * p.tk * p.d, np = p.batch * p.heads * p.tq * p.tk;
  const float* drop = info.Length() > 15 ? a.f32(15, "drop", np, true) : nullptr;  // optional, as in attention
  attention_backward(a.f32(0, "q", nq), a.f32(1, "k", nk), a.f32(2, "v", nk), a.f32(3, "probs", np),
                     a.f32(4, "gOut", nq), a.f32(5, "gq", nq), a.f32(6, "gk", nk), a.f32(7, "gv", nk), p, drop);
  return info.Env().Undefined();
}

// trailing dropout arguments at i: k0, k1, p, keepScale (k0 null: no dropout)
bool flash_drop_args(const Args& a, size_t i, FlashDrop& dr) {
  if (a.info.Length() <= i || a.info[i].IsNull() || a.info[i].IsUndefined()) return false;
  const double k0 = a.num(i, "k0"), k1 = a.num(i + 1, "k1"), pr = a.num(i + 2, "p"), keep = a.num(i + 3, "keepScale");
  const double t = pr * 4294967296.0;  // drop iff h < t, i.e. h < ceil(t) for integer h
  dr.k0 = (uint32_t)k0;
  dr.k1 = (uint32_t)k1;
  if (!(t > 0.0)) { dr.thr = 0; dr.keep = (float)keep; }
  else if (t > 4294967295.0) { dr.thr = 0; dr.keep = 0.f; }  // every element dropped
  else { dr.thr = (uint32_t)std::ceil(t); dr.keep = (float)keep; }
  return true;
}

KERNEL(FlashAttention) {
  Args a{info, "flashAttention"};
  Attn p = attn_args(a, 6);
  p.causal = a.flag(13);
  const int64_t kvs = a.dim(14, "kvStride");  // between (batch, kv head) blocks of k and v
  if (kvs < p.tk * p.d) a.range("kvStride must be at least tk·headDim");
  const int64_t nq = p.batch * p.heads * p.tq * p.d, nk = extent(p.batch * p.kvHeads, kvs, p.tk * p.d), rows = p.batch * p.heads * p.tq;
  FlashDrop dr{};
  const bool drop = flash_drop_args(a, 15, dr);
  flash_attention(a.f32(0, "q", nq), a.f32(1, "k", nk), a.f32(2, "v", nk), a.f32(3, "mask", p.batch * p.tk, true),
                  a.f32(4, "out", nq), a.f32(5, "stats", 2 * rows), p, drop ? &dr : nullptr, kvs);
  return info.Env().Undefined();
}

KERNEL(FlashAttentionBackward) {
  Args a{info, "flashAttentionBackward"};
  Attn p = attn_args(a, 10);
  p.causal = a.flag(17);
  const int64_t nq = p.batch * p.heads * p.tq * p.d, nk = p.batch * p.kvHeads * p.tk * p.d, rows = p.batch * p.heads * p.tq;
  FlashDrop dr{};
  const bool drop = flash_drop_args(a, 18, dr);
  flash_attention_backward(a.f32(0, "q", nq), a.f32(1, "k", nk), a.f32(2, "v", nk), a.f32(3, "mask", p.batch * p.tk, true),
                           a.f32(4, "out", nq), a.f32(5, "stats", 2 * rows), a.f32(6, "gOut", nq), a.f32(7, "gq", nq),
                           a.f32(8, "gk", nk), a.f32(9, "gv", nk), p, drop ? &dr : nullptr);
  return info.Env().Undefined();
}

void check_ids(const Args& a, const int32_t* ids, int64_t count, int64_t rows) {
  for (int64_t t = 0; t < count; t++)
    if (ids[t] < 0 || ids[t] >= rows)
      a.range("id " + std::to_string(ids[t]) + " at position " + std::to_string(t) + " is outside the table (" + std::to_string(rows) + " rows)");
}

KERNEL(DropoutMask) {
  Args a{info, "dropoutMask"};
  uint32_t* st = a.u32(0, "state", 4);
  int64_t n = a.len(1);
  float* out = a.f32(1, "out", n);
  dropout_mask(st, out, n, a.num(2, "p"), (float)a.num(3, "keepScale"));
  return info.Env().Undefined();
}

KERNEL(DropoutApply) {
  Args a{info, "dropoutApply"};
  uint32_t* st = a.u32(0, "state", 4);
  int64_t n = a.len(1);
  dropout_apply(st, a.f32(1, "x", n), a.f32(2, "out", n), n, a.num(3, "p"), (float)a.num(4, "keepScale"));
  return info.Env().Undefined();
}

KERNEL(Rotary) {
  Args a{info, "rotary"};
  Rope p{a.dim(4, "batch"), a.dim(5, "heads"), a.dim(6, "seq"), a.dim(7, "headDim"), a.dim(8, "strideB"), a.dim(9, "strideH"),
         a.dim(10, "strideT"), a.flag(11)};
  const bool inverse = a.flag(12);
  if (p.d % 2 != 0) a.range("head dim must be even");
  const int64_t n = p.batch * p.heads * p.seq * p.d;
  const int64_t ext = n == 0 ? 0 : (p.batch - 1) * p.sb + (p.heads - 1) * p.sh + (p.seq - 1) * p.st + p.d;
  const int64_t tab = (p.per_batch ? p.batch : 1) * p.seq * p.d;
  const float* x = a.f32(0, "x", ext);
  const float* c = a.f32(1, "cos", tab);
  const float* s = a.f32(2, "sin", tab);
  float* out = a.f32(3, "out", n);
  if (n > 0) rotary(x, c, s, out, p, inverse);
  return info.Env().Undefined();
}

KERNEL(Embedding) {
  Args a{info, "embedding"};
  int64_t dim = a.dim(3, "dim"), wl = 0, count = a.len(1);
  const float* w = a.f32(0, "weight", 0, false, &wl);
  const int32_t* ids = a.i32(1, "ids", count);
  float* out = a.f32(2, "out", count * dim);
  if (dim == 0) return info.Env().Undefined();
  check_ids(a, ids, count, wl / dim);
  embedding(w, ids, out, count, dim);
  return info.Env().Undefined();
}

KERNEL(EmbeddingBackward) {
  Args a{info, "embeddingBackward"};
  int64_t dim = a.dim(3, "dim"), wl = 0, count = a.len(1);
  const int32_t* ids = a.i32(1, "ids", count);
  const float* g = a.f32(0, "gOut", count * dim);
  float* gw = a.f32(2, "gWeight", 0, false, &wl);
  if (dim == 0) return info.Env().Undefined();
  check_ids(a, ids, count, wl / dim);
  embedding_backward(g, ids, gw, count, dim);
  return info.Env().Undefined();
}

KERNEL(AdamWStep) {
  Args a{info, "adamw"};
  int64_t n = a.len(0);
  AdamW hp{a.num(4, "lr"), a.num(5, "beta1"), a.num(6, "beta2"), a.num(7, "eps"), a.num(8, "weightDecay"), a.num(9, "step")};
  adamw(a.f32(0, "p", n), a.f32(1, "g", n), a.f32(2, "m", n), a.f32(3, "v", n), n, hp);
  return info.Env().Undefined();
}

KERNEL(F32ToBf16) {
  Args a{info, "f32ToBf16"};
  int64_t n = a.len(0);
  f32_to_bf16(a.f32(0, "x", n), a.u16(1, "out", n), n);
  return info.Env().Undefined();
}

KERNEL(Bf16ToF32) {
  Args a{info, "bf16ToF32"};
  int64_t n = a.len(0);
  bf16_to_f32(a.u16(0, "x", n), a.f32(1, "out", n), n);
  return info.Env().Undefined();
}

KERNEL(NumThreads) { return Napi::Number::New(info.Env(), num_threads()); }
KERNEL(SetNumThreads) {
  Args a{info, "setNumThreads"};
  int64_t n = a.dim(0, "n");
  if (n < 1) a.range("thread count must be at least 1");
  set_num_threads((int)n);
  return info.Env().Undefined();
}
KERNEL(SetGemmImpl) {
  Args a{info, "setGemmImpl"};
  set_gemm_impl(parse_impl(a, info[0].As<Napi::String>().Utf8Value()));
  return info.Env().Undefined();
}
KERNEL(SetBf16Gemm) {
  Args a{info, "setBf16Gemm"};
  std::string s = info[0].As<Napi::String>().Utf8Value();
  if (s == "auto") set_bf16_mode(2);
  else if (s == "default") set_bf16_mode(-1);
  else if (s == "widen") set_bf16_mode(0);
  else if (s == "onednn") {
    if (!have_dnnl()) a.range("onednn is not built into this addon");
    set_bf16_mode(1);
  } else a.range("unknown bf16 GEMM mode '" + s + "' (expected widen, auto, onednn or default)");
  return info.Env().Undefined();
}
static bool g_malloc_tuned = false;  // set by Init (tune_malloc below)

KERNEL(Info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("mallocTuned", g_malloc_tuned);
  o.Set("gemm", gemm_info());
  o.Set("gemmImpl", impl_name(gemm_impl()));
  o.Set("onednn", have_dnnl());
  o.Set("openblas", have_blas());
  o.Set("threads", num_threads());
  o.Set("bf16Gemm", bf16_mode() == 1 ? "onednn" : "widen");
  o.Set("bf16Hardware", bf16_hw());
  return o;
}

// glibc serves each large allocation (activations, gradients: MBs each, hundreds per training step)
// with a fresh mmap and unmaps it on free, so every step page-faults its whole working set again
// (~5% of a small-model step), and trims the heap top likewise. Keeping freed memory in the heap makes
// the next step reuse it. Peak RSS is unchanged (measured); memory is kept until the process exits.
// PEFT_TS_MALLOC=default, or malloc settings in GLIBC_TUNABLES, leave glibc's defaults alone.
static bool tune_malloc() {
#ifdef __GLIBC__
  const char* opt = std::getenv("PEFT_TS_MALLOC");
  if (opt && std::strcmp(opt, "default") == 0) return false;
  const char* tun = std::getenv("GLIBC_TUNABLES");
  if (tun && std::strstr(tun, "glibc.malloc")) return false;
  mallopt(M_MMAP_MAX, 0);            // large blocks from the heap (glibc still falls back to mmap if that fails)
  mallopt(M_TRIM_THRESHOLD, INT_MAX);  // never give the heap top back between steps
  return true;
#else
  return false;
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  g_malloc_tuned = tune_malloc();
  init_threads();
  if (const char* e = std::getenv("PEFT_TS_GEMM")) {
    std::string s(e);
    if (s == "onednn" || s == "dnnl") set_gemm_impl(have_dnnl() ? GemmImpl::Dnnl : GemmImpl::Auto);
    else if (s == "openblas" || s == "blas") set_gemm_impl(have_blas() ? GemmImpl::Blas : GemmImpl::Auto);
    else if (s == "ref") set_gemm_impl(GemmImpl::Ref);
  }
  auto fn = [&](const char* name, Napi::Value (*f)(const Napi::CallbackInfo&)) { exports.Set(name, Napi::Function::New(env, f, name)); };
  fn("matmul", Matmul);
  fn("matmulWith", MatmulWith);
  fn("matmulBf16", MatmulBf16);
  fn("unary", Unary);
  fn("unaryBackward", UnaryBackward);
  fn("biasAct", BiasAct);
  fn("biasActBackward", BiasActBackward);
  fn("binary", Binary);
  fn("affine", Affine);
  fn("sum", Sum);
  fn("max", Max);
  fn("softmax", Softmax);
  fn("softmaxBackward", SoftmaxBackward);
  fn("logSoftmax", LogSoftmax);
  fn("logSoftmaxBackward", LogSoftmaxBackward);
  fn("layerNorm", LayerNorm);
  fn("layerNormBackward", LayerNormBackward);
  fn("rmsNorm", RmsNorm);
  fn("rmsNormBackward", RmsNormBackward);
  fn("crossEntropy", CrossEntropy);
  fn("crossEntropyBackward", CrossEntropyBackward);
  fn("siluMul", SiluMul);
  fn("siluMulBackward", SiluMulBackward);
  fn("attention", Attention);
  fn("attentionBackward", AttentionBackward);
  fn("flashAttention", FlashAttention);
  fn("flashAttentionBackward", FlashAttentionBackward);
  fn("rotary", Rotary);
  fn("dropoutMask", DropoutMask);
  fn("dropoutApply", DropoutApply);
  fn("embedding", Embedding);
  fn("embeddingBackward", EmbeddingBackward);
  fn("adamw", AdamWStep);
  fn("f32ToBf16", F32ToBf16);
  fn("bf16ToF32", Bf16ToF32);
  fn("numThreads", NumThreads);
  fn("setNumThreads", SetNumThreads);
  fn("setGemmImpl", SetGemmImpl);
  fn("setBf16Gemm", SetBf16Gemm);
  fn("info", Info);
  register_quant_gemm(env, exports);
  // 2: counter-based dropoutMask and the optional drop argument of attention/attentionBackward
  // (the TS wrapper falls back to the TS kernels for these with an older build)
  exports.Set("dropoutAbi", Napi::Number::New(env, 2));
  exports.Set("attentionAbi", Napi::Number::New(env, 2));  // 2: attention accepts out = null (probabilities only)
  return exports;
}

}  // namespace

NODE_API_MODULE(peft_native, Init)
