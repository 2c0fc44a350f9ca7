// matmul (numpy semantics, broadcast batch dims, transposed views without copies) and linear.
import { Tensor, shapeSize, sumToShape } from "../tensor/tensor.js";
import { allocF32Uninit } from "../tensor/dtype.js";
import { isGradEnabled, record } from "../tensor/autograd.js";
import { getBackend } from "../backend/registry.js";
import type { BiasActOp } from "../backend/backend.js";
import { ShapeError } from "../tensor/errors.js";
import { asTensor, broadcastShapes, f32Of, TensorLike } from "./util.js";
import { gradCapture } from "./grad_capture.js";

interface Operand {
  data: Float32Array;
  trans: boolean;
}

/** A [.., r, c] f32 tensor as a GEMM operand: contiguous as is, or a transposed view (trans=true), else copied. */
function operand(t: Tensor): Operand {
  if (t.dtype === "f32" && t.isContiguous()) return { data: t.data, trans: false };
  if (t.dtype === "f32" && t.ndim >= 2) {
    const tt = new Tensor(t.storage, [...t.shape.slice(0, -2), t.shape[t.ndim - 1], t.shape[t.ndim - 2]], "f32",
      [...t.strides.slice(0, -2), t.strides[t.ndim - 1], t.strides[t.ndim - 2]], t.offset);
    if (tt.isContiguous()) return { data: tt.data, trans: true };
  }
  return { data: f32Of(t), trans: false };
}

/** Raw batched product of a [...Ba, m, k] and b [...Bb, k, n] (both ≥ 2-d), batch dims broadcast. */
function bmm(a: Tensor, b: Tensor): Tensor {
  const m = a.shape[a.ndim - 2], k = a.shape[a.ndim - 1];
  const k2 = b.shape[b.ndim - 2], n = b.shape[b.ndim - 1];
  if (k !== k2) throw new ShapeError(`matmul: inner dimensions differ: [${a.shape}] @ [${b.shape}] (${k} vs ${k2})`);
  const ba = a.shape.slice(0, -2), bb = b.shape.slice(0, -2);
  const batchShape = broadcastShapes("matmul", ba, bb);
  const batch = shapeSize(batchShape);
  let A = a, B = b;
  const na = shapeSize(ba), nb = shapeSize(bb);
  // general broadcasting of several batch dims: materialise the expanded operand
  if (na !== batch && na !== 1) A = a.expand([...batchShape, m, k]).contiguous();
  if (nb !== batch && nb !== 1) B = b.expand([...batchShape, k, n]).contiguous();
  const oa = operand(A), ob = operand(B);
  const out = Tensor.empty([...batchShape, m, n]); // accumulate: false writes every element
  getBackend().matmul(oa.data, ob.data, out.data, {
    batch, m, n, k,
    transA: oa.trans, transB: ob.trans,
    strideA: shapeSize(A.shape.slice(0, -2)) === 1 ? 0 : m * k,
    strideB: shapeSize(B.shape.slice(0, -2)) === 1 ? 0 : k * n,
    strideOut: m * n,
    accumulate: false,
  });
  return out;
}

/** Matrix product with numpy/PyTorch semantics (1-d operands are promoted and the added dim removed). */
export function matmul(a: TensorLike, b: TensorLike): Tensor {
  let ta = asTensor(a), tb = asTensor(b);
  if (ta.ndim === 0 || tb.ndim === 0) throw new ShapeError(`matmul: operands must be at least 1-d, got [${ta.shape}] and [${tb.shape}]`);
  const aVec = ta.ndim === 1, bVec = tb.ndim === 1;
  if (aVec) ta = ta.unsqueeze(0);
  if (bVec) tb = tb.unsqueeze(1);
  const A = ta, B = tb;
  let out = bmm(A, B);
  // each operand is kept only when the other one needs a gradient
  const sa = A.shape, sb = B.shape;
  const keepB = A.requiresGrad ? B.detach() : null, keepA = B.requiresGrad ? A.detach() : null;
  out = record(out, "matmul", [A, B], (g) => [
    keepB ? sumToShape(bmm(g, keepB.transpose(-2, -1)), sa) : null,
    keepA ? sumToShape(bmm(keepA.transpose(-2, -1), g), sb) : null,
  ]);
  if (aVec) out = out.squeeze(-2);
  if (bVec) out = out.squeeze(-1);
  return out;
}

/** Options of linear and loraLinear. */
export interface LinearOptions {
  /**
   * Activation applied in the same pass as the bias add, right after the GEMM: y = act(x·Wᵀ + b),
   * the same values as the unfused act(linear(x, W, b)) up to rounding. Its backward computes act'
   * and the bias gradient in one pass too.
   */
  act?: BiasActOp;
  /** The weight is stored [in, out] (GPT-2's Conv1D) rather than nn.Linear's [out, in]. */
  weightInOut?: boolean;
}

/** [inFeatures, outFeatures] of a linear weight in the given layout. */
function linearDims(weight: Tensor, inOut: boolean): [number, number] {
  return inOut ? [weight.shape[0], weight.shape[1]] : [weight.shape[1], weight.shape[0]];
}

/**
 * Backward through the fused output stage of linear/loraLinear: with an activation, the gradient of the
 * pre-activation z (and the bias gradient, in the same pass); without one, g itself (bias grad = column sums).
 */
function outputGrads(g: Float32Array, z: Float32Array | null, bias: Tensor | null | undefined, act: BiasActOp | undefined, rows: number, outF: number): { gd: Float32Array; gb: Tensor | null } {
  const be = getBackend();
  const gb = bias && bias.requiresGrad ? Tensor.zeros(bias.shape) : null;
  if (act && z) {
    const gz = allocF32Uninit(rows * outF);
    be.biasActBackward(act, z, g, gz, gb ? gb.data : null, rows, outF);
    return { gd: gz, gb };
  }
  if (gb) be.sum(g, gb.data, 1, rows, outF);
  return { gd: g, gb };
}

/**
 * y = x · Wᵀ + b with W [out, in] (PyTorch nn.Linear layout; [in, out] with opts.weightInOut), x [..., in],
 * or act(x · Wᵀ + b) with opts.act (bias add and activation in one pass after the GEMM).
 * W may be stored in bf16 (frozen weights): then the GEMM reads bf16 directly with f32 accumulation.
 * No gradient buffer is computed for a W or b that does not require grad.
 */
export function linear(x: TensorLike, weight: Tensor, bias?: Tensor | null, opts: LinearOptions = {}): Tensor {
  const tx = asTensor(x);
  const inOut = opts.weightInOut === true, act = opts.act;
  const [inF, outF] = linearDims(weight, inOut);
  if (weight.ndim !== 2 || tx.shape[tx.ndim - 1] !== inF) {
    throw new ShapeError(`linear: input [${tx.shape}] does not fit weight [${weight.shape}]${weight.name ? ` ('${weight.name}')` : ""} (expected last dim ${inF})`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF)) {
    throw new ShapeError(`linear: bias [${bias.shape}] does not fit weight [${weight.shape}]`);
  }
  const rows = tx.size / inF;
  const xd = f32Of(tx);
  const out = Tensor.empty([...tx.shape.slice(0, -1), outF]);
  const be = getBackend();
  // products with W (read as bf16 directly when stored so): x·W (forward) and g·Wᵀ (input gradient)
  const wmm = (a: Float32Array, o: Float32Array, m: number, n: number, k: number, transB: boolean) => {
    const p = { batch: 1, m, n, k, transA: false, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate: false };
    if (weight.dtype === "bf16") be.matmulBf16(a, weight.contiguous().data, o, p);
    else be.matmul(a, f32Of(weight), o, p);
  };
  wmm(xd, out.data, rows, outF, inF, !inOut);
  const inputs = bias ? [tx, weight, bias] : [tx, weight];
  const needsGrad = isGradEnabled() && inputs.some((t) => t.requiresGrad);
  let y = out;
  const z = out.data as Float32Array;
  if (act) {
    // z = x·Wᵀ + b stays in `out` for the backward; without one the activation overwrites it
    y = needsGrad ? Tensor.empty(out.shape) : out;
    be.biasAct(act, z, bias ? f32Of(bias) : null, y.data, rows, outF);
  } else if (bias) {
    be.binary("add", z, f32Of(bias), z, [rows, outF], [outF, 1], [0, 1]);
  }
  // saved for the backward only what it reads: x for a weight gradient, z for an activation's derivative
  const xShape = tx.shape, rx = tx.requiresGrad;
  const xSaved = weight.requiresGrad ? xd : null, zSaved = act ? z : null;
  return record(y, act ? `linear_${act}` : "linear", inputs, (g) => {
    let gd = f32Of(g);
    let gx: Tensor | null = null, gw: Tensor | null = null, gb: Tensor | null = null;
    ({ gd, gb } = outputGrads(gd, zSaved, bias, act, rows, outF));
    if (rx) {
      gx = Tensor.empty(xShape);
      wmm(gd, gx.data, rows, inF, outF, inOut);
    }
    const cap = gradCapture();
    if (cap && gb && cap.linearBias(bias!, gd, rows, outF)) gb = null;
    if (xSaved && cap?.linearWeight(weight, xSaved, gd, rows, inF, outF, inOut)) {
      // taken by the capture (DP ghost clipping)
    } else if (xSaved) {
      gw = Tensor.empty(weight.shape);
      const p = { batch: 1, strideA: 0, strideB: 0, strideOut: 0, accumulate: false, transA: true, transB: false };
      if (inOut) be.matmul(xSaved, gd, gw.data, { ...p, m: inF, n: outF, k: rows });
      else be.matmul(gd, xSaved, gw.data, { ...p, m: outF, n: inF, k: rows });
    }
    return [gx, gw, gb];
  });
}

/**
 * Fused LoRA linear: y = x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ with W [out, in] (f32 or bf16), A [r, in], B [out, r].
 * The same value as add(linear(x, W, b), scale(linear(linear(x, A), B), s)) up to rounding (s scales
 * the small [rows, r] intermediate and the LoRA product is accumulated into the base GEMM's output),
 * without that form's [rows, out] temporaries and branch sums; gradients are computed only for the
 * inputs that require them (a frozen W never gets a weight gradient). opts as for linear: W stored
 * [in, out] (GPT-2 Conv1D), and an activation fused with the bias add after the LoRA product.
 */
export function loraLinear(
  x: TensorLike, weight: Tensor, bias: Tensor | null | undefined, A: Tensor, B: Tensor, s: number, opts: LinearOptions = {},
): Tensor {
  const tx = asTensor(x);
  const inOut = opts.weightInOut === true, act = opts.act;
  const [inF, outF] = linearDims(weight, inOut);
  const r = A.shape[0];
  if (weight.ndim !== 2 || tx.shape[tx.ndim - 1] !== inF) {
    throw new ShapeError(`loraLinear: input [${tx.shape}] does not fit weight [${weight.shape}]${weight.name ? ` ('${weight.name}')` : ""} (expected last dim ${inF})`);
  }
  if (A.ndim !== 2 || A.shape[1] !== inF || B.ndim !== 2 || B.shape[0] !== outF || B.shape[1] !== r) {
    throw new ShapeError(`loraLinear: lora_A [${A.shape}] / lora_B [${B.shape}] do not fit weight [${weight.shape}]`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF)) {
    throw new ShapeError(`loraLinear: bias [${bias.shape}] does not fit weight [${weight.shape}]`);
  }
  const rows = tx.size / inF;
  const be = getBackend();
  const gemm = (a: Float32Array, b: Float32Array, o: Float32Array, m: number, n: number, k: number, transA: boolean, transB: boolean, accumulate: boolean) =>
    be.matmul(a, b, o, { batch: 1, m, n, k, transA, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate });
  // products with W (read as bf16 directly when stored so): x·W (forward) and g·Wᵀ (input gradient)
  const wmm = (a: Float32Array, o: Float32Array, m: number, n: number, k: number, transB: boolean) => {
    const p = { batch: 1, m, n, k, transA: false, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate: false };
    if (weight.dtype === "bf16") be.matmulBf16(a, weight.contiguous().data, o, p);
    else be.matmul(a, f32Of(weight), o, p);
  };
  const xd = f32Of(tx), ad = f32Of(A), bd = f32Of(B);
  const out = Tensor.empty([...tx.shape.slice(0, -1), outF]);
  const o = out.data as Float32Array;
  wmm(xd, o, rows, outF, inF, !inOut);
  // without an activation the bias goes in before the LoRA product (the unfused order); with one it
  // is added in the activation pass after it
  if (bias && !act) be.binary("add", o, f32Of(bias), o, [rows, outF], [outF, 1], [0, 1]);
  // t = s·(x·Aᵀ) [rows, r]; out += t·Bᵀ
  const t = allocF32Uninit(rows * r);
  gemm(xd, ad, t, rows, r, inF, false, true, false);
  be.affine(t, t, s, 0);
  gemm(t, bd, o, rows, outF, r, false, true, true);
  const inputs = bias ? [tx, weight, A, B, bias] : [tx, weight, A, B];
  let y = out;
  if (act) {
    // z (pre-activation) stays in `out` for the backward; without one the activation overwrites it
    y = isGradEnabled() && inputs.some((v) => v.requiresGrad) ? Tensor.empty(out.shape) : out;
    be.biasAct(act, o, bias ? f32Of(bias) : null, y.data, rows, outF);
  }
  // saved for the backward only what it reads (x for A's or W's gradient, z for an activation, t for B's)
  const xShape = tx.shape, rx = tx.requiresGrad, rA = A.requiresGrad;
  const xSaved = rA || weight.requiresGrad ? xd : null, zSaved = act ? o : null, tSaved = B.requiresGrad ? t : null;
  return record(y, act ? `loraLinear_${act}` : "loraLinear", inputs, (g) => {
    let gd = f32Of(g);
    let gx: Tensor | null = null, gw: Tensor | null = null, ga: Tensor | null = null, gB: Tensor | null = null, gb: Tensor | null = null;
    ({ gd, gb } = outputGrads(gd, zSaved, bias, act, rows, outF));
    const cap = gradCapture();
    if (cap && gb && cap.linearBias(bias!, gd, rows, outF)) gb = null;
    if (rx || rA) {
      // gu = s·(g·B) [rows, r]: the gradient of x·Aᵀ
      const gu = allocF32Uninit(rows * r);
      gemm(gd, bd, gu, rows, r, outF, false, false, false);
      be.affine(gu, gu, s, 0);
      if (rx) {
        gx = Tensor.empty(xShape);
        wmm(gd, gx.data, rows, inF, outF, inOut);
        gemm(gu, ad, gx.data, rows, inF, r, false, false, true);
      }
      if (rA && !cap?.linearWeight(A, xSaved!, gu, rows, inF, r, false)) {
        ga = Tensor.zeros(A.shape);
        gemm(gu, xSaved!, ga.data, r, inF, rows, true, false, false);
      }
    }
    if (tSaved && !cap?.linearWeight(B, tSaved, gd, rows, r, outF, false)) {
      gB = Tensor.zeros(B.shape);
      gemm(gd, tSaved, gB.data, outF, r, rows, true, false, false);
    }
    if (weight.requiresGrad && xSaved && !cap?.linearWeight(weight, xSaved, gd, rows, inF, outF, inOut)) {
      gw = Tensor.zeros(weight.shape);
      if (inOut) gemm(xSaved, gd, gw.data, inF, outF, rows, true, false, false);
      else gemm(gd, xSaved, gw.data, outF, inF, rows, true, false, false);
    }
    return bias ? [gx, gw, ga, gB, gb] : [gx, gw, ga, gB];
  });
}
