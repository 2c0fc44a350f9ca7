// Rotary position embedding (HF "rotate_half" layout: the two halves of the head dim pair up).
import { Tensor } from "../tensor/tensor.js";
import { record } from "../tensor/autograd.js";
import { ShapeError } from "../tensor/errors.js";
import { assertFloat, f32Of } from "./util.js";
import { getBackend } from "../backend/registry.js";
import type { RotaryParams } from "../backend/backend.js";

const f = Math.fround;

/**
 * cos/sin tables [T, D] for positions, computed in f32 the way HF's default rope does:
 * inv_freq = 1/θ^(2i/D), freqs = pos·inv_freq, emb = cat(freqs, freqs).
 * Linear scaling divides positions by the factor; HF implements it as inv_freq /= factor, which
 * we follow so the rounding matches.
 */
export function rotaryTables(positions: number[], headDim: number, theta: number, scalingFactor = 1): { cos: Tensor; sin: Tensor } {
  if (headDim % 2 !== 0 || headDim <= 0) throw new ShapeError(`rotaryTables: head dim must be a positive even number, got ${headDim}`);
  if (!(scalingFactor > 0)) throw new ShapeError(`rotaryTables: scaling factor must be > 0, got ${scalingFactor}`);
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    inv[i] = f(1 / f(Math.pow(theta, f(f(2 * i) / headDim))));
    if (scalingFactor !== 1) inv[i] = f(inv[i] / scalingFactor);
  }
  const T = positions.length;
  const cos = new Float32Array(T * headDim), sin = new Float32Array(T * headDim);
  for (let t = 0; t < T; t++) {
    const pos = f(positions[t]);
    for (let i = 0; i < half; i++) {
      const a = f(pos * inv[i]);
      const c = Math.cos(a), s = Math.sin(a);
      cos[t * headDim + i] = c;
      cos[t * headDim + half + i] = c;
      sin[t * headDim + i] = s;
      sin[t * headDim + half + i] = s;
    }
  }
  return { cos: new Tensor(cos, [T, headDim]), sin: new Tensor(sin, [T, headDim]) };
}

/** Rotary embedding in HF's rotate_half layout: x·cos + rotate_half(x)·sin; x [B,H,T,D], cos/sin [T,D] or [B,T,D]. */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  assertFloat("applyRotary", x);
  if (x.ndim !== 4) throw new ShapeError(`applyRotary: x must be [B, heads, T, D], got [${x.shape}]`);
  const [B, H, T, D] = x.shape;
  if (D % 2 !== 0) throw new ShapeError(`applyRotary: head dim ${D} must be even (x [${x.shape}])`);
  // cos/sin shared over the batch ([T,D], [1,T,D], ...) or per batch row ([B,T,D], [B,1,T,D])
  const perBatch = cos.size === B * T * D && B > 1;
  const fits = (c: Tensor) => c.shape[c.ndim - 1] === D && c.shape[c.ndim - 2] === T && (c.size === T * D || c.size === B * T * D);
  if (!fits(cos) || !fits(sin) || cos.size !== sin.size) {
    throw new ShapeError(`applyRotary: cos [${cos.shape}] / sin [${sin.shape}] do not fit x [${x.shape}] (expected [${T}, ${D}] or [${B}, ${T}, ${D}])`);
  }
  const cd = f32Of(cos), sd = f32Of(sin);
  const be = getBackend();
  // a [B,H,T,D] view with a contiguous head dim (e.g. the heads transpose of a projection) is read in place
  const strided = x.dtype === "f32" && x.strides[3] === 1;
  const xs = strided ? (x.storage as Float32Array).subarray(x.offset) : f32Of(x);
  const st = strided ? x.strides : [H * T * D, T * D, D, 1];
  const p: RotaryParams = { batch: B, heads: H, seq: T, headDim: D, strideB: st[0], strideH: st[1], strideT: st[2], perBatch };
  const out = Tensor.empty(x.shape);
  be.rotary(xs, cd, sd, out.data, p, false);
  const shape = x.shape;
  return record(out, "applyRotary", [x], (g) => {
    const gx = Tensor.empty(shape);
    be.rotary(f32Of(g), cd, sd, gx.data, { ...p, strideB: H * T * D, strideH: T * D, strideT: D }, true);
    return [gx];
  });
}
