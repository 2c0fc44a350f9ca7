// y = x·Wᵀ + b with a quantised frozen W (src/quant): the backend's quantMatmul dequantises W inside
// the GEMM for the forward and for the input gradient of the backward; W never gets a gradient.
import { Tensor } from "../tensor/tensor.js";
import { record } from "../tensor/autograd.js";
import { getBackend } from "../backend/registry.js";
import { ShapeError } from "../tensor/errors.js";
import type { QuantMatrix } from "../quant/format.js";
import { asTensor, f32Of, TensorLike } from "./util.js";

export interface QuantLinearOptions {
  /** Compute dtype: "bf16" rounds both GEMM operands to bf16 (f32 accumulation), as bitsandbytes' bnb_4bit_compute_dtype. */
  computeDtype?: "f32" | "bf16";
  /** Name for error messages. */
  name?: string;
}

export function quantLinear(x: TensorLike, w: QuantMatrix, bias: Tensor | null | undefined, opts: QuantLinearOptions = {}): Tensor {
  const tx = asTensor(x);
  const inF = w.cols, outF = w.rows;
  if (tx.shape[tx.ndim - 1] !== inF) {
    throw new ShapeError(`quantLinear: input [${tx.shape}] does not fit the ${w.format} weight [${outF}, ${inF}]${opts.name ? ` ('${opts.name}')` : ""} (expected last dim ${inF})`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF)) throw new ShapeError(`quantLinear: bias [${bias.shape}] does not fit weight [${outF}, ${inF}]`);
  const bf16 = opts.computeDtype === "bf16";
  const rows = tx.size / inF;
  const be = getBackend();
  const out = Tensor.empty([...tx.shape.slice(0, -1), outF]);
  be.quantMatmul(f32Of(tx), w, out.data, rows, "forward", bf16);
  if (bias) be.binary("add", out.data, f32Of(bias), out.data, [rows, outF], [outF, 1], [0, 1]);
  const inputs = bias ? [tx, bias] : [tx];
  const xShape = tx.shape;
  return record(out, "quant_linear", inputs, (g) => {
    const gd = f32Of(g);
    let gx: Tensor | null = null, gb: Tensor | null = null;
    if (tx.requiresGrad) {
      gx = Tensor.empty(xShape);
      be.quantMatmul(gd, w, gx.data, rows, "backward", bf16);
    }
    if (bias && bias.requiresGrad) {
      gb = Tensor.zeros(bias.shape);
      be.sum(gd, gb.data, 1, rows, outF);
    }
    return bias ? [gx, gb] : [gx];
  });
}

/**
 * LoRA on a quantised base in one op: y = x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ with W quantised (dequantised inside
 * the GEMM), A [r, in], B [out, r]: the LoRA product is accumulated into the base GEMM's output (as
 * ops/matmul loraLinear does for f32/bf16 weights), without the unfused form's [rows, out]
 * temporaries. Gradients for x, A, B (and a trainable bias); never for W.
 */
export function quantLoraLinear(x: TensorLike, w: QuantMatrix, bias: Tensor | null | undefined, A: Tensor, B: Tensor, s: number, opts: QuantLinearOptions = {}): Tensor {
  const tx = asTensor(x);
  const inF = w.cols, outF = w.rows, r = A.shape[0];
  if (tx.shape[tx.ndim - 1] !== inF) throw new ShapeError(`quantLoraLinear: input [${tx.shape}] does not fit the ${w.format} weight [${outF}, ${inF}]`);
  if (A.ndim !== 2 || A.shape[1] !== inF || B.ndim !== 2 || B.shape[0] !== outF || B.shape[1] !== r) {
    throw new ShapeError(`quantLoraLinear: lora_A [${A.shape}] / lora_B [${B.shape}] do not fit weight [${outF}, ${inF}]`);
  }
  const bf16 = opts.computeDtype === "bf16";
  const rows = tx.size / inF;
  const be = getBackend();
  const gemm = (a: Float32Array, b: Float32Array, o: Float32Array, m: number, n: number, k: number, transA: boolean, transB: boolean, accumulate: boolean) =>
    be.matmul(a, b, o, { batch: 1, m, n, k, transA, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate });
  const xd = f32Of(tx), ad = f32Of(A), bd = f32Of(B);
  const out = Tensor.empty([...tx.shape.slice(0, -1), outF]);
  be.quantMatmul(xd, w, out.data, rows, "forward", bf16);
  const xa = new Float32Array(rows * r); // s·x·Aᵀ
  gemm(xd, ad, xa, rows, r, inF, false, true, false);
  be.affine(xa, xa, s, 0);
  gemm(xa, bd, out.data, rows, outF, r, false, true, true);
  if (bias) be.binary("add", out.data, f32Of(bias), out.data, [rows, outF], [outF, 1], [0, 1]);
  const inputs = bias ? [tx, A, B, bias] : [tx, A, B];
  const xShape = tx.shape;
  return record(out, "quant_lora_linear", inputs, (g) => {
    const gd = f32Of(g);
    let gx: Tensor | null = null, gA: Tensor | null = null, gB: Tensor | null = null, gb: Tensor | null = null;
    if (B.requiresGrad) {
      gB = Tensor.empty(B.shape);
      gemm(gd, xa, gB.data, outF, r, rows, true, false, false); // gᵀ·(s·xAᵀ)
    }
    const needXa = tx.requiresGrad || A.requiresGrad;
    const gxa = needXa ? new Float32Array(rows * r) : null; // s·g·B
    if (gxa) {
      gemm(gd, bd, gxa, rows, r, outF, false, false, false);
      be.affine(gxa, gxa, s, 0);
    }
    if (A.requiresGrad) {
      gA = Tensor.empty(A.shape);
      gemm(gxa!, xd, gA.data, r, inF, rows, true, false, false);
    }
    if (tx.requiresGrad) {
      gx = Tensor.empty(xShape);
      be.quantMatmul(gd, w, gx.data, rows, "backward", bf16);
      gemm(gxa!, ad, gx.data, rows, inF, r, false, false, true);
    }
    if (bias && bias.requiresGrad) {
      gb = Tensor.zeros(bias.shape);
      be.sum(gd, gb.data, 1, rows, outF);
    }
    return bias ? [gx, gA, gB, gb] : [gx, gA, gB];
  });
}
