// Argument checks every kernel runs before it records anything: operand sizes (a short array would
// otherwise read zeros or drop writes silently: WebGPU clamps out-of-bounds accesses), index dtypes
// and aliasing (WebGPU forbids binding one buffer writable and readable in a dispatch).
import { ShapeError } from "../../tensor/errors.js";
import type { GpuArray } from "./buffer_pool.js";

/** Throws when `out` is also an input. */
export function assertNoAlias(kernel: string, outs: (GpuArray | null)[], ins: (GpuArray | null)[]): void {
  for (const o of outs) if (o && ins.includes(o)) throw new ShapeError(`webgpu ${kernel}: an output is also an input (WebGPU cannot bind one buffer as both in one dispatch); pass a separate output array`);
}

/** Throws when an operand (null: absent, not checked) has fewer elements than the kernel reads or writes. */
export function assertSizes(kernel: string, operands: [string, GpuArray | null | undefined, number][]): void {
  for (const [name, arr, want] of operands)
    if (arr && arr.length < want) throw new ShapeError(`webgpu ${kernel}: ${name} has ${arr.length} elements, needs ${want}`);
}

/** Throws when an index operand (labels, ids, argmax) is not an i32 array (WGSL would reinterpret f32 bits). */
export function assertInt32(kernel: string, name: string, arr: GpuArray): void {
  if (arr.dtype !== "i32") throw new ShapeError(`webgpu ${kernel}: ${name} is ${arr.dtype}, expected i32 (upload an Int32Array)`);
}
