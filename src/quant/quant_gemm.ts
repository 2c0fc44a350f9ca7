// The reference dequant-in-GEMM kernel for any registered format: the weight is dequantised a row
// block at a time (≤ ~1 MiB of f32 scratch, reused across calls) and each block goes through an f32
// GEMM, so a full f32 copy of the weight never exists. The native addon has fused kernels for
// int8/nf4/fp4 (native/src/quant_gemm.cc); this one serves the TS and wasm backends and other formats.

import type { F32, MatmulParams } from "../backend/backend.js";
import type { QuantMatrix } from "./format.js";
import { getQuantFormat } from "./format.js";
import { f32ToBf16Bits, bf16BitsToF32 } from "../tensor/dtype.js";
import { ShapeError } from "../tensor/errors.js";

/** Which product: "forward" out[m, rows] = x[m, cols]·Wᵀ; "backward" out[m, cols] = x[m, rows]·W. */
export type QuantGemmMode = "forward" | "backward";

type Matmul = (a: F32, b: F32, out: F32, p: MatmulParams) => void;

const SCRATCH_FLOATS = 1 << 18;
let scratch: Float32Array = new Float32Array(0);
let tmp: Float32Array = new Float32Array(0);
function grow(buf: Float32Array, n: number): Float32Array {
  return buf.length >= n ? buf : new Float32Array(Math.max(n, buf.length * 2));
}

/** Rows per dequantised block for a matrix with `cols` columns. */
export function quantRowBlock(rows: number, cols: number): number {
  return Math.max(1, Math.min(rows, Math.floor(SCRATCH_FLOATS / Math.max(1, cols))));
}

/** Rounds f32 values to bf16 (round to nearest even) in place. */
export function roundToBf16InPlace(a: Float32Array, n = a.length): void {
  for (let i = 0; i < n; i++) a[i] = bf16BitsToF32(f32ToBf16Bits(a[i]));
}

export function checkQuantGemm(x: F32, w: QuantMatrix, out: F32, m: number, mode: QuantGemmMode): void {
  const k = mode === "forward" ? w.cols : w.rows, n = mode === "forward" ? w.rows : w.cols;
  if (x.length < m * k || out.length < m * n) {
    throw new ShapeError(`quantMatmul (${mode}): buffers of ${x.length} / ${out.length} values for [${m}, ${k}] × ${w.format}[${w.rows}, ${w.cols}]`);
  }
}

/** out = x·Wᵀ or x·W (see QuantGemmMode) with W dequantised block by block; bf16: operands rounded to bf16. */
export function quantMatmulVia(matmul: Matmul, x: F32, w: QuantMatrix, out: F32, m: number, mode: QuantGemmMode, bf16: boolean): void {
  checkQuantGemm(x, w, out, m, mode);
  const fmt = getQuantFormat(w.format);
  const { rows, cols } = w;
  let xa = x;
  if (bf16) {
    xa = Float32Array.from(x.subarray(0, m * (mode === "forward" ? cols : rows)));
    roundToBf16InPlace(xa);
  }
  if (rows === 0 && mode === "backward") out.fill(0, 0, m * cols);
  const rb = quantRowBlock(rows, cols);
  scratch = grow(scratch, rb * cols);
  tmp = grow(tmp, m * rb);
  const p = (mm: number, n: number, k: number, transB: boolean, accumulate: boolean): MatmulParams =>
    ({ batch: 1, m: mm, n, k, transA: false, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate });
  for (let r0 = 0; r0 < rows; r0 += rb) {
    const r1 = Math.min(rows, r0 + rb), nb = r1 - r0;
    const blk = scratch.subarray(0, nb * cols);
    fmt.dequantizeRows(w, r0, r1, blk);
    if (bf16) roundToBf16InPlace(blk);
    if (mode === "forward") {
      // tmp[m, nb] = x · blkᵀ, then into columns r0..r1 of out
      const t = tmp.subarray(0, m * nb);
      matmul(xa, blk, t, p(m, nb, cols, true, false));
      for (let i = 0; i < m; i++) out.set(t.subarray(i * nb, (i + 1) * nb), i * rows + r0);
    } else {
      // out[m, cols] (+)= x[:, r0..r1] · blk
      const t = tmp.subarray(0, m * nb);
      for (let i = 0; i < m; i++) t.set(xa.subarray(i * rows + r0, i * rows + r1), i * nb);
      matmul(t, blk, out, p(m, cols, nb, false, r0 > 0));
    }
  }
}
