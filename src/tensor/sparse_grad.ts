// Row-sparse gradients of embedding tables, for consumers that never want the dense [V, D] gradient
// (ZeRO stage 2: docs/DESIGN.md, "ZeRO-2: embedding gradients stay row-sparse"). A consumer registers
// a sink for a leaf parameter; the embedding op's backward then hands the sink the rows its ids touched
// (each distinct id once, its gradient summed) instead of materialising a dense gradient, and gives
// the autograd walk no gradient for that edge (the leaf hook still fires when the leaf's uses are done,
// with .grad holding only the other, dense contributions, e.g. a tied LM head's). Without a sink
// everything is dense, as before.

import type { Tensor } from "./tensor.js";

/** Rows of a [V, D] gradient: ids (distinct) and their rows, [ids.length, D] row-major. */
export interface SparseRows {
  ids: Int32Array;
  rows: Float32Array;
  /** D, the row width. */
  width: number;
}

export type SparseRowsSink = (rows: SparseRows) => void;

const sinks = new WeakMap<Tensor, SparseRowsSink>();

/** Routes `param`'s embedding gradients to `sink` (null: back to dense). */
export function setSparseGradSink(param: Tensor, sink: SparseRowsSink | null): void {
  if (sink) sinks.set(param, sink);
  else sinks.delete(param);
}

/** The sink registered for a leaf parameter, if any. */
export function sparseGradSink(param: Tensor): SparseRowsSink | undefined {
  return sinks.get(param);
}

/**
 * The distinct ids of `idx` (first-seen order) and, for each position, the slot of its id; ids equal to
 * `skip` (a padding index) get slot -1.
 */
export function compactIds(idx: ArrayLike<number>, vocab: number, skip: number | null): { ids: Int32Array; slots: Int32Array } {
  const slotOf = new Int32Array(vocab).fill(-1);
  const slots = new Int32Array(idx.length);
  const ids: number[] = [];
  for (let t = 0; t < idx.length; t++) {
    const id = idx[t];
    if (id === skip) {
      slots[t] = -1;
      continue;
    }
    let s = slotOf[id];
    if (s < 0) {
      s = slotOf[id] = ids.length;
      ids.push(id);
    }
    slots[t] = s;
  }
  return { ids: Int32Array.from(ids), slots };
}
