// Past keys and values (KV cache or prefix tuning): one layer's, joined with a step's own.
import { Tensor } from "../tensor/tensor.js";
import { ShapeError } from "../tensor/errors.js";
import * as ops from "../ops/index.js";

/** One layer's cached (or prefix) keys and values, [B, Hkv, P, D] each. */
export interface KeyValue {
  key: Tensor;
  value: Tensor;
}

/** Concatenates a layer's cache/prefix with this step's keys and values along time. */
export function withPast(past: KeyValue | undefined, k: Tensor, v: Tensor): KeyValue {
  if (!past) return { key: k, value: v };
  if (past.key.ndim !== 4 || past.key.shape[0] !== k.shape[0] || past.key.shape[1] !== k.shape[1] || past.key.shape[3] !== k.shape[3]) {
    throw new ShapeError(`pastKeyValues: key of shape [${past.key.shape}] does not fit this layer's keys [${k.shape}] (expected [B, Hkv, P, D])`);
  }
  return { key: ops.cat([past.key, k], 2), value: ops.cat([past.value, v], 2) };
}

/** The number of past positions P (0 without a cache). */
export function pastLength(past: KeyValue[] | undefined): number {
  return past && past.length > 0 ? past[0].key.shape[2] : 0;
}
