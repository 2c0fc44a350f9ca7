// Shape and stride arithmetic: element counts, row-major strides, shape equality, strided copies.

import type { Storage } from "./dtype.js";

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Copies a strided view into another strided view of the same shape (element types must match). */
export function stridedCopy(
  src: Storage, srcOffset: number, srcStrides: readonly number[],
  dst: Storage, dstOffset: number, dstStrides: readonly number[],
  shape: readonly number[],
): void {
  const nd = shape.length;
  if (nd === 0) {
    (dst as any)[dstOffset] = (src as any)[srcOffset];
    return;
  }
  const n = shapeSize(shape);
  if (n === 0) return;
  const last = nd - 1;
  const inner = shape[last], ss = srcStrides[last], ds = dstStrides[last];
  const idx = new Array<number>(nd).fill(0);
  let so = srcOffset, doff = dstOffset;
  const outer = n / inner;
  for (let o = 0; o < outer; o++) {
    if (ss === 1 && ds === 1) {
      (dst as any).set((src as any).subarray(so, so + inner), doff);
    } else {
      for (let i = 0; i < inner; i++) (dst as any)[doff + i * ds] = (src as any)[so + i * ss];
    }
    // advance the outer index (odometer over dims 0..last-1)
    for (let d = last - 1; d >= 0; d--) {
      idx[d]++;
      so += srcStrides[d];
      doff += dstStrides[d];
      if (idx[d] < shape[d]) break;
      so -= srcStrides[d] * shape[d];
      doff -= dstStrides[d] * shape[d];
      idx[d] = 0;
    }
  }
}
