// Reductions: sum, mean, max, variance over one or more dims.
import { Tensor, shapeSize } from "../tensor/tensor.js";
import { record } from "../tensor/autograd.js";
import { getBackend } from "../backend/registry.js";
import { asTensor, f32Of, normDim, TensorLike } from "./util.js";

export interface ReduceOptions {
  keepdim?: boolean;
}

function dimsOf(op: string, t: Tensor, dim?: number | number[]): number[] {
  if (dim === undefined) return [...Array(t.ndim).keys()];
  const ds = (Array.isArray(dim) ? dim : [dim]).map((d) => normDim(op, d, t.ndim));
  return [...new Set(ds)].sort((a, b) => a - b);
}

function keptShape(shape: readonly number[], dims: number[]): number[] {
  return shape.map((d, i) => (dims.includes(i) ? 1 : d));
}

/** Sums over one contiguous-in-layout dim at a time (outer/n/inner view). */
function sumRaw(t: Tensor, dims: number[]): Tensor {
  let cur = new Tensor(f32Of(t), t.shape);
  for (const d of dims) {
    const outer = shapeSize(cur.shape.slice(0, d)), n = cur.shape[d], inner = shapeSize(cur.shape.slice(d + 1));
    const shp = cur.shape.slice();
    shp[d] = 1;
    const out = Tensor.zeros(shp);
    getBackend().sum(cur.data, out.data, outer, n, inner);
    cur = out;
  }
  return cur;
}

export function sum(x: TensorLike, dim?: number | number[], opts: ReduceOptions = {}): Tensor {
  const t = asTensor(x);
  const dims = dimsOf("sum", t, dim);
  const kept = sumRaw(t, dims);
  const outShape = opts.keepdim ? kept.shape : t.shape.filter((_, i) => !dims.includes(i));
  const out = new Tensor(kept.data, outShape);
  const inShape = t.shape;
  return record(out, "sum", [t], (g) => [g.reshape(keptShape(inShape, dims)).expand(inShape).contiguous()]);
}

export function mean(x: TensorLike, dim?: number | number[], opts: ReduceOptions = {}): Tensor {
  const t = asTensor(x);
  const dims = dimsOf("mean", t, dim);
  const inShape = t.shape; // an arrow reading `t` would share the backward closure's context and keep t alive
  const count = dims.reduce((acc, d) => acc * inShape[d], 1);
  const s = sumRaw(t, dims);
  const sd = s.data as Float32Array;
  for (let i = 0; i < sd.length; i++) sd[i] /= count;
  const outShape = opts.keepdim ? s.shape : t.shape.filter((_, i) => !dims.includes(i));
  const out = new Tensor(sd, outShape);
  return record(out, "mean", [t], (g) => {
    const gg = g.reshape(keptShape(inShape, dims)).expand(inShape).contiguous();
    const d = new Float32Array(gg.data as Float32Array);
    for (let i = 0; i < d.length; i++) d[i] /= count;
    return [new Tensor(d, inShape)];
  });
}

/** Max over one dim; returns values (gradient flows to the argmax) and indices. */
export function max(x: TensorLike, dim: number, opts: ReduceOptions = {}): { values: Tensor; indices: Int32Array } {
  const t = asTensor(x);
  const d = normDim("max", dim, t.ndim);
  const outer = shapeSize(t.shape.slice(0, d)), n = t.shape[d], inner = shapeSize(t.shape.slice(d + 1));
  const kept = keptShape(t.shape, [d]);
  const vals = new Float32Array(outer * inner);
  const idx = new Int32Array(outer * inner);
  getBackend().max(f32Of(t), vals, idx, outer, n, inner);
  const out = new Tensor(vals, opts.keepdim ? kept : t.shape.filter((_, i) => i !== d));
  const inShape = t.shape, inSize = t.size;
  const values = record(out, "max", [t], (g) => {
    const gd = f32Of(g);
    const gx = new Float32Array(inSize);
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) gx[o * n * inner + idx[o * inner + i] * inner + i] = gd[o * inner + i];
    return [new Tensor(gx, inShape)];
  });
  return { values, indices: idx };
}

/** Variance over dims (unbiased by default, as torch.var). */
export function variance(x: TensorLike, dim?: number | number[], opts: ReduceOptions & { unbiased?: boolean } = {}): Tensor {
  const t = asTensor(x);
  const dims = dimsOf("var", t, dim);
  const count = dims.reduce((acc, d) => acc * t.shape[d], 1);
  const mu = mean(t, dims, { keepdim: true });
  const { sub, square } = elementwise;
  const sq = square(sub(t, mu));
  const s = sum(sq, dims, opts);
  return elementwise.scale(s, 1 / Math.max(count - (opts.unbiased === false ? 0 : 1), 1));
}

import * as elementwise from "./elementwise.js";
