// Reference GEMM: plain loops, i-k-j order so the inner loop is contiguous in b and out.
import type { F32, MatmulParams } from "../backend.js";

export function matmul(a: F32, b: F32, out: F32, p: MatmulParams): void {
  const { batch, m, n, k, transA, transB } = p;
  for (let bi = 0; bi < batch; bi++) {
    const ao = bi * p.strideA, bo = bi * p.strideB, oo = bi * p.strideOut;
    if (!p.accumulate) out.fill(0, oo, oo + m * n);
    if (!transB) {
      for (let i = 0; i < m; i++) {
        const orow = oo + i * n;
        for (let kk = 0; kk < k; kk++) {
          const av = transA ? a[ao + kk * m + i] : a[ao + i * k + kk];
          if (av === 0) continue;
          const brow = bo + kk * n;
          for (let j = 0; j < n; j++) out[orow + j] += av * b[brow + j];
        }
      }
    } else {
      for (let i = 0; i < m; i++) {
        const orow = oo + i * n;
        for (let j = 0; j < n; j++) {
          const brow = bo + j * k;
          let s = 0;
          if (transA) for (let kk = 0; kk < k; kk++) s += a[ao + kk * m + i] * b[brow + kk];
          else {
            const arow = ao + i * k;
            for (let kk = 0; kk < k; kk++) s += a[arow + kk] * b[brow + kk];
          }
          out[orow + j] += s;
        }
      }
    }
  }
}

export function matmulBf16(a: F32, b: Uint16Array, out: F32, p: MatmulParams): void {
  // widen b to f32 (exact) and reuse the f32 kernel
  const bf = new Float32Array(b.length);
  new Uint32Array(bf.buffer).set(Uint32Array.from(b, (h) => h << 16));
  matmul(a, bf, out, p);
}
