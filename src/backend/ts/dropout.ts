// Reference dropout mask: counter-based. Two xoshiro128** draws (the tensor/random Rng's generator)
// key a stateless hash of the element index, so every element is independent of the others and the
// native kernel can fill the mask in parallel with identical results.
import type { F32 } from "../backend.js";

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** Advances the 4-word xoshiro128** state in place and returns the draw (as Rng.nextU32). */
function nextU32(s: Uint32Array): number {
  const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
  const t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  return r;
}

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
 * out[i] = h_i < p·2³² ? 0 : keepScale (exact: p·2³² is computed exactly in double).
 */
export function dropoutMask(s: Uint32Array, out: F32, p: number, keepScale: number): void {
  const k0 = nextU32(s), k1 = nextU32(s);
  const t = p * 4294967296;
  for (let i = 0; i < out.length; i++) {
    const h = lowbias32(lowbias32((i + k0) >>> 0) ^ k1);
    out[i] = h < t ? 0 : keepScale;
  }
}
