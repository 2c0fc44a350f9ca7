// f32 GEMM through oneDNN (dnnl_sgemm or a cached matmul primitive) or OpenBLAS, chosen by the
// measured rule in choose(), with a plain C++ fallback when neither library is built in; and the
// bf16-weight GEMM (widen to f32, or oneDNN's bf16 kernels on CPUs that have them).
#include <omp.h>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <list>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include "peft.h"

#ifdef PEFT_HAVE_DNNL
#include <dnnl.hpp>
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <signal.h>
#define PEFT_BLOCK_SIGPROF 1
#endif
#endif
#ifdef PEFT_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace peft {

static GemmImpl g_impl = GemmImpl::Auto;
void set_gemm_impl(GemmImpl impl) { g_impl = impl; }
GemmImpl gemm_impl() { return g_impl; }

bool have_dnnl() {
#ifdef PEFT_HAVE_DNNL
  return true;
#else
  return false;
#endif
}
bool have_blas() {
#ifdef PEFT_HAVE_OPENBLAS
  return true;
#else
  return false;
#endif
}

// ---------------------------------------------------------------- reference (fallback) GEMM
// Used only when neither library is built in (~50 GFLOP/s on 2 cores here vs ~180 for oneDNN):
// rows of C in parallel, inner loop contiguous in B and C so it vectorises. (A 256×256 panel
// blocking of B measured slower: C rows are then re-read for every k panel.)
static thread_local Scratch<float> ref_bt;  // B transposed to k×n when transB

static void gemm_ref(const float* a, const float* b, float* out, const Gemm& g, float alpha) {
  const int64_t m = g.m, n = g.n, k = g.k, ldc = g.ldc > 0 ? g.ldc : n, lda = g.lda > 0 ? g.lda : (g.transA ? m : k);
  for (int64_t bi = 0; bi < g.batch; bi++) {
    const float* A = a + bi * g.strideA;
    const float* B = b + bi * g.strideB;
    float* C = out + bi * g.strideOut;
    if (g.transB) {
      float* t = ref_bt.get((size_t)k * n);
#pragma omp parallel for schedule(static) if (k * n > (1 << 15))
      for (int64_t j = 0; j < n; j++)
        for (int64_t kk = 0; kk < k; kk++) t[kk * n + j] = B[j * k + kk];
      B = t;
    }
#pragma omp parallel for schedule(static) if (m * n * k > (1 << 16))
    for (int64_t i = 0; i < m; i++) {
      float* crow = C + i * ldc;
      if (!g.accumulate) std::memset(crow, 0, sizeof(float) * n);
      for (int64_t kk = 0; kk < k; kk++) {
        const float av = alpha * (g.transA ? A[kk * lda + i] : A[i * lda + kk]);
        const float* brow = B + kk * n;
#pragma omp simd
        for (int64_t j = 0; j < n; j++) crow[j] += av * brow[j];
      }
    }
  }
}

// ---------------------------------------------------------------- OpenBLAS
#ifdef PEFT_HAVE_OPENBLAS
static void gemm_blas(const float* a, const float* b, float* out, const Gemm& g, float alpha) {
  const int lda = (int)(g.lda > 0 ? g.lda : g.transA ? g.m : g.k), ldb = (int)(g.transB ? g.k : g.n);
  for (int64_t bi = 0; bi < g.batch; bi++)
    cblas_sgemm(CblasRowMajor, g.transA ? CblasTrans : CblasNoTrans, g.transB ? CblasTrans : CblasNoTrans,
                (int)g.m, (int)g.n, (int)g.k, alpha, a + bi * g.strideA, lda, b + bi * g.strideB, ldb,
                g.accumulate ? 1.f : 0.f, out + bi * g.strideOut, (int)(g.ldc > 0 ? g.ldc : g.n));
}
#endif

// ---------------------------------------------------------------- oneDNN
#ifdef PEFT_HAVE_DNNL
namespace {
// oneDNN 2.6 (Debian's libdnnl.so.2.6) corrupts the malloc heap when SIGPROF interrupts the calling
// thread inside dnnl_sgemm or a matmul primitive: `node --cpu-prof` (V8's sampler sends SIGPROF to
// the JS thread every ms) aborted with "corrupted size vs. prev_size while consolidating". A plain
// C++ program calling only dnnl_sgemm while another thread pthread_kill()s it with SIGPROF (empty
// SA_RESTART handler) aborts the same way, and blocking SIGPROF around the call fixes it, so every
// oneDNN call is made with SIGPROF blocked on the calling thread (OpenMP workers it spawns inherit
// the mask). A sample that falls inside is delivered when the call returns. Cost: two
// pthread_sigmask calls (~0.1 µs each) per GEMM. test/backend/native_sigprof.test.ts checks it.
struct NoSigprof {
#ifdef PEFT_BLOCK_SIGPROF
  sigset_t old;
  bool on;
  NoSigprof() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPROF);
    on = pthread_sigmask(SIG_BLOCK, &s, &old) == 0;
  }
  ~NoSigprof() {
    if (on) pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
#endif
};
struct DnnlCtx {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
};
DnnlCtx& ctx() {
  static thread_local DnnlCtx c;
  return c;
}
using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int, int, int64_t, int64_t, int64_t, int, float, int>;
struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = 1469598103934665603ull;
    auto mix = [&](uint64_t v) { h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); };
    mix(std::get<0>(k)); mix(std::get<1>(k)); mix(std::get<2>(k)); mix(std::get<3>(k));
    mix(std::get<4>(k)); mix(std::get<5>(k)); mix(std::get<6>(k)); mix(std::get<7>(k));
    mix(std::get<8>(k)); mix(std::get<9>(k)); uint32_t u; std::memcpy(&u, &std::get<10>(k), 4); mix(u); mix(std::get<11>(k));
    return h;
  }
};
struct Prim {
  dnnl::matmul mm;
  dnnl::memory A, B, C;
};
// A small LRU of primitives: shapes repeat every step in training, so creation is paid once.
struct PrimCache {
  size_t cap = 256;
  std::list<Key> order;
  std::unordered_map<Key, std::pair<std::unique_ptr<Prim>, std::list<Key>::iterator>, KeyHash> map;
  Prim* find(const Key& k) {
    auto it = map.find(k);
    if (it == map.end()) return nullptr;
    order.splice(order.begin(), order, it->second.second);
    return it->second.first.get();
  }
  Prim* put(const Key& k, std::unique_ptr<Prim> p) {
    if (map.size() >= cap) {
      map.erase(order.back());
      order.pop_back();
    }
    order.push_front(k);
    Prim* raw = p.get();
    map.emplace(k, std::make_pair(std::move(p), order.begin()));
    return raw;
  }
};
PrimCache& cache() {
  static thread_local PrimCache c;
  return c;
}
}  // namespace

// wdt: weights data type (f32, or bf16 for the AVX512_BF16 path with bf16 activations).
static Prim* dnnl_prim(const Gemm& g, float alpha, dnnl::memory::data_type sdt, dnnl::memory::data_type wdt) {
  using namespace dnnl;
  Key key{g.batch, g.m, g.n, g.k, (int)g.transA, (int)g.transB, g.strideA, g.strideB, g.strideOut, (int)g.accumulate, alpha,
          // oneDNN sizes a primitive's per-thread work and scratchpad for the thread count at creation
          // and expects the same count at execution: setNumThreads() must not reuse an older primitive
          (int)sdt * 16 + (int)wdt + 256 * num_threads()};
  if (Prim* p = cache().find(key)) return p;
  NoSigprof nosig;
  const int64_t m = g.m, n = g.n, k = g.k;
  memory::desc a_md, b_md, c_md;
  if (g.batch == 1) {
    a_md = memory::desc({m, k}, sdt, g.transA ? memory::dims{1, m} : memory::dims{k, 1});
    b_md = memory::desc({k, n}, wdt, g.transB ? memory::dims{1, k} : memory::dims{n, 1});
    c_md = memory::desc({m, n}, memory::data_type::f32, memory::dims{n, 1});
  } else {
    const int64_t ba = g.strideA == 0 ? 1 : g.batch, bb = g.strideB == 0 ? 1 : g.batch;
    const int64_t sa = g.strideA == 0 ? m * k : g.strideA, sb = g.strideB == 0 ? k * n : g.strideB;
    a_md = memory::desc({ba, m, k}, sdt, g.transA ? memory::dims{sa, 1, m} : memory::dims{sa, k, 1});
    b_md = memory::desc({bb, k, n}, wdt, g.transB ? memory::dims{sb, 1, k} : memory::dims{sb, n, 1});
    c_md = memory::desc({g.batch, m, n}, memory::data_type::f32, memory::dims{g.strideOut, n, 1});
  }
  primitive_attr attr;
  if (alpha != 1.f) attr.set_output_scales(0, {alpha});
  if (g.accumulate) {
    post_ops po;
    po.append_sum(1.f);
    attr.set_post_ops(po);
  }
  auto& c = ctx();
  matmul::primitive_desc pd(matmul::desc(a_md, b_md, c_md), attr, c.eng);
  auto p = std::make_unique<Prim>();
  p->mm = matmul(pd);
  p->A = memory(a_md, c.eng, DNNL_MEMORY_NONE);
  p->B = memory(b_md, c.eng, DNNL_MEMORY_NONE);
  p->C = memory(c_md, c.eng, DNNL_MEMORY_NONE);
  return cache().put(key, std::move(p));
}

static void dnnl_run(Prim* p, const void* a, const void* b, float* out) {
  p->A.set_data_handle(const_cast<void*>(a));
  p->B.set_data_handle(const_cast<void*>(b));
  p->C.set_data_handle(out);
  auto& c = ctx();
  NoSigprof nosig;
  p->mm.execute(c.strm, {{DNNL_ARG_SRC, p->A}, {DNNL_ARG_WEIGHTS, p->B}, {DNNL_ARG_DST, p->C}});
  c.strm.wait();
}

// oneDNN's BLAS-style sgemm: the same JIT kernels as the matmul primitive, no primitive to create.
static void gemm_dnnl_sgemm(const float* a, const float* b, float* out, const Gemm& g, float alpha) {
  const int64_t lda = g.lda > 0 ? g.lda : g.transA ? g.m : g.k, ldb = g.transB ? g.k : g.n;
  NoSigprof nosig;
  for (int64_t bi = 0; bi < g.batch; bi++) {
    dnnl_status_t st = dnnl_sgemm(g.transA ? 'T' : 'N', g.transB ? 'T' : 'N', g.m, g.n, g.k, alpha, a + bi * g.strideA, lda,
                                  b + bi * g.strideB, ldb, g.accumulate ? 1.f : 0.f, out + bi * g.strideOut,
                                  g.ldc > 0 ? g.ldc : g.n);
    if (st != dnnl_success) throw dnnl::error(st, "dnnl_sgemm failed");
  }
}

static void gemm_dnnl(const float* a, const float* b, float* out, const Gemm& g, float alpha) {
  using dt = dnnl::memory::data_type;
  dnnl_run(dnnl_prim(g, alpha, dt::f32, dt::f32), a, b, out);
}
#endif

// ---------------------------------------------------------------- selection
// Measured on the development machine (2-core Zen, AVX2; bench/ops.ts, native/README.md):
//  - single GEMMs: oneDNN's dnnl_sgemm matches the best of OpenBLAS and the oneDNN matmul
//    primitive on every BERT shape (the primitive loses ~10% when B is transposed at 512×768×768);
//  - batched GEMMs (attention): the matmul primitive is 1.15-1.6x faster than looping sgemm
//    calls, but creating it for a new shape costs ~0.8 ms. Training and prefill repeat their
//    matrix shapes (every layer, every step), so batched matrix-matrix products use it; the vector
//    products of decoding with a KV cache (m or n = 1, a new length every token) loop sgemm and
//    never pay creation.
//  - OpenBLAS is never chosen automatically: its pthread pool spins after each call and stalls
//    the OpenMP pool that oneDNN and the fused kernels share (an OpenBLAS GEMM followed by an
//    OpenMP softmax took 2x their sum), so one OpenMP pool runs everything.
// The rule reads the shape only: no timing and no call history (an earlier rule switched to the
// primitive after a shape's third call, so a resumed process, starting with no history, computed
// its first steps with the other implementation and differed in the last bits from the run it
// continued). A seeded run computes the same numbers each time, whatever ran before in the process.
static GemmImpl choose(const Gemm& g, float alpha) {
  (void)alpha;
#if defined(PEFT_HAVE_DNNL)
  if (g.batch == 1) return GemmImpl::DnnlSgemm;
  const double flops = 2.0 * (double)g.batch * (double)g.m * (double)g.n * (double)g.k;
  if (flops >= 64e6) return GemmImpl::Dnnl;
  return g.m == 1 || g.n == 1 ? GemmImpl::DnnlSgemm : GemmImpl::Dnnl;
#elif defined(PEFT_HAVE_OPENBLAS)
  (void)g;
  return GemmImpl::Blas;
#else
  (void)g;
  return GemmImpl::Ref;
#endif
}

static void run_impl(GemmImpl impl, const float* a, const float* b, float* out, const Gemm& g, float alpha) {
  if (g.batch <= 0 || g.m <= 0 || g.n <= 0) return;
  if (g.k == 0) {  // empty product: out = 0 (or unchanged when accumulating)
    const int64_t ldc = g.ldc > 0 ? g.ldc : g.n;
    if (!g.accumulate)
      for (int64_t bi = 0; bi < g.batch; bi++)
        for (int64_t i = 0; i < g.m; i++) std::memset(out + bi * g.strideOut + i * ldc, 0, sizeof(float) * g.n);
    return;
  }
  if (impl == GemmImpl::Auto) impl = choose(g, alpha);
  if (impl == GemmImpl::Dnnl && (g.ldc > 0 || g.lda > 0)) impl = GemmImpl::DnnlSgemm;  // the primitive assumes dense operands
  switch (impl) {
#ifdef PEFT_HAVE_DNNL
    case GemmImpl::Dnnl: gemm_dnnl(a, b, out, g, alpha); return;
    case GemmImpl::DnnlSgemm: gemm_dnnl_sgemm(a, b, out, g, alpha); return;
#endif
#ifdef PEFT_HAVE_OPENBLAS
    case GemmImpl::Blas: gemm_blas(a, b, out, g, alpha); return;
#endif
    default: gemm_ref(a, b, out, g, alpha); return;
  }
}

void matmul_f32(const float* a, const float* b, float* out, const Gemm& g) { run_impl(g_impl, a, b, out, g, 1.f); }
void matmul_f32_alpha(const float* a, const float* b, float* out, const Gemm& g, float alpha) { run_impl(g_impl, a, b, out, g, alpha); }
void matmul_f32_with(GemmImpl impl, const float* a, const float* b, float* out, const Gemm& g) { run_impl(impl, a, b, out, g, 1.f); }

// ---------------------------------------------------------------- bf16 weights
// Two ways, chosen by PEFT_TS_BF16_GEMM or setBf16Gemm. Default ("auto"): on CPUs with AVX512_BF16
// (or AMX) oneDNN's bf16 kernels run at several times the f32 rate, so the activations are rounded to
// bf16 and oneDNN multiplies bf16×bf16 with f32 accumulation and f32 output, as PyTorch does under
// bf16 autocast (relative error ~2^-9 per activation); elsewhere, and with "widen", the weight is
// widened to f32 (exact) and the f32 GEMM runs — the f32 product of the stored values, as the TS
// reference computes it. "onednn" forces the bf16 kernels. Without bf16 hardware oneDNN 2.x has no
// bf16 matmul; the first failed primitive creation switches back to widening.
static thread_local Scratch<float> bf_panel;
static int g_bf16_mode = -1;  // -1 not decided, 0 widen to f32, 1 oneDNN bf16

bool bf16_hw() {
#ifdef PEFT_HAVE_DNNL
  const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
  return (isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16;
#else
  return false;
#endif
}

void set_bf16_mode(int mode) {  // -1: from PEFT_TS_BF16_GEMM, 0 widen, 1 oneDNN bf16, 2 oneDNN bf16 if the CPU has it
  if (mode < 0) {
    const char* e = std::getenv("PEFT_TS_BF16_GEMM");
    std::string s = e ? e : "auto";
    mode = s == "onednn" ? 1 : s == "auto" ? 2 : 0;
  }
  if (mode == 2) mode = bf16_hw() ? 1 : 0;
  g_bf16_mode = have_dnnl() ? mode : 0;
}
int bf16_mode() {
  if (g_bf16_mode < 0) set_bf16_mode(-1);
  return g_bf16_mode;
}

#ifdef PEFT_HAVE_DNNL
static thread_local Scratch<uint16_t> a_bf16;
#endif

void matmul_bf16(const float* a, const uint16_t* b, float* out, const Gemm& g) {
  if (g.batch <= 0 || g.m <= 0 || g.n <= 0) return;
  if (g.k == 0) {
    run_impl(GemmImpl::Ref, a, nullptr, out, g, 1.f);
    return;
  }
#ifdef PEFT_HAVE_DNNL
  if (bf16_mode() == 1) {
    using dt = dnnl::memory::data_type;
    const int64_t na = (g.strideA == 0 ? 0 : (g.batch - 1) * g.strideA) + g.m * g.k;
    Prim* p = nullptr;
    try {
      p = dnnl_prim(g, 1.f, dt::bf16, dt::bf16);
    } catch (const dnnl::error&) {
      g_bf16_mode = 0;  // this oneDNN/CPU has no bf16 matmul: widen from now on
    }
    if (p) {
      uint16_t* ab = a_bf16.get((size_t)na);
      f32_to_bf16(a, ab, na);
      dnnl_run(p, ab, b, out);
      return;
    }
  }
#endif
  // A big single weight (a 32k–128k-vocab lm_head is 65 MB–1 GB in f32) is widened in blocks of at most
  // kPanel values, so the scratch stays small and bf16 storage really halves the weights' memory: blocks
  // of output columns when n is wide (each block's GEMM writes its columns of out, ldc = n), else blocks
  // of the inner dimension (a's columns with lda = k, products accumulated into out).
  const int64_t kPanel = int64_t(1) << 20;  // floats (4 MB)
  if (g.batch == 1 && g.k * g.n > kPanel) {
    if (kPanel / g.k >= 256) {
      const int64_t nb = kPanel / g.k / 16 * 16;
      float* wf = bf_panel.get((size_t)(nb * g.k));
      for (int64_t n0 = 0; n0 < g.n; n0 += nb) {
        const int64_t w = std::min(nb, g.n - n0);
        if (g.transB) {
          bf16_to_f32(b + n0 * g.k, wf, w * g.k);  // rows n0.. of W [n, k]: contiguous
        } else {
          for (int64_t kk = 0; kk < g.k; kk++) bf16_to_f32(b + kk * g.n + n0, wf + kk * w, w);  // W [k, n] columns, packed k × w
        }
        Gemm blk = g;
        blk.n = w;
        blk.ldc = g.n;
        run_impl(g_impl, a, wf, out + n0, blk, 1.f);
      }
    } else {
      const int64_t kb = std::max<int64_t>(16, kPanel / g.n / 16 * 16);
      float* wf = bf_panel.get((size_t)(kb * g.n));
      for (int64_t k0 = 0; k0 < g.k; k0 += kb) {
        const int64_t w = std::min(kb, g.k - k0);
        if (g.transB) {
          for (int64_t j = 0; j < g.n; j++) bf16_to_f32(b + j * g.k + k0, wf + j * w, w);  // W [n, k] columns, packed n × w
        } else {
          bf16_to_f32(b + k0 * g.n, wf, w * g.n);  // rows k0.. of W [k, n]: contiguous
        }
        Gemm blk = g;
        blk.k = w;
        blk.lda = g.transA ? g.m : g.k;
        blk.accumulate = g.accumulate || k0 > 0;
        run_impl(g_impl, g.transA ? a + k0 * g.m : a + k0, wf, out, blk, 1.f);
      }
    }
    return;
  }
  // Widen the bf16 operand (exact) into an f32 scratch, one batch item at a time, then run the f32 GEMM.
  const int64_t kn = g.k * g.n;
  float* wf = bf_panel.get((size_t)kn);
  for (int64_t bi = 0; bi < g.batch; bi++) {
    if (bi == 0 || g.strideB != 0) bf16_to_f32(b + bi * g.strideB, wf, kn);
    Gemm one = g;
    one.batch = 1;
    run_impl(g_impl, a + bi * g.strideA, wf, out + bi * g.strideOut, one, 1.f);
  }
}

std::string gemm_info() {
  std::string s;
#ifdef PEFT_HAVE_DNNL
  const dnnl_version_t* v = dnnl_version();
  s += "onednn " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
#endif
#ifdef PEFT_HAVE_OPENBLAS
  if (!s.empty()) s += ", ";
  s += "openblas";
#endif
  if (s.empty()) s = "reference gemm";
  return s;
}

}  // namespace peft
