// Shape ops: concat/split/stack, where/maskedFill.
import { Tensor, contiguousStrides, sameShape, shapeSize, stridedCopy, sumToShape } from "../tensor/tensor.js";
import { record } from "../tensor/autograd.js";
import { allocStorage } from "../tensor/dtype.js";
import { ShapeError } from "../tensor/errors.js";
import { asTensor, broadcastShapes, normDim, TensorLike } from "./util.js";

/**
 * Concatenation along dim. Works for any dtype shared by all inputs (ids and masks are
 * concatenated too, e.g. for prompt tuning); gradients flow to f32 inputs.
 */
export function cat(tensors: Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new ShapeError("cat: expected at least one tensor");
  const first = tensors[0];
  if (first.ndim === 0) throw new ShapeError("cat: zero-dimensional tensors cannot be concatenated (use stack)");
  const d = normDim("cat", dim, first.ndim);
  const firstShape = first.shape; // (an arrow reading `first` would keep it alive through the backward closure)
  const dtype = first.dtype;
  let total = 0;
  for (const t of tensors) {
    const ok = t.ndim === first.ndim && t.shape.every((s, i) => i === d || s === firstShape[i]);
    if (!ok) throw new ShapeError(`cat: shapes [${tensors.map((x) => `[${x.shape}]`).join(", ")}] differ outside dim ${dim}`);
    if (t.dtype !== dtype) throw new ShapeError(`cat: dtypes differ (${tensors.map((x) => x.dtype).join(", ")}); convert with .to() first`);
    total += t.shape[d];
  }
  const shape = first.shape.slice();
  shape[d] = total;
  const storage = allocStorage(dtype, shapeSize(shape));
  const ostr = contiguousStrides(shape);
  let pos = 0;
  for (const t of tensors) {
    stridedCopy(t.storage, t.offset, t.strides, storage, pos * ostr[d], ostr, t.shape);
    pos += t.shape[d];
  }
  const out = new Tensor(storage, shape, dtype);
  const lens = tensors.map((t) => t.shape[d]), req = tensors.map((t) => t.requiresGrad);
  return record(out, "cat", tensors, (g) => {
    let start = 0;
    return lens.map((len, i) => {
      const gi = req[i] ? g.slice(d, start, start + len).contiguous() : null;
      start += len;
      return gi;
    });
  });
}

/** Splits into chunks of `sizes` (an array of sizes, or one size for equal chunks, the last maybe smaller) along dim; views. */
export function split(x: Tensor, sizes: number | number[], dim = 0): Tensor[] {
  const d = normDim("split", dim, x.ndim);
  const n = x.shape[d];
  let parts: number[];
  if (typeof sizes === "number") {
    if (!(Number.isInteger(sizes) && sizes > 0)) throw new ShapeError(`split: chunk size must be a positive integer, got ${sizes}`);
    parts = [];
    for (let s = 0; s < n; s += sizes) parts.push(Math.min(sizes, n - s));
    if (n === 0) parts.push(0);
  } else {
    parts = sizes.slice();
    const sum = parts.reduce((a, b) => a + b, 0);
    if (sum !== n || parts.some((p) => !Number.isInteger(p) || p < 0)) {
      throw new ShapeError(`split: sizes [${sizes}] do not add up to dim ${dim} of shape [${x.shape}] (${n})`);
    }
  }
  let start = 0;
  return parts.map((p) => {
    const t = x.slice(d, start, start + p);
    start += p;
    return t;
  });
}

export function stack(tensors: Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new ShapeError("stack: expected at least one tensor");
  const first = tensors[0];
  for (const t of tensors) {
    if (!sameShape(t.shape, first.shape)) throw new ShapeError(`stack: all tensors must have the same shape, got ${tensors.map((x) => `[${x.shape}]`).join(", ")}`);
  }
  const nd = first.ndim + 1;
  const d = dim < 0 ? dim + nd : dim;
  if (d < 0 || d >= nd) throw new ShapeError(`stack: dim ${dim} is out of range for ${first.ndim}-d inputs`);
  return cat(tensors.map((t) => t.unsqueeze(d)), d);
}

/** Values of t broadcast to shape, as a contiguous f32 array (no gradient recorded). */
function expandedF32(t: Tensor, shape: number[]): Float32Array {
  return t.detach().expand(shape).f32();
}

/** cond ? a : b elementwise with broadcasting; cond is a tensor/array of 0/1 (non-zero = true). */
export function where(cond: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  const tc = asTensor(cond), ta = asTensor(a), tb = asTensor(b);
  const shape = broadcastShapes("where", broadcastShapes("where", tc.shape, ta.shape), tb.shape);
  const c = expandedF32(tc, shape), av = expandedF32(ta, shape), bv = expandedF32(tb, shape);
  const n = c.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = c[i] !== 0 ? av[i] : bv[i];
  const sa = ta.shape, sb = tb.shape;
  return record(new Tensor(out, shape), "where", [ta, tb], (g) => {
    const gd = g.f32();
    const ga = new Float32Array(n), gb = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (c[i] !== 0) ga[i] = gd[i];
      else gb[i] = gd[i];
    }
    return [sumToShape(new Tensor(ga, shape), sa), sumToShape(new Tensor(gb, shape), sb)];
  });
}

/** x with `value` where mask is non-zero (mask broadcasts to x). */
export function maskedFill(x: TensorLike, mask: TensorLike, value: number): Tensor {
  const tx = asTensor(x), tm = asTensor(mask);
  const shape = broadcastShapes("maskedFill", tx.shape, tm.shape);
  if (!sameShape(shape, tx.shape)) {
    throw new ShapeError(`maskedFill: mask [${tm.shape}] does not broadcast to input [${tx.shape}]`);
  }
  const m = expandedF32(tm, shape), xv = tx.f32();
  const n = xv.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = m[i] !== 0 ? value : xv[i];
  return record(new Tensor(out, shape), "maskedFill", [tx], (g) => {
    const gd = g.f32();
    const gx = new Float32Array(n);
    for (let i = 0; i < n; i++) gx[i] = m[i] !== 0 ? 0 : gd[i];
    return [new Tensor(gx, shape)];
  });
}
