// The xoshiro128** step shared by the RNG (src/tensor/random.ts) and the TS dropout kernel, which
// advances an Rng's state array directly.

export const rotl32 = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** Advances the 4-word xoshiro128** state in place and returns the next uint32. */
export function xoshiroNext(s: Uint32Array): number {
  const result = Math.imul(rotl32(Math.imul(s[1], 5), 7), 9) >>> 0;
  const t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl32(s[3], 11);
  return result;
}
