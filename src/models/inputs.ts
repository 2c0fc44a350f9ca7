// A model's token inputs coerced to int batches, and the checks every base model's forward starts with.
import { Tensor, NestedArray } from "../tensor/tensor.js";
import { ShapeError } from "../tensor/errors.js";
import { pastLength, type KeyValue } from "../nn/kv_cache.js";
import { fullKeyMask } from "../nn/key_mask.js";
import type { IdsLike, ModelInputs } from "./modeling_utils.js";

export interface IntBatch {
  data: Int32Array;
  shape: [number, number];
}

/** Coerces ids/masks to a [B, T] int batch. */
export function toIntBatch(x: IdsLike, what: string): IntBatch {
  if (x instanceof Tensor) {
    if (x.ndim === 1) return { data: x.i32(), shape: [1, x.shape[0]] };
    if (x.ndim !== 2) throw new ShapeError(`${what}: expected shape [batch, seq], got [${x.shape}]`);
    return { data: x.i32(), shape: [x.shape[0], x.shape[1]] };
  }
  if (x instanceof Int32Array) return { data: x, shape: [1, x.length] };
  if (!Array.isArray(x)) throw new ShapeError(`${what}: expected a Tensor or nested number arrays, got ${typeof x}`);
  if (x.length === 0) throw new ShapeError(`${what}: empty batch`);
  if (!Array.isArray(x[0])) {
    const row = x as number[];
    return { data: Int32Array.from(row), shape: [1, row.length] };
  }
  const rows = x as number[][];
  const T = rows[0].length;
  const data = new Int32Array(rows.length * T);
  rows.forEach((r, b) => {
    if (!Array.isArray(r) || r.length !== T) throw new ShapeError(`${what}: row ${b} has length ${Array.isArray(r) ? r.length : "?"}, expected ${T} (pad the batch)`);
    for (let t = 0; t < T; t++) data[b * T + t] = r[t];
  });
  return { data, shape: [rows.length, T] };
}

export function intTensor(b: IntBatch): Tensor {
  return new Tensor(b.data, b.shape, "i32");
}

export function asFloatTensor(x: Tensor | NestedArray): Tensor {
  return x instanceof Tensor ? x : Tensor.from(x);
}

/** The token inputs of a base model's forward, checked. */
export interface TokenInputs {
  ids: IntBatch | null;
  embeds: Tensor | null;
  B: number;
  T: number;
  past: KeyValue[] | undefined;
  /** Past length (0 without a cache). */
  P: number;
}

/** Exactly one of inputIds / inputsEmbeds, and pastKeyValues (if any) with one entry per layer. */
export function tokenInputs(inputs: ModelInputs, numLayers: number): TokenInputs {
  const ids = inputs.inputIds !== undefined ? toIntBatch(inputs.inputIds, "inputIds") : null;
  const embeds = inputs.inputsEmbeds !== undefined ? asFloatTensor(inputs.inputsEmbeds) : null;
  if (!ids === !embeds) throw new ShapeError("forward: give exactly one of inputIds or inputsEmbeds");
  const [B, T] = ids ? ids.shape : [embeds!.shape[0], embeds!.shape[1]];
  const past = inputs.pastKeyValues;
  if (past && past.length !== numLayers) throw new ShapeError(`pastKeyValues has ${past.length} layers, the model has ${numLayers}`);
  return { ids, embeds, B, T, past, P: pastLength(past) };
}

/** inputs.attentionMask over the P past and T new keys ([B, P + T]), or null without one. */
export function keyMaskOf(inputs: ModelInputs, B: number, T: number, P: number): Tensor | null {
  return fullKeyMask(inputs.attentionMask !== undefined ? toIntBatch(inputs.attentionMask, "attentionMask") : null, B, T, P);
}

/** Position ids must index the position table (size `max`, named `what` as in the config). */
export function checkPositions(positions: Int32Array, max: number, what: string): void {
  for (const p of positions) if (p < 0 || p >= max) throw new ShapeError(`position id ${p} is out of range: the model has ${what}=${max}`);
}

/** HF position ids for generation: cumsum(mask) − 1, with 1 at masked positions. */
export function positionsFromMask(mask: number[][]): number[][] {
  return mask.map((m) => {
    let c = 0;
    return m.map((x) => {
      c += x;
      return x === 0 ? 1 : c - 1;
    });
  });
}
