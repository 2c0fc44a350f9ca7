// Data types and the float conversions used for storage (bf16, f16).
// Compute is always f32; bf16/f16 are storage formats converted with round-to-nearest-even.

import { ShapeError } from "./errors.js";
import { noteAlloc } from "./alloc_stats.js";
import { uninitializedBytes } from "../platform/env.js";

export type DType = "f32" | "bf16" | "f16" | "i32" | "i64" | "u8" | "bool";

export type Storage = Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, bf16: 2, f16: 2, i32: 4, i64: 8, u8: 1, bool: 1 };

/**
 * An f32 buffer whose contents are unspecified: for outputs a kernel overwrites completely. Large ones
 * skip the zero fill (Node's calloc memsets reused heap memory: ~5% of a small-model training step);
 * small ones come zeroed from V8's heap, which is as fast.
 */
export function allocF32Uninit(n: number): Float32Array {
  noteAlloc(n);
  if (n < 16384) return new Float32Array(n);
  try {
    return new Float32Array(uninitializedBytes(n * 4).buffer, 0, n);
  } catch (e) {
    throw tooLarge("f32", n, e);
  }
}

export function allocStorage(dtype: DType, n: number): Storage {
  noteAlloc(n);
  try {
    switch (dtype) {
      case "f32": return new Float32Array(n);
      case "bf16": case "f16": return new Uint16Array(n);
      case "i32": return new Int32Array(n);
      case "i64": return new BigInt64Array(n);
      case "u8": case "bool": return new Uint8Array(n);
    }
  } catch (e) {
    throw tooLarge(dtype, n, e);
  }
}

/** A tensor the runtime cannot allocate (a size from a bad config or file): a ShapeError with the size, not a bare RangeError. */
function tooLarge(dtype: DType, n: number, e: unknown): unknown {
  if (!(e instanceof RangeError)) return e;
  return new ShapeError(`cannot allocate a ${dtype} tensor of ${n} elements (${(n * DTYPE_BYTES[dtype] / 2 ** 30).toFixed(1)} GiB): ${e.message}; a size in the config or file is wrong`);
}

export function isFloat(dtype: DType): boolean {
  return dtype === "f32" || dtype === "bf16" || dtype === "f16";
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** f32 bits → bf16 bits, round to nearest even; NaN stays NaN (quiet). */
export function f32ToBf16Bits(x: number): number {
  f32buf[0] = x;
  const u = u32buf[0];
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x007fffff) !== 0) return ((u >>> 16) | 0x0040) & 0xffff; // quiet NaN
  const rounded = u + 0x7fff + ((u >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32buf[0] = (h & 0xffff) << 16;
  return f32buf[0];
}

/** f32 → f16 bits, round to nearest even, with subnormals, overflow to inf, NaN keeps sign + quiet bit. */
export function f32ToF16Bits(x: number): number {
  f32buf[0] = x;
  const u = u32buf[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) {
    if (mant !== 0) return sign | 0x7e00 | (mant >>> 13); // NaN: keep payload top bits, set quiet bit
    return sign | 0x7c00;
  }
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    // subnormal in f16 (or underflow to zero)
    if (e < -10) return sign;
    mant |= 0x800000; // implicit bit
    const shift = 14 - e; // bits to drop: 13 + (1 - e)
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1) === 1)) m += 1;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  let r = sign | (e << 10) | m;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1) === 1)) r += 1; // carry may roll into exponent: correct
  return r;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) {
    if (mant === 0) return sign * Infinity;
    u32buf[0] = ((h & 0x8000) << 16) | 0x7f800000 | (mant << 13);
    return f32buf[0];
  }
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function f32ArrayToBf16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const x = u[i];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x007fffff) !== 0) dst[i] = ((x >>> 16) | 0x0040) & 0xffff;
    else dst[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return dst;
}

export function bf16ArrayToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const u = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) u[i] = src[i] << 16;
  return dst;
}

export function f32ArrayToF16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) dst[i] = f32ToF16Bits(src[i]);
  return dst;
}

export function f16ArrayToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  for (let i = 0; i < src.length; i++) dst[i] = f16BitsToF32(src[i]);
  return dst;
}
