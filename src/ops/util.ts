// Shared helpers for ops: input coercion and broadcasting.
import { Tensor, NestedArray } from "../tensor/tensor.js";
import { ShapeError } from "../tensor/errors.js";

export type TensorLike = Tensor | NestedArray | Float32Array;

/** Tensors pass through; numbers and nested arrays become f32 tensors. */
export function asTensor(x: TensorLike): Tensor {
  return x instanceof Tensor ? x : Tensor.from(x as NestedArray | Float32Array);
}

/** f32 contiguous data of a tensor (bf16/f16 storage is widened). */
export function f32Of(t: Tensor): Float32Array {
  return t.dtype === "f32" ? (t.contiguous().data as Float32Array) : t.f32();
}

export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const nd = Math.max(a.length, b.length);
  const out = new Array<number>(nd);
  for (let i = 0; i < nd; i++) {
    const da = a[a.length - nd + i] ?? 1;
    const db = b[b.length - nd + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes [${a}] and [${b}] cannot be broadcast together (dim ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Element strides of t (a view) when broadcast to `shape` (0 on broadcast dims). */
export function broadcastStrides(t: Tensor, shape: readonly number[]): number[] {
  const nd = shape.length;
  const off = nd - t.ndim;
  const st = new Array<number>(nd).fill(0);
  for (let i = off; i < nd; i++) st[i] = t.shape[i - off] === 1 && shape[i] !== 1 ? 0 : t.strides[i - off];
  return st;
}

export function normDim(op: string, dim: number, ndim: number): number {
  const d = dim < 0 ? dim + ndim : dim;
  if (d < 0 || d >= Math.max(ndim, 1)) throw new ShapeError(`${op}: dim ${dim} is out of range for a ${ndim}-d tensor`);
  return d;
}

export function assertFloat(op: string, t: Tensor): void {
  if (t.dtype !== "f32" && t.dtype !== "bf16" && t.dtype !== "f16") {
    throw new ShapeError(`${op}: expected a float tensor, got dtype ${t.dtype} with shape [${t.shape}]`);
  }
}
