// Reference dropout mask: xoshiro128** draws (the tensor/random Rng's generator) compared with p.
import type { F32 } from "../backend.js";

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

export function dropoutMask(s: Uint32Array, out: F32, p: number, keepScale: number): void {
  for (let i = 0; i < out.length; i++) {
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    out[i] = r / 4294967296 < p ? 0 : keepScale;
  }
}
