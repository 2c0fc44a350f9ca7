// QLoRA's double quantisation of the absmax constants: the mean is subtracted, then blocks of 256
// constants are stored as indices into bitsandbytes' signed dynamic 8-bit code with one f32 absmax
// per block (bitsandbytes quantize_blockwise with its default code). Saves ~0.37 bits per value at
// block size 64 (32/64 → 8/64 + 32/(64·256)).

import { DYNAMIC_CODE } from "./codes.js";
import type { NestedAbsmax } from "./format.js";

/** Index of the entry of an ascending code nearest to x (ties to the lower entry). */
export function nearestInSorted(code: Float32Array, x: number): number {
  let lo = 0, hi = code.length - 1;
  if (x <= code[lo]) return lo;
  if (x >= code[hi]) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (x > code[mid]) lo = mid;
    else hi = mid;
  }
  return x - code[lo] > code[hi] - x ? hi : lo;
}

export function quantizeAbsmax(absmax: Float32Array, blockSize = 256): NestedAbsmax {
  let sum = 0;
  for (let i = 0; i < absmax.length; i++) sum += absmax[i];
  const offset = Math.fround(absmax.length ? sum / absmax.length : 0);
  const nb = Math.ceil(absmax.length / blockSize);
  const absmax2 = new Float32Array(nb);
  const q = new Uint8Array(absmax.length);
  for (let b = 0; b < nb; b++) {
    const s = b * blockSize, e = Math.min(absmax.length, s + blockSize);
    let m = 0;
    for (let i = s; i < e; i++) m = Math.max(m, Math.abs(Math.fround(absmax[i] - offset)));
    absmax2[b] = m;
    const inv = m > 0 ? Math.fround(1 / m) : 0;
    for (let i = s; i < e; i++) q[i] = nearestInSorted(DYNAMIC_CODE, Math.fround(Math.fround(absmax[i] - offset) * inv));
  }
  return { q, absmax2, offset, blockSize };
}

/** The f32 value of first-level constant i. */
export function nestedAbsmaxAt(n: NestedAbsmax, i: number): number {
  return Math.fround(Math.fround(DYNAMIC_CODE[n.q[i]] * n.absmax2[(i / n.blockSize) | 0]) + n.offset);
}

/** All first-level constants in f32. */
export function dequantizeAbsmax(n: NestedAbsmax): Float32Array {
  const out = new Float32Array(n.q.length);
  for (let i = 0; i < out.length; i++) out[i] = nestedAbsmaxAt(n, i);
  return out;
}
