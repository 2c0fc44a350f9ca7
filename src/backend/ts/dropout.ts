// Reference dropout mask: counter-based. Two xoshiro128** draws (the tensor/random Rng's generator)
// key a stateless hash of the element index, so every element is independent of the others and the
// native kernel can fill the mask in parallel with identical results.
import type { F32 } from "../backend.js";

import { xoshiroNext as nextU32 } from "../../tensor/xoshiro.js";

/** Chris Wellons' lowbias32 integer hash (uint32 → uint32). */
export function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * k0, k1 = two draws from `s`; h_i = lowbias32(lowbias32((i + k0) mod 2³²) ^ k1);
 * m_i = h_i < p·2³² ? 0 : keepScale (exact: p·2³² is computed exactly in double).
 * Writes m_i (x null) or x[i] · m_i.
 */
function fill(s: Uint32Array, x: F32 | null, out: F32, p: number, keepScale: number): void {
  const k0 = nextU32(s), k1 = nextU32(s);
  const t = p * 4294967296;
  const keep = Math.fround(keepScale); // the f32 multiplier, so x·m rounds as the f32 product does
  for (let i = 0; i < out.length; i++) {
    const h = lowbias32(lowbias32((i + k0) >>> 0) ^ k1);
    const m = h < t ? 0 : keep;
    out[i] = x ? x[i] * m : m;
  }
}

/** out[i] = the multiplier of element i (0 or keepScale). */
export function dropoutMask(s: Uint32Array, out: F32, p: number, keepScale: number): void {
  fill(s, null, out, p, keepScale);
}

/** out[i] = x[i] · the multiplier of element i (x may be out). */
export function dropoutApply(s: Uint32Array, x: F32, out: F32, p: number, keepScale: number): void {
  fill(s, x, out, p, keepScale);
}
