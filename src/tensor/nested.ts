// Nested number arrays (the input of Tensor.from / tensor()): their shape and their values in row-major order.

import { ShapeError } from "./errors.js";

export type NestedArray = number | NestedArray[];

/** The shape of a nested array, read along its first elements. */
export function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as NestedArray;
    if (cur === undefined) break;
  }
  return shape;
}

/** Appends the values of a nested array of the given shape to out (row-major); ragged arrays throw. */
export function flattenInto(data: NestedArray, shape: number[], dim: number, out: number[]): void {
  if (dim === shape.length) {
    if (typeof data !== "number") throw new ShapeError(`tensor(): ragged nested array (expected a number at depth ${dim})`);
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim]) {
    throw new ShapeError(`tensor(): ragged nested array: expected length ${shape[dim]} at depth ${dim}, got ${Array.isArray(data) ? data.length : typeof data}`);
  }
  for (const x of data) flattenInto(x, shape, dim + 1, out);
}
