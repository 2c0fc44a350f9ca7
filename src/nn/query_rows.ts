// The last layer limited to one query position per batch row (decoder sequence classification).
import { Tensor } from "../tensor/tensor.js";
import { ShapeError } from "../tensor/errors.js";
import * as ops from "../ops/index.js";

/** The last layer limited to one position per batch row (ModelInputs.queryPositions). */
export interface QueryRows {
  /** Per batch row, the position among this call's T tokens. */
  idx: number[];
  /** [B, P + T]: the attention mask with each row's keys after its own position masked (the causal mask for one query). */
  keyMask: Tensor;
}

/** Checks inputs.queryPositions against [B, T] and builds its key mask; null when not asked for (or hidden states are). */
export function queryRows(
  inputs: { queryPositions?: number[]; outputHiddenStates?: boolean; outputAttentions?: boolean }, keyMask: Tensor | null, B: number, T: number, P: number,
): QueryRows | null {
  const idx = inputs.queryPositions;
  if (!idx || inputs.outputHiddenStates || inputs.outputAttentions) return null;
  if (idx.length !== B || idx.some((t) => !Number.isInteger(t) || t < 0 || t >= T)) {
    throw new ShapeError(`queryPositions [${idx}]: expected ${B} integer positions in [0, ${T})`);
  }
  const Tk = P + T, km = keyMask ? keyMask.f32() : null, m = new Float32Array(B * Tk);
  for (let b = 0; b < B; b++) for (let j = 0; j <= P + idx[b]; j++) m[b * Tk + j] = km ? km[b * Tk + j] : 1;
  return { idx, keyMask: new Tensor(m, [B, Tk]) };
}

/** x[b, idx[b], :] for each batch row b: [B, 1, C]. */
export function gatherRows(x: Tensor, idx: number[]): Tensor {
  const [B, , C] = x.shape;
  return ops.stack(idx.map((t, b) => x.select(0, b).select(0, t)), 0).reshape([B, 1, C]);
}
