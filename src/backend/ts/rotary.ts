// Reference rotary embedding (HF rotate_half layout) over a strided [B,H,T,D] view.
import type { F32, RotaryParams } from "../backend.js";

const f = Math.fround;

export function rotary(x: F32, cos: F32, sin: F32, out: F32, p: RotaryParams, inverse: boolean): void {
  const { batch: B, heads: H, seq: T, headDim: D, strideB, strideH, strideT, perBatch } = p;
  const half = D / 2;
  for (let b = 0; b < B; b++) {
    const tb = perBatch ? b * T * D : 0;
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const xo = b * strideB + h * strideH + t * strideT;
        const o = ((b * H + h) * T + t) * D, r = tb + t * D;
        for (let i = 0; i < half; i++) {
          const x1 = x[xo + i], x2 = x[xo + half + i];
          if (!inverse) {
            // y[d] = x[d]·c[d] − x[d+h]·s[d];  y[d+h] = x[d+h]·c[d+h] + x[d]·s[d+h]
            out[o + i] = f(x1 * cos[r + i]) - f(x2 * sin[r + i]);
            out[o + half + i] = f(x2 * cos[r + half + i]) + f(x1 * sin[r + half + i]);
          } else {
            // transpose of the forward map: gx[d] = g[d]·c[d] + g[d+h]·s[d+h], …
            out[o + i] = x1 * cos[r + i] + x2 * sin[r + half + i];
            out[o + half + i] = x2 * cos[r + half + i] - x1 * sin[r + i];
          }
        }
      }
    }
  }
}
