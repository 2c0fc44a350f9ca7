// Elementwise ops: broadcasting binary arithmetic and unary math, each with its gradient.
import { Tensor, sumToShape } from "../tensor/tensor.js";
import { record } from "../tensor/autograd.js";
import { getBackend } from "../backend/registry.js";
import type { BiasActOp, BinaryOp, UnaryOp } from "../backend/backend.js";
import { asTensor, assertFloat, broadcastShapes, broadcastStrides, f32Of, TensorLike } from "./util.js";
import { ShapeError } from "../tensor/errors.js";

/** The activations with a fused bias kernel; layers above ops take the type from here, not from the backend. */
export type { BiasActOp };

function rawBinary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  assertFloat(op, a);
  assertFloat(op, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = Tensor.empty(shape);
  // operate on the storage directly with view strides (no copy for broadcasts/transposes)
  const aa = a.dtype === "f32" ? a : new Tensor(a.f32(), a.shape);
  const bb = b.dtype === "f32" ? b : new Tensor(b.f32(), b.shape);
  const aStorage = (aa.storage as Float32Array).subarray(aa.offset);
  const bStorage = (bb.storage as Float32Array).subarray(bb.offset);
  getBackend().binary(op, aStorage, bStorage, out.data, shape, broadcastStrides(aa, shape), broadcastStrides(bb, shape));
  return out;
}

export function add(a: TensorLike, b: TensorLike): Tensor {
  const ta = asTensor(a), tb = asTensor(b);
  const out = rawBinary("add", ta, tb);
  // the backward reads only the shapes (closures never capture input tensors: see tensor/autograd)
  const sa = ta.shape, sb = tb.shape, ra = ta.requiresGrad, rb = tb.requiresGrad;
  return record(out, "add", [ta, tb], (g) => [ra ? sumToShape(g, sa) : null, rb ? sumToShape(g, sb) : null]);
}

export function sub(a: TensorLike, b: TensorLike): Tensor {
  const ta = asTensor(a), tb = asTensor(b);
  const out = rawBinary("sub", ta, tb);
  const sa = ta.shape, sb = tb.shape, ra = ta.requiresGrad, rb = tb.requiresGrad;
  return record(out, "sub", [ta, tb], (g) => [ra ? sumToShape(g, sa) : null, rb ? sumToShape(neg(g), sb) : null]);
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  const ta = asTensor(a), tb = asTensor(b);
  const out = rawBinary("mul", ta, tb);
  // each factor is kept only when the other one needs a gradient
  const sa = ta.shape, sb = tb.shape;
  const keepB = ta.requiresGrad ? tb : null, keepA = tb.requiresGrad ? ta : null;
  return record(out, "mul", [ta, tb], (g) => [
    keepB ? sumToShape(rawBinary("mul", g, keepB), sa) : null,
    keepA ? sumToShape(rawBinary("mul", g, keepA), sb) : null,
  ]);
}

export function div(a: TensorLike, b: TensorLike): Tensor {
  const ta = asTensor(a), tb = asTensor(b);
  const out = rawBinary("div", ta, tb);
  const sa = ta.shape, ra = ta.requiresGrad, rb = tb.requiresGrad;
  const keepOut = rb ? out : null;
  return record(out, "div", [ta, tb], (g) => [
    ra ? sumToShape(rawBinary("div", g, tb), sa) : null,
    // d(a/b)/db = -a/b² = -out/b
    keepOut ? sumToShape(neg(rawBinary("div", rawBinary("mul", g, keepOut), tb)), tb.shape) : null,
  ]);
}

/** a ** b (b a number or tensor). */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  const ta = asTensor(a), tb = asTensor(b);
  const out = rawBinary("pow", ta, tb);
  const ra = ta.requiresGrad, rb = tb.requiresGrad;
  return record(out, "pow", [ta, tb], (g) => [
    // b · a^(b−1)
    ra ? sumToShape(rawBinary("mul", g, rawBinary("mul", tb, rawBinary("pow", ta, rawBinary("sub", tb, Tensor.scalar(1))))), ta.shape) : null,
    // a^b · ln a
    rb ? sumToShape(rawBinary("mul", g, rawBinary("mul", out, unaryRaw("log", ta))), tb.shape) : null,
  ]);
}

/** Elementwise max / min; the gradient goes to the selected input (to a on ties). */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return minmax("max", a, b);
}
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return minmax("min", a, b);
}
function minmax(op: "max" | "min", a: TensorLike, b: TensorLike): Tensor {
  const ta = asTensor(a), tb = asTensor(b);
  const out = rawBinary(op, ta, tb);
  const sb = tb.shape;
  return record(out, op === "max" ? "maximum" : "minimum", [ta, tb], (g) => {
    const A = rawBinary("add", ta, Tensor.zeros(out.shape)).data as Float32Array;
    const o = out.data as Float32Array;
    const gd = g.contiguous().data as Float32Array;
    const ga = new Float32Array(o.length), gb = new Float32Array(o.length);
    for (let i = 0; i < o.length; i++) {
      if (A[i] === o[i]) ga[i] = gd[i];
      else gb[i] = gd[i];
    }
    return [sumToShape(new Tensor(ga, out.shape), ta.shape), sumToShape(new Tensor(gb, out.shape), sb)];
  });
}

function unaryRaw(op: UnaryOp, x: Tensor, alpha = 0): Tensor {
  assertFloat(op, x);
  const xd = f32Of(x);
  const out = Tensor.empty(x.shape);
  getBackend().unary(op, xd, out.data, alpha);
  return out;
}

function unaryOp(op: UnaryOp, x: TensorLike): Tensor {
  const t = asTensor(x);
  const xd = f32Of(t);
  const out = unaryRaw(op, t);
  return record(out, op, [t], (g) => {
    const gx = Tensor.empty(out.shape);
    getBackend().unaryBackward(op, xd, out.data, f32Of(g), gx.data, 0);
    return [gx];
  });
}

export const neg = (x: TensorLike) => unaryOp("neg", x);
export const exp = (x: TensorLike) => unaryOp("exp", x);
export const log = (x: TensorLike) => unaryOp("log", x);
export const sqrt = (x: TensorLike) => unaryOp("sqrt", x);
export const rsqrt = (x: TensorLike) => unaryOp("rsqrt", x);
export const abs = (x: TensorLike) => unaryOp("abs", x);
export const tanh = (x: TensorLike) => unaryOp("tanh", x);
export const sigmoid = (x: TensorLike) => unaryOp("sigmoid", x);
export const relu = (x: TensorLike) => unaryOp("relu", x);
export const silu = (x: TensorLike) => unaryOp("silu", x);
export const square = (x: TensorLike) => unaryOp("square", x);
export const reciprocal = (x: TensorLike) => unaryOp("reciprocal", x);
/** GELU: "none" = exact erf form (BERT "gelu"), "tanh" = tanh approximation (GPT-2 "gelu_new"). */
export const gelu = (x: TensorLike, approximate: "none" | "tanh" = "none") => unaryOp(approximate === "tanh" ? "gelu_tanh" : "gelu", x);

/** An activation with a fused bias kernel, applied on its own (the unfused form of linear's opts.act). */
export function activate(x: TensorLike, act: BiasActOp): Tensor {
  return unaryOp(act, x);
}

/**
 * act(x + bias) in one pass, bias [cols] broadcast over the rows of x [..., cols] (or null: act(x)).
 * The same values as activate(add(x, bias), act); the backward computes act' and the bias gradient
 * in one pass too.
 */
export function biasAct(x: TensorLike, bias: Tensor | null, act: BiasActOp): Tensor {
  const t = asTensor(x);
  assertFloat(act, t);
  const cols = t.ndim === 0 ? 1 : t.shape[t.ndim - 1];
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== cols)) {
    throw new ShapeError(`biasAct: bias [${bias.shape}] does not fit input [${t.shape}] (expected [${cols}])`);
  }
  const rows = cols === 0 ? 0 : t.size / cols;
  const z = Float32Array.from(f32Of(t)); // the kernel writes x + bias into its input
  const out = Tensor.empty(t.shape);
  const be = getBackend();
  be.biasAct(act, z, bias ? f32Of(bias) : null, out.data, rows, cols);
  const hasBias = bias !== null, rx = t.requiresGrad, rbias = bias !== null && bias.requiresGrad;
  return record(out, `bias_${act}`, bias ? [t, bias] : [t], (g) => {
    const gx = Tensor.empty(out.shape);
    const gb = rbias ? Tensor.zeros([cols]) : null;
    be.biasActBackward(act, z, f32Of(g), gx.data, gb ? gb.data : null, rows, cols);
    return hasBias ? [rx ? gx : null, gb] : [gx];
  });
}

/** x·alpha + beta without broadcasting machinery (scalar affine). */
export function affine(x: TensorLike, alpha: number, beta = 0): Tensor {
  const t = asTensor(x);
  assertFloat("affine", t);
  const out = Tensor.zeros(t.shape);
  getBackend().affine(f32Of(t), out.data, alpha, beta);
  return record(out, "affine", [t], (g) => {
    const gx = Tensor.empty(out.shape);
    getBackend().affine(f32Of(g), gx.data, alpha, 0);
    return [gx];
  });
}
export const scale = (x: TensorLike, alpha: number) => affine(x, alpha, 0);
