// Tensor: a typed storage with shape, strides and offset (views share storage).
// View ops (reshape, transpose, permute, slice, expand, …) live here because they only move
// indices; every computing op lives in src/ops and dispatches to the active backend.
// Shape arithmetic lives in shape.ts, nested-array input in nested.ts, sumToShape in sum_to_shape.ts.

import { allocF32Uninit, allocStorage, bf16ArrayToF32, DType, f16ArrayToF32, f32ArrayToBf16, f32ArrayToF16, Storage } from "./dtype.js";
import { record, runBackward, BackwardOptions } from "./autograd.js";
import type { GradNode } from "./autograd.js";
import { ShapeError } from "./errors.js";
import { getBackend } from "../backend/registry.js";
import { contiguousStrides, sameShape, shapeSize, stridedCopy } from "./shape.js";
import { flattenInto, inferShape, NestedArray } from "./nested.js";
import { sumToShape } from "./sum_to_shape.js";

export { contiguousStrides, sameShape, shapeSize, stridedCopy } from "./shape.js";
export type { NestedArray } from "./nested.js";
export { sumToShape } from "./sum_to_shape.js";

const ONE = Float32Array.of(1);

export class Tensor {
  storage: Storage;
  readonly dtype: DType;
  readonly shape: number[];
  readonly strides: number[];
  readonly offset: number;
  requiresGrad = false;
  grad: Tensor | null = null;
  gradFn: GradNode | null = null;
  /** Optional human name (parameter name), used in error messages. */
  name?: string;

  constructor(storage: Storage, shape: readonly number[], dtype: DType = "f32", strides?: readonly number[], offset = 0) {
    this.storage = storage;
    this.dtype = dtype;
    this.shape = shape.slice();
    this.strides = strides ? strides.slice() : contiguousStrides(shape);
    this.offset = offset;
    if (!strides && offset + shapeSize(shape) > storage.length) {
      throw new ShapeError(`Tensor: storage of ${storage.length} elements is too small for shape [${shape}]`);
    }
  }

  // ---------------------------------------------------------------- factories
  /**
   * An f32 tensor with unspecified contents (not zeroed), for op outputs that a kernel writes in full
   * before anything reads them. Never hand one out unwritten.
   */
  static empty(shape: readonly number[]): Tensor {
    return new Tensor(allocF32Uninit(shapeSize(shape)), shape, "f32");
  }
  static zeros(shape: readonly number[], dtype: DType = "f32"): Tensor {
    return new Tensor(allocStorage(dtype, shapeSize(shape)), shape, dtype);
  }
  static ones(shape: readonly number[]): Tensor {
    return Tensor.full(shape, 1);
  }
  static full(shape: readonly number[], value: number): Tensor {
    const s = new Float32Array(shapeSize(shape));
    s.fill(value);
    return new Tensor(s, shape, "f32");
  }
  static scalar(value: number): Tensor {
    return new Tensor(Float32Array.of(value), [], "f32");
  }
  /** From a nested array, a flat typed array + shape, or a number. */
  static from(data: NestedArray | Float32Array | Int32Array, shape?: readonly number[], dtype?: DType): Tensor {
    if (data instanceof Float32Array) return new Tensor(data, shape ?? [data.length], dtype ?? "f32");
    if (data instanceof Int32Array) return new Tensor(data, shape ?? [data.length], dtype ?? "i32");
    const shp = shape ? shape.slice() : inferShape(data);
    const flat: number[] = [];
    if (typeof data === "number") flat.push(data);
    else flattenInto(data, shp, 0, flat);
    if (flat.length !== shapeSize(shp)) throw new ShapeError(`tensor(): ${flat.length} values do not fill shape [${shp}]`);
    const dt = dtype ?? "f32";
    if (dt === "f32") return new Tensor(Float32Array.from(flat), shp, "f32");
    if (dt === "i32") return new Tensor(Int32Array.from(flat), shp, "i32");
    if (dt === "i64") return new Tensor(BigInt64Array.from(flat.map((x) => BigInt(Math.trunc(x)))), shp, "i64");
    return new Tensor(Float32Array.from(flat), shp, "f32").to(dt);
  }

  // ---------------------------------------------------------------- basics
  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return shapeSize(this.shape);
  }
  isContiguous(): boolean {
    let acc = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== acc) return false;
      acc *= this.shape[i];
    }
    return true;
  }
  /** The elements in row-major order as the tensor's own typed array (a view when contiguous). */
  get data(): any {
    if (this.isContiguous()) return (this.storage as any).subarray(this.offset, this.offset + this.size);
    if (this.dtype === "f32") {
      const be = getBackend();
      if (be.name === "native" && this.size > 0) {
        // the native strided kernel: out = x·1 over the view's strides (exact, keeps −0 and NaN)
        const out = allocF32Uninit(this.size); // written in full
        be.binary("mul", (this.storage as Float32Array).subarray(this.offset), ONE, out, this.shape, this.strides, new Array<number>(this.ndim).fill(0));
        return out;
      }
    }
    const out = allocStorage(this.dtype, this.size);
    stridedCopy(this.storage, this.offset, this.strides, out, 0, contiguousStrides(this.shape), this.shape);
    return out;
  }
  /** Row-major values as a Float32Array (converted from bf16/f16/int; a view for contiguous f32). */
  f32(): Float32Array {
    const d = this.data;
    switch (this.dtype) {
      case "f32": return d;
      case "bf16": return bf16ArrayToF32(d);
      case "f16": return f16ArrayToF32(d);
      case "i64": return Float32Array.from(d as BigInt64Array, (x) => Number(x));
      default: return Float32Array.from(d as ArrayLike<number>);
    }
  }
  /** Row-major values as an Int32Array (for index tensors). */
  i32(): Int32Array {
    const d = this.data;
    if (this.dtype === "i32") return d;
    if (this.dtype === "i64") return Int32Array.from(d as BigInt64Array, (x) => Number(x));
    return Int32Array.from(this.f32());
  }
  /** Nested number arrays (a number for a 0-d tensor). */
  toArray(): NestedArray {
    const flat = this.dtype === "i32" || this.dtype === "u8" || this.dtype === "bool" ? this.data : this.f32();
    if (this.shape.length === 0) return Number(flat[0]);
    const build = (dim: number, off: number): NestedArray => {
      const n = this.shape[dim];
      if (dim === this.shape.length - 1) return Array.from(flat.subarray(off, off + n) as ArrayLike<number>, Number);
      const stride = shapeSize(this.shape.slice(dim + 1));
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) out.push(build(dim + 1, off + i * stride));
      return out;
    };
    return build(0, 0);
  }
  item(): number {
    if (this.size !== 1) throw new ShapeError(`item(): tensor of shape [${this.shape}] has ${this.size} elements, expected 1`);
    return this.f32()[0];
  }
  /** Converts the storage dtype (no gradient through dtype changes). */
  to(dtype: DType): Tensor {
    if (dtype === this.dtype) return this;
    const src = this.f32();
    let out: Storage;
    switch (dtype) {
      case "f32": out = src; break;
      case "bf16": out = f32ArrayToBf16(src); break;
      case "f16": out = f32ArrayToF16(src); break;
      case "i32": out = Int32Array.from(src, Math.trunc); break;
      case "i64": out = BigInt64Array.from(src, (x) => BigInt(Math.trunc(x))); break;
      default: out = Uint8Array.from(src); break;
    }
    return new Tensor(out, this.shape, dtype);
  }
  toString(): string {
    return `Tensor(shape=[${this.shape}], dtype=${this.dtype}${this.requiresGrad ? ", requiresGrad" : ""})`;
  }

  // ---------------------------------------------------------------- autograd
  /** Marks a leaf as trainable. */
  requiresGrad_(flag = true): this {
    if (this.gradFn) throw new ShapeError("requiresGrad_() is only for leaf tensors; use detach() first");
    if (flag && this.dtype !== "f32") throw new ShapeError(`requiresGrad_(): only f32 tensors can require grad (got ${this.dtype}${this.name ? ` for '${this.name}'` : ""})`);
    this.requiresGrad = flag;
    return this;
  }
  detach(): Tensor {
    return new Tensor(this.storage, this.shape, this.dtype, this.strides, this.offset);
  }
  backward(grad?: Tensor, opts?: BackwardOptions): void {
    if (!this.requiresGrad) throw new ShapeError("backward(): tensor does not require grad (no trainable input reached it)");
    if (!grad) {
      if (this.size !== 1) throw new ShapeError(`backward(): a gradient is needed for a non-scalar output of shape [${this.shape}]`);
      grad = Tensor.full(this.shape, 1);
    }
    runBackward(this, grad, opts);
  }
  /** Adds g into this leaf's .grad (keeping an existing buffer, e.g. a view of a flat gradient buffer). */
  accumulateGrad(g: Tensor): void {
    const src = g.data as Float32Array;
    if (!this.grad) {
      this.grad = new Tensor(Float32Array.from(src), this.shape, "f32");
      return;
    }
    const dst = (this.grad.storage as Float32Array).subarray(this.grad.offset, this.grad.offset + src.length);
    getBackend().binary("add", dst, src, dst, [src.length], [1], [1]);
  }
  /** Out-of-place sum used for gradient accumulation between graph branches. */
  addInto(g: Tensor): Tensor {
    const a = this.data as Float32Array, b = g.data as Float32Array;
    const out = new Float32Array(a.length);
    getBackend().binary("add", a, b, out, [a.length], [1], [1]);
    return new Tensor(out, this.shape, "f32");
  }
  /** In-place this += g (this must be a contiguous f32 buffer nobody else references). */
  addInPlace(g: Tensor): this {
    const a = this.data as Float32Array, b = g.data as Float32Array;
    getBackend().binary("add", a, b, a, [a.length], [1], [1]);
    return this;
  }
  zeroGrad(): void {
    if (this.grad) (this.grad.data as Float32Array).fill(0);
  }

  // ---------------------------------------------------------------- views
  /** A contiguous tensor (this one if already contiguous, else a copy); gradient is the identity. */
  contiguous(): Tensor {
    if (this.isContiguous()) return this;
    const out = new Tensor(this.data, this.shape, this.dtype);
    return record(out, "contiguous", [this], (g) => [g]);
  }
  reshape(shape: readonly number[]): Tensor {
    const shp = shape.slice();
    const neg = shp.indexOf(-1);
    if (neg >= 0) {
      const rest = shapeSize(shp.filter((_, i) => i !== neg));
      shp[neg] = rest === 0 ? 0 : this.size / rest;
    }
    if (shapeSize(shp) !== this.size || shp.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new ShapeError(`reshape: cannot view shape [${this.shape}] (${this.size} elements) as [${shape}]`);
    }
    const src = this.contiguous();
    const out = new Tensor(src.storage, shp, src.dtype, contiguousStrides(shp), src.offset);
    const inShape = this.shape;
    return record(out, "reshape", [src], (g) => [g.reshape(inShape)]);
  }
  view(...shape: number[]): Tensor {
    return this.reshape(shape);
  }
  flatten(start = 0, end = -1): Tensor {
    const nd = this.ndim;
    const s = start < 0 ? start + nd : start, e = end < 0 ? end + nd : end;
    const shp = [...this.shape.slice(0, s), shapeSize(this.shape.slice(s, e + 1)), ...this.shape.slice(e + 1)];
    return this.reshape(shp);
  }
  permute(dims: readonly number[]): Tensor {
    const nd = this.ndim;
    const d = dims.map((x) => (x < 0 ? x + nd : x));
    if (d.length !== nd || new Set(d).size !== nd || d.some((x) => x < 0 || x >= nd)) {
      throw new ShapeError(`permute: dims [${dims}] are not a permutation of ${nd} dims (shape [${this.shape}])`);
    }
    const inShape = this.shape, inStrides = this.strides; // arrows below must not read `this` (it would be pinned)
    const out = new Tensor(this.storage, d.map((i) => inShape[i]), this.dtype, d.map((i) => inStrides[i]), this.offset);
    const inv = new Array<number>(nd);
    d.forEach((v, i) => (inv[v] = i));
    return record(out, "permute", [this], (g) => [g.permute(inv)]);
  }
  transpose(d0 = -2, d1 = -1): Tensor {
    const nd = this.ndim;
    const a = d0 < 0 ? d0 + nd : d0, b = d1 < 0 ? d1 + nd : d1;
    const dims = [...Array(nd).keys()];
    dims[a] = b;
    dims[b] = a;
    return this.permute(dims);
  }
  get T(): Tensor {
    return this.transpose(-2, -1);
  }
  unsqueeze(dim: number): Tensor {
    const d = dim < 0 ? dim + this.ndim + 1 : dim;
    const shp = [...this.shape.slice(0, d), 1, ...this.shape.slice(d)];
    const st = [...this.strides.slice(0, d), d < this.ndim ? this.strides[d] * this.shape[d] : 1, ...this.strides.slice(d)];
    const out = new Tensor(this.storage, shp, this.dtype, st, this.offset);
    return record(out, "unsqueeze", [this], (g) => [g.squeeze(d)]);
  }
  squeeze(dim?: number): Tensor {
    const nd = this.ndim;
    const inShape = this.shape, inStrides = this.strides;
    // plain loops: an arrow reading `this` here would share the backward closure's context and pin the input
    const shp: number[] = [], st: number[] = [];
    const dd = dim === undefined ? -1 : dim < 0 ? dim + nd : dim;
    for (let i = 0; i < nd; i++) {
      if (inShape[i] === 1 && (dim === undefined || i === dd)) continue;
      shp.push(inShape[i]);
      st.push(inStrides[i]);
    }
    const out = new Tensor(this.storage, shp, this.dtype, st, this.offset);
    return record(out, "squeeze", [this], (g) => [g.reshape(inShape)]);
  }
  /** Elements start..end (exclusive) with step along dim; a view. */
  slice(dim: number, start: number, end?: number, step = 1): Tensor {
    const nd = this.ndim;
    const d = dim < 0 ? dim + nd : dim;
    if (d < 0 || d >= nd) throw new ShapeError(`slice: dim ${dim} out of range for shape [${this.shape}]`);
    const n = this.shape[d];
    let s = start < 0 ? start + n : start;
    let e = end === undefined ? n : end < 0 ? end + n : end;
    s = Math.max(0, Math.min(n, s));
    e = Math.max(s, Math.min(n, e));
    if (step < 1) throw new ShapeError(`slice: step must be >= 1, got ${step}`);
    const len = Math.ceil((e - s) / step);
    const shp = this.shape.slice();
    shp[d] = len;
    const st = this.strides.slice();
    st[d] = this.strides[d] * step;
    const out = new Tensor(this.storage, shp, this.dtype, st, this.offset + s * this.strides[d]);
    const inShape = this.shape;
    return record(out, "slice", [this], (g) => {
      const gi = Tensor.zeros(inShape);
      const gis = gi.strides.slice();
      const off = s * gis[d];
      gis[d] *= step;
      const gc = g.contiguous();
      stridedCopy(gc.storage, gc.offset, gc.strides, gi.storage, off, gis, shp);
      return [gi];
    });
  }
  /** Index along dim 0 (removes that dim); a view. */
  select(dim: number, index: number): Tensor {
    return this.slice(dim, index, index + 1).squeeze(dim < 0 ? dim + this.ndim : dim);
  }
  /** Broadcasts size-1 dims (and new leading dims) to shape; a view with stride 0. */
  expand(shape: readonly number[]): Tensor {
    const nd = shape.length;
    const off = nd - this.ndim;
    if (off < 0) throw new ShapeError(`expand: cannot expand shape [${this.shape}] to fewer dims [${shape}]`);
    const st = new Array<number>(nd);
    const shp = new Array<number>(nd);
    for (let i = 0; i < nd; i++) {
      const j = i - off;
      const target = shape[i] === -1 ? (j >= 0 ? this.shape[j] : 1) : shape[i];
      shp[i] = target;
      if (j < 0) st[i] = 0;
      else if (this.shape[j] === target) st[i] = this.strides[j];
      else if (this.shape[j] === 1) st[i] = 0;
      else throw new ShapeError(`expand: dim ${j} of shape [${this.shape}] is ${this.shape[j]}, cannot expand to [${shape}]`);
    }
    if (sameShape(shp, this.shape)) return this;
    const out = new Tensor(this.storage, shp, this.dtype, st, this.offset);
    const inShape = this.shape;
    return record(out, "expand", [this], (g) => [sumToShape(g, inShape)]);
  }
}

/** Creates an f32 tensor (nested arrays, typed arrays or a number). */
export function tensor(data: NestedArray | Float32Array | Int32Array | Tensor, opts: { shape?: number[]; dtype?: DType; requiresGrad?: boolean } = {}): Tensor {
  const t = data instanceof Tensor ? data : Tensor.from(data, opts.shape, opts.dtype);
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}
