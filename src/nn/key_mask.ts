// The attention mask over past and new keys.
import { Tensor } from "../tensor/tensor.js";
import { ShapeError } from "../tensor/errors.js";

/** Keys/values of the attention mask for B×(P+T) keys: a [B,T] mask gets P leading ones. */
export function fullKeyMask(mask: { data: Int32Array; shape: [number, number] } | null, B: number, T: number, P: number): Tensor | null {
  if (!mask) return null;
  const [mb, mt] = mask.shape;
  if (mb !== B) throw new ShapeError(`attentionMask has batch ${mb}, inputs have batch ${B}`);
  if (mt === P + T) return new Tensor(Float32Array.from(mask.data), [B, P + T]);
  if (mt === T && P > 0) {
    const out = new Float32Array(B * (P + T));
    for (let b = 0; b < B; b++) {
      out.fill(1, b * (P + T), b * (P + T) + P);
      for (let t = 0; t < T; t++) out[b * (P + T) + P + t] = mask.data[b * T + t];
    }
    return new Tensor(out, [B, P + T]);
  }
  throw new ShapeError(`attentionMask has length ${mt}, expected ${T} or ${P + T} (past ${P} + new ${T})`);
}
