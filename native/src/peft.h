// Shared declarations for the peft_native kernels. Every kernel works on caller-owned,
// contiguous row-major buffers and never allocates per call (scratch buffers only grow).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace peft {

// ---- threads (threads.cc): one OpenMP pool shared with oneDNN; OpenBLAS set to the same count
int num_threads();
void set_num_threads(int n);
void init_threads();

// ---- GEMM (gemm.cc)
struct Gemm {
  int64_t batch, m, n, k;
  bool transA, transB;
  int64_t strideA, strideB, strideOut;
  bool accumulate;
  // Leading dimensions of a (0: k, or m when transA) and out (0: n). Only single GEMMs (batch 1) on the
  // sgemm/BLAS/reference paths use them (blocks of a bigger product); the matmul primitive never sees them.
  int64_t lda = 0, ldc = 0;
};
// Dnnl: oneDNN matmul primitive (cached per shape); DnnlSgemm: oneDNN's dnnl_sgemm (no primitive).
enum class GemmImpl { Auto = 0, Dnnl = 1, Blas = 2, Ref = 3, DnnlSgemm = 4 };
void matmul_f32(const float* a, const float* b, float* out, const Gemm& g);
// Same, but forced to one implementation (for benchmarks); falls back to Ref if unavailable.
void matmul_f32_with(GemmImpl impl, const float* a, const float* b, float* out, const Gemm& g);
void matmul_bf16(const float* a, const uint16_t* b, float* out, const Gemm& g);
void set_gemm_impl(GemmImpl impl);
// bf16 GEMM strategy: -1 from env PEFT_TS_BF16_GEMM (default widen), 0 widen to f32 (exact), 1 oneDNN bf16,
// 2 oneDNN bf16 when the CPU has AVX512_BF16/AMX else widen.
void set_bf16_mode(int mode);
int bf16_mode();
bool bf16_hw();
GemmImpl gemm_impl();
bool have_dnnl();
bool have_blas();
std::string gemm_info();
// Scale alpha variant used by attention: out = alpha * op(a) op(b) (+ out).
void matmul_f32_alpha(const float* a, const float* b, float* out, const Gemm& g, float alpha);

// ---- elementwise (elementwise.cc)
enum UnaryOp { U_NEG, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_ABS, U_TANH, U_SIGMOID, U_RELU, U_SILU, U_GELU, U_GELU_TANH, U_SQUARE, U_RECIPROCAL, U_COUNT };
enum BinaryOp { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_COUNT };
void unary(int op, const float* x, float* out, int64_t n, float alpha);
void unary_backward(int op, const float* x, const float* y, const float* gy, float* gx, int64_t n, float alpha);
// Fused bias + activation (op: U_GELU, U_GELU_TANH, U_SILU or U_RELU) over [rows, cols]: z = x + bias
// (bias [cols] or null) written back into x, out = act(z). The backward writes gx = gy·act'(z) and,
// when gbias is non-null, accumulates (+=) the column sums of gx into it.
void bias_act(int op, float* x, const float* bias, float* out, int64_t rows, int64_t cols);
void bias_act_backward(int op, const float* z, const float* gy, float* gx, float* gbias, int64_t rows, int64_t cols);
void binary(int op, const float* a, const float* b, float* out, const std::vector<int64_t>& shape,
            const std::vector<int64_t>& as, const std::vector<int64_t>& bs, int64_t n);
void affine(const float* x, float* out, int64_t n, float alpha, float beta);
void f32_to_bf16(const float* x, uint16_t* out, int64_t n);
void bf16_to_f32(const uint16_t* x, float* out, int64_t n);

// ---- reductions, softmax, norms, losses, embedding, optimizer (nn.cc)
void sum(const float* x, float* out, int64_t outer, int64_t n, int64_t inner);
void max(const float* x, float* out, int32_t* idx, int64_t outer, int64_t n, int64_t inner);
void softmax(const float* x, float* out, int64_t rows, int64_t cols);
void softmax_backward(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols);
void log_softmax(const float* x, float* out, int64_t rows, int64_t cols);
void log_softmax_backward(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols);
void layer_norm(const float* x, const float* w, const float* b, float* out, float* mean, float* rstd, int64_t rows, int64_t cols, float eps);
void layer_norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* gy, float* gx, float* gw, float* gb, int64_t rows, int64_t cols);
void rms_norm(const float* x, const float* w, float* out, float* rstd, int64_t rows, int64_t cols, float eps);
void rms_norm_backward(const float* x, const float* w, const float* rstd, const float* gy, float* gx, float* gw, int64_t rows, int64_t cols);
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
void silu_mul_backward(const float* gate, const float* up, const float* gy, float* ggate, float* gup, int64_t n);
void cross_entropy(const float* logits, const int32_t* labels, float* loss, float* lse, int64_t rows, int64_t cols, int32_t ignore, float smoothing);
void cross_entropy_backward(const float* logits, const float* lse, const int32_t* labels, const float* gloss, float* glogits, int64_t rows, int64_t cols, int32_t ignore, float smoothing);
void embedding(const float* w, const int32_t* ids, float* out, int64_t count, int64_t dim);
void embedding_backward(const float* gout, const int32_t* ids, float* gw, int64_t count, int64_t dim);
struct AdamW { double lr, beta1, beta2, eps, wd, step; };
void adamw(float* p, const float* g, float* m, float* v, int64_t n, const AdamW& hp);

// ---- dropout (dropout.cc)
// Counter-based mask: k0, k1 = two xoshiro128** draws from state (4 uint32, advanced by exactly two
// draws, the TS Rng's stream); h = lowbias32(lowbias32((i + k0) mod 2^32) ^ k1); out[i] = 0 when
// h < p·2^32, else keep. Parallel, and bit-identical to the TS reference.
void dropout_mask(uint32_t* state, float* out, int64_t n, double p, float keep);
void dropout_apply(uint32_t* state, const float* x, float* out, int64_t n, double p, float keep);

// ---- attention (attention.cc)
// Rotary embedding (rotate_half layout) of x viewed [B,H,T,D] with element strides sb/sh/st (D
// contiguous); cos/sin [T,D] or [B,T,D] (per_batch); out contiguous [B,H,T,D]; inverse = the
// transposed map (the backward).
struct Rope { int64_t batch, heads, seq, d, sb, sh, st; bool per_batch; };
void rotary(const float* x, const float* cos, const float* sin, float* out, const Rope& p, bool inverse);
struct Attn { int64_t batch, heads, kvHeads, tq, tk, d; float scale; bool causal; };
// drop (or null): attention-dropout multipliers [B,H,Tq,Tk]; out = (P ⊙ drop)·V, probs keep P (pre-dropout);
// the backward takes the same drop.
void attention(const float* q, const float* k, const float* v, const float* mask, float* out, float* probs, const Attn& p,
               const float* drop = nullptr);
void attention_backward(const float* q, const float* k, const float* v, const float* probs, const float* gout,
                        float* gq, float* gk, float* gv, const Attn& p, const float* drop = nullptr);

// ---- memory-linear attention (flash_attention.cc)
// Attention dropout regenerated from the counter-based hash: element idx of the [B,H,Tq,Tk]
// probabilities gets 0 when lowbias32(lowbias32(idx + k0) ^ k1) < thr, else keep (dropout_mask's rule).
struct FlashDrop { uint32_t k0, k1, thr; float keep; };
// out [B,H,Tq,D] and stats [B,H,Tq,2] (each row's score max and 1/Σexp); no Tq×Tk buffer. dr may be null;
// kvs: elements between (batch, kv head) blocks of k and v (tk·d, or a preallocated cache's capacity·d).
void flash_attention(const float* q, const float* k, const float* v, const float* mask, float* out, float* stats,
                     const Attn& p, const FlashDrop* dr, int64_t kvs);
// gq, gk, gv written (not accumulated), recomputing the probabilities block by block from stats.
void flash_attention_backward(const float* q, const float* k, const float* v, const float* mask, const float* out,
                              const float* stats, const float* gout, float* gq, float* gk, float* gv, const Attn& p,
                              const FlashDrop* dr);

// ---- helpers
// Grow-only scratch buffer (one per call site and calling thread, so worker_threads may call kernels concurrently).
template <typename T>
struct Scratch {
  std::vector<T> buf;
  T* get(size_t n) { if (buf.size() < n) buf.resize(n); return buf.data(); }
};
float fast_exp(float x);  // vectorisable expf, max rel error ~2e-7

}  // namespace peft
