// f32 GEMM / batched GEMM: out[b] (m×n) (+)= op(A[b]) (m×k) · op(B[b]) (k×n), row-major, op = optional
// transpose (transA: A stored k×m; transB: B stored n×k). Blocked like BLIS: a KC×NC block of B and an
// MC×KC block of A are packed (zero-padded) into panels of NR columns / MR rows in a caller-given scratch
// area (gemm_scratch_floats() floats; static buffers would be written into the module as zeros), and
// a 4×8 register micro-kernel (8 f32x4 accumulators) sweeps the panels. Strides are element strides
// between batch items (0 broadcasts an operand).
#include "kernels.h"

#define MR 4
#define NR 8
#define KC 256
#define MC 64
#define NC 512

static float* packed_a;
static float* packed_b;

EXPORT(gemm_scratch_floats)
int gemm_scratch_floats(void) { return MC * KC + KC * NC; }

// B block rows [pc, pc+kc), cols [jc, jc+nc) into panels of NR columns: panel p holds kc rows of NR.
static void pack_b(const float* b, int n, int k, int transB, int pc, int kc, int jc, int nc) {
  float* dst = packed_b;
  for (int j0 = 0; j0 < nc; j0 += NR) {
    int nr = nc - j0 < NR ? nc - j0 : NR;
    for (int p = 0; p < kc; p++) {
      int kk = pc + p;
      if (!transB && nr == NR) {
        const float* src = b + (long)kk * n + jc + j0;
        wasm_v128_store(dst, wasm_v128_load(src));
        wasm_v128_store(dst + 4, wasm_v128_load(src + 4));
      } else {
        for (int j = 0; j < nr; j++) {
          int col = jc + j0 + j;
          dst[j] = transB ? b[(long)col * k + kk] : b[(long)kk * n + col];
        }
        for (int j = nr; j < NR; j++) dst[j] = 0;
      }
      dst += NR;
    }
  }
}

// A block rows [ic, ic+mc), cols [pc, pc+kc) into panels of MR rows: panel p holds kc columns of MR.
static void pack_a(const float* a, int m, int k, int transA, int ic, int mc, int pc, int kc) {
  float* dst = packed_a;
  for (int i0 = 0; i0 < mc; i0 += MR) {
    int mr = mc - i0 < MR ? mc - i0 : MR;
    for (int p = 0; p < kc; p++) {
      int kk = pc + p;
      if (transA && mr == MR) {
        wasm_v128_store(dst, wasm_v128_load(a + (long)kk * m + ic + i0));
      } else {
        for (int i = 0; i < mr; i++) {
          int row = ic + i0 + i;
          dst[i] = transA ? a[(long)kk * m + row] : a[(long)row * k + kk];
        }
        for (int i = mr; i < MR; i++) dst[i] = 0;
      }
      dst += MR;
    }
  }
}

// C[mr×nr] (+)= Ap (MR×kc panel) · Bp (kc×NR panel); add = 0 overwrites C.
static void micro_kernel(int kc, const float* ap, const float* bp, float* c, int ldc, int mr, int nr, int add) {
  v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int p = 0; p < kc; p++) {
    v128_t b0 = wasm_v128_load(bp), b1 = wasm_v128_load(bp + 4);
    v128_t a0 = wasm_v128_load32_splat(ap), a1 = wasm_v128_load32_splat(ap + 1);
    c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(a0, b0));
    c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(a0, b1));
    c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(a1, b0));
    c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(a1, b1));
    v128_t a2 = wasm_v128_load32_splat(ap + 2), a3 = wasm_v128_load32_splat(ap + 3);
    c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(a2, b0));
    c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(a2, b1));
    c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(a3, b0));
    c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(a3, b1));
    ap += MR;
    bp += NR;
  }
  if (mr == MR && nr == NR) {
    float* r0 = c; float* r1 = c + ldc; float* r2 = r1 + ldc; float* r3 = r2 + ldc;
    if (add) {
      c00 = wasm_f32x4_add(c00, wasm_v128_load(r0)); c01 = wasm_f32x4_add(c01, wasm_v128_load(r0 + 4));
      c10 = wasm_f32x4_add(c10, wasm_v128_load(r1)); c11 = wasm_f32x4_add(c11, wasm_v128_load(r1 + 4));
      c20 = wasm_f32x4_add(c20, wasm_v128_load(r2)); c21 = wasm_f32x4_add(c21, wasm_v128_load(r2 + 4));
      c30 = wasm_f32x4_add(c30, wasm_v128_load(r3)); c31 = wasm_f32x4_add(c31, wasm_v128_load(r3 + 4));
    }
    wasm_v128_store(r0, c00); wasm_v128_store(r0 + 4, c01);
    wasm_v128_store(r1, c10); wasm_v128_store(r1 + 4, c11);
    wasm_v128_store(r2, c20); wasm_v128_store(r2 + 4, c21);
    wasm_v128_store(r3, c30); wasm_v128_store(r3 + 4, c31);
    return;
  }
  float tile[MR * NR] __attribute__((aligned(16)));
  wasm_v128_store(tile, c00); wasm_v128_store(tile + 4, c01);
  wasm_v128_store(tile + 8, c10); wasm_v128_store(tile + 12, c11);
  wasm_v128_store(tile + 16, c20); wasm_v128_store(tile + 20, c21);
  wasm_v128_store(tile + 24, c30); wasm_v128_store(tile + 28, c31);
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) c[(long)i * ldc + j] = add ? c[(long)i * ldc + j] + tile[i * NR + j] : tile[i * NR + j];
}

static void gemm_one(const float* a, const float* b, float* out, int m, int n, int k, int transA, int transB, int accumulate) {
  if (k == 0) {
    if (!accumulate) for (long i = 0; i < (long)m * n; i++) out[i] = 0;
    return;
  }
  for (int jc = 0; jc < n; jc += NC) {
    int nc = n - jc < NC ? n - jc : NC;
    for (int pc = 0; pc < k; pc += KC) {
      int kc = k - pc < KC ? k - pc : KC;
      int add = accumulate || pc > 0;
      pack_b(b, n, k, transB, pc, kc, jc, nc);
      for (int ic = 0; ic < m; ic += MC) {
        int mc = m - ic < MC ? m - ic : MC;
        pack_a(a, m, k, transA, ic, mc, pc, kc);
        for (int j0 = 0; j0 < nc; j0 += NR) {
          int nr = nc - j0 < NR ? nc - j0 : NR;
          const float* bp = packed_b + (long)(j0 / NR) * kc * NR;
          for (int i0 = 0; i0 < mc; i0 += MR) {
            int mr = mc - i0 < MR ? mc - i0 : MR;
            micro_kernel(kc, packed_a + (long)(i0 / MR) * kc * MR, bp, out + (long)(ic + i0) * n + jc + j0, n, mr, nr, add);
          }
        }
      }
    }
  }
}

void wk_gemm_one(const float* a, const float* b, float* out, int m, int n, int k, int transA, int transB, int accumulate, float* scratch) {
  packed_a = scratch;
  packed_b = scratch + MC * KC;
  gemm_one(a, b, out, m, n, k, transA, transB, accumulate);
}

EXPORT(gemm)
void gemm(const float* a, const float* b, float* out, int batch, int m, int n, int k, int transA, int transB,
          int strideA, int strideB, int strideOut, int accumulate, float* scratch) {
  packed_a = scratch;
  packed_b = scratch + MC * KC;
  for (int bi = 0; bi < batch; bi++)
    gemm_one(a + (long)bi * strideA, b + (long)bi * strideB, out + (long)bi * strideOut, m, n, k, transA, transB, accumulate);
}
