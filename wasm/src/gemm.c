// f32 GEMM / batched GEMM: out[b] (m×n) (+)= op(A[b]) (m×k) · op(B[b]) (k×n), row-major, op = optional
// transpose (transA: A stored k×m; transB: B stored n×k). Blocked like BLIS: a KC×NC block of B and an
// MC×KC block of A are packed (zero-padded) into panels of NR columns / MR rows in a caller-given scratch
// area (gemm_scratch_floats() floats per thread: nothing static, so instances on one shared memory can
// run at once), and a 4×8 register micro-kernel (8 f32x4 accumulators, one multiply-add per product:
// f32x4.relaxed_madd in the relaxed build, mul + add otherwise) sweeps the panels.
// Threads: call gemm with part = 0..parts−1 (one call per thread; scratch holds parts areas); the
// batch items, else the rows or the columns (in whole MR / NR panels) are split between the parts. Every
// output element is summed over the same KC blocks in the same order whatever the split, so the
// threaded result is bit-identical to the one-thread result.
#include "kernels.h"

#define MR 4
#define NR 8
#define KC 256
#define MC 64
#define NC 512

EXPORT(gemm_scratch_floats)
int gemm_scratch_floats(void) { return MC * KC + KC * NC; }

// One operand view: element (r, c) of op(X) is x[r·rs + c·cs].
typedef struct { const float* p; long rs, cs; } view;
static inline float at(view v, long r, long c) { return v.p[r * v.rs + c * v.cs]; }

// The 4×4 transpose of rows r[0..3] into columns c[0..3] (c[j] = (r0[j], r1[j], r2[j], r3[j])).
static inline void transpose4(const v128_t r[4], v128_t c[4]) {
  v128_t t0 = wasm_i32x4_shuffle(r[0], r[1], 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r[0], r[1], 2, 6, 3, 7);
  v128_t t2 = wasm_i32x4_shuffle(r[2], r[3], 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r[2], r[3], 2, 6, 3, 7);
  c[0] = wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5);
  c[1] = wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7);
  c[2] = wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5);
  c[3] = wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7);
}

// Four elements of op(X)'s column c, rows r..r+3, from storage where a row is contiguous in the other
// direction (x.cs == 1 is a row, here we want a column: x.rs apart): as one vector per source row.
static inline void load_rows4(view x, long r, long c, v128_t out[4]) {
  for (int i = 0; i < 4; i++) out[i] = wasm_v128_load(x.p + (r + i) * x.rs + c);
}

// B block rows [pc, pc+kc), cols [jc, jc+nc) into panels of NR columns: panel p holds kc rows of NR.
// A row-major B (cs = 1) is copied a vector at a time; a transposed one (a Linear weight, rs = 1) is read
// 4×4 at a time and transposed in registers.
static void pack_b(float* dst, view b, int pc, int kc, int jc, int nc) {
  for (int j0 = 0; j0 < nc; j0 += NR) {
    int nr = nc - j0 < NR ? nc - j0 : NR, p = 0;
    if (b.rs == 1 && nr == NR) {
      view bt = { b.p, b.cs, 1 };  // B stored n×k: row j of the storage is column j of B
      for (; p + 4 <= kc; p += 4) {
        v128_t r[4], lo[4], hi[4];
        load_rows4(bt, jc + j0, pc + p, r);
        transpose4(r, lo);
        load_rows4(bt, jc + j0 + 4, pc + p, r);
        transpose4(r, hi);
        for (int i = 0; i < 4; i++) {
          wasm_v128_store(dst, lo[i]);
          wasm_v128_store(dst + 4, hi[i]);
          dst += NR;
        }
      }
    }
    for (; p < kc; p++) {
      if (b.cs == 1 && nr == NR) {
        const float* src = b.p + (long)(pc + p) * b.rs + jc + j0;
        wasm_v128_store(dst, wasm_v128_load(src));
        wasm_v128_store(dst + 4, wasm_v128_load(src + 4));
      } else {
        for (int j = 0; j < nr; j++) dst[j] = at(b, pc + p, jc + j0 + j);
        for (int j = nr; j < NR; j++) dst[j] = 0;
      }
      dst += NR;
    }
  }
}

// A block rows [ic, ic+mc), cols [pc, pc+kc) into panels of MR rows: panel p holds kc columns of MR.
// A transposed A (rs = 1) is copied a vector at a time; a row-major one is read 4×4 and transposed.
static void pack_a(float* dst, view a, int ic, int mc, int pc, int kc) {
  for (int i0 = 0; i0 < mc; i0 += MR) {
    int mr = mc - i0 < MR ? mc - i0 : MR, p = 0;
    if (a.cs == 1 && mr == MR) {
      for (; p + 4 <= kc; p += 4) {
        v128_t r[4], c[4];
        load_rows4(a, ic + i0, pc + p, r);
        transpose4(r, c);
        for (int i = 0; i < 4; i++) wasm_v128_store(dst + i * MR, c[i]);
        dst += 4 * MR;
      }
    }
    for (; p < kc; p++) {
      if (a.rs == 1 && mr == MR) {
        wasm_v128_store(dst, wasm_v128_load(a.p + (long)(pc + p) * a.cs + ic + i0));
      } else {
        for (int i = 0; i < mr; i++) dst[i] = at(a, ic + i0 + i, pc + p);
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
    c00 = MADD(a0, b0, c00);
    c01 = MADD(a0, b1, c01);
    c10 = MADD(a1, b0, c10);
    c11 = MADD(a1, b1, c11);
    v128_t a2 = wasm_v128_load32_splat(ap + 2), a3 = wasm_v128_load32_splat(ap + 3);
    c20 = MADD(a2, b0, c20);
    c21 = MADD(a2, b1, c21);
    c30 = MADD(a3, b0, c30);
    c31 = MADD(a3, b1, c31);
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

// out (m×n, row stride ldc) (+)= op(A) · op(B) for operand views a (m×k) and b (k×n).
static void gemm_block(view a, view b, float* out, int ldc, int m, int n, int k, int accumulate, float* scratch) {
  if (k == 0) {
    if (!accumulate) for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) out[(long)i * ldc + j] = 0;
    return;
  }
  float* packed_a = scratch;
  float* packed_b = scratch + MC * KC;
  for (int jc = 0; jc < n; jc += NC) {
    int nc = n - jc < NC ? n - jc : NC;
    for (int pc = 0; pc < k; pc += KC) {
      int kc = k - pc < KC ? k - pc : KC;
      int add = accumulate || pc > 0;
      pack_b(packed_b, b, pc, kc, jc, nc);
      for (int ic = 0; ic < m; ic += MC) {
        int mc = m - ic < MC ? m - ic : MC;
        pack_a(packed_a, a, ic, mc, pc, kc);
        for (int j0 = 0; j0 < nc; j0 += NR) {
          int nr = nc - j0 < NR ? nc - j0 : NR;
          const float* bp = packed_b + (long)(j0 / NR) * kc * NR;
          for (int i0 = 0; i0 < mc; i0 += MR) {
            int mr = mc - i0 < MR ? mc - i0 : MR;
            micro_kernel(kc, packed_a + (long)(i0 / MR) * kc * MR, bp, out + (long)(ic + i0) * ldc + jc + j0, ldc, mr, nr, add);
          }
        }
      }
    }
  }
}

static inline view view_a(const float* a, int m, int k, int transA) { view v = { a, transA ? 1 : k, transA ? m : 1 }; return v; }
static inline view view_b(const float* b, int n, int k, int transB) { view v = { b, transB ? 1 : n, transB ? k : 1 }; return v; }

void wk_gemm_one(const float* a, const float* b, float* out, int m, int n, int k, int transA, int transB, int accumulate, float* scratch) {
  gemm_block(view_a(a, m, k, transA), view_b(b, n, k, transB), out, n, m, n, k, accumulate, scratch);
}

/** [*lo, *hi) of `units` items of `align` elements split into `parts` near-equal runs: part `part`'s share. */
void wk_share(int count, int align, int part, int parts, int* lo, int* hi) {
  int units = (count + align - 1) / align;
  int base = units / parts, extra = units % parts;
  int u0 = part * base + (part < extra ? part : extra), u1 = u0 + base + (part < extra);
  *lo = u0 * align < count ? u0 * align : count;
  *hi = u1 * align < count ? u1 * align : count;
}

EXPORT(gemm)
void gemm(const float* a, const float* b, float* out, int batch, int m, int n, int k, int transA, int transB,
          int strideA, int strideB, int strideOut, int accumulate, float* scratch, int part, int parts) {
  int b0 = 0, b1 = batch, i0 = 0, i1 = m, j0 = 0, j1 = n;
  scratch += (long)part * gemm_scratch_floats();
  if (batch >= parts) wk_share(batch, 1, part, parts, &b0, &b1);
  else if ((n + NR - 1) / NR >= (m + MR - 1) / MR) wk_share(n, NR, part, parts, &j0, &j1);
  else wk_share(m, MR, part, parts, &i0, &i1);
  for (int bi = b0; bi < b1; bi++) {
    view va = view_a(a + (long)bi * strideA, m, k, transA), vb = view_b(b + (long)bi * strideB, n, k, transB);
    va.p += i0 * va.rs;
    vb.p += j0 * vb.cs;
    if (i1 > i0 && j1 > j0) gemm_block(va, vb, out + (long)bi * strideOut + (long)i0 * n + j0, n, i1 - i0, j1 - j0, k, accumulate, scratch);
  }
}
