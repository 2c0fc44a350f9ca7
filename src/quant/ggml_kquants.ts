// Dequantisation of ggml's K-quant super-blocks of 256 (Q4_K, Q6_K), in gguf/quants.py's order of
// f32 operations. Layouts (bytes per block):
//   Q4_K (144): d f16, dmin f16, 12 bytes of 6-bit scales/mins for 8 sub-blocks of 32, 128 bytes of nibbles.
//   Q6_K (210): 128 bytes low nibbles, 64 bytes high 2-bit pairs, 16 int8 scales (sub-blocks of 16), d f16.

import { f16BitsToF32 } from "../tensor/dtype.js";

const fr = Math.fround;
const h16 = (b: Uint8Array, o: number) => f16BitsToF32(b[o] | (b[o + 1] << 8));

export function dequantQ4K(b: Uint8Array, bo: number, out: Float32Array, oo: number): void {
  const d = h16(b, bo), dmin = h16(b, bo + 2);
  const s = bo + 4, qs = bo + 16;
  for (let j = 0; j < 8; j++) {
    let sc: number, m: number;
    if (j < 4) {
      sc = b[s + j] & 0x3f;
      m = b[s + 4 + j] & 0x3f;
    } else {
      sc = (b[s + 8 + j - 4] & 0x0f) | ((b[s + j - 4] >> 2) & 0x30);
      m = (b[s + 8 + j - 4] >> 4) | ((b[s + 4 + j - 4] >> 2) & 0x30);
    }
    const dl = fr(d * sc), ml = fr(dmin * m);
    // sub-block j: the low (j even) or high (j odd) nibbles of the 32 bytes of group j >> 1
    const g = qs + (j >> 1) * 32, shift = (j & 1) * 4;
    for (let i = 0; i < 32; i++) out[oo + j * 32 + i] = fr(fr(dl * ((b[g + i] >> shift) & 0x0f)) - ml);
  }
}

export function dequantQ6K(b: Uint8Array, bo: number, out: Float32Array, oo: number): void {
  const ql = bo, qh = bo + 128, sc = bo + 192, d = h16(b, bo + 208);
  for (let f = 0; f < 256; f++) {
    const h = f >> 7, r = f & 127;
    // low nibble: byte h*64 + (r & 63), upper half (r >= 64) takes the high nibble
    const lo = (b[ql + h * 64 + (r & 63)] >> ((r >> 6) * 4)) & 0x0f;
    // high bits: byte h*32 + (r & 31), shifted by 2 × (r >> 5)
    const hi = (b[qh + h * 32 + (r & 31)] >> ((r >> 5) * 2)) & 0x03;
    const q = (lo | (hi << 4)) - 32;
    const scale = (b[sc + (f >> 4)] << 24) >> 24;
    out[oo + f] = fr(fr(d * scale) * q);
  }
}
