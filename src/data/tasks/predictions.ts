// Reading the Trainer's predictions (Tensors, per-batch arrays or nested arrays) as plain
// number arrays, for metrics and decoding.

import { FormatError } from "../../tensor/errors.js";

type HasToArray = { toArray(): unknown };
const hasToArray = (x: unknown): x is HasToArray => typeof (x as HasToArray | null)?.toArray === "function";

/** [N][C] rows from a Tensor, an array of Tensors/arrays or typed arrays. */
export function nested(x: unknown): number[][] {
  if (x === null || x === undefined) return [];
  if (hasToArray(x) && !Array.isArray(x)) return x.toArray() as number[][];
  if (Array.isArray(x)) return x.map((r) => (hasToArray(r) ? (r.toArray() as number[]) : ArrayBuffer.isView(r) ? Array.from(r as Float32Array) : (r as number[])));
  throw new FormatError(`unexpected prediction format (${typeof x})`);
}

/** [B][T][C] arrays from a Tensor or a list of per-batch arrays. */
export function nested3(x: unknown): number[][][] {
  if (hasToArray(x) && !Array.isArray(x)) return x.toArray() as number[][][];
  if (Array.isArray(x)) return x.map((r) => (hasToArray(r) ? (r.toArray() as number[][]) : (r as number[][])));
  throw new FormatError(`unexpected token-classification prediction format (${typeof x})`);
}

/** QA predictions as [startLogits rows, endLogits rows] (pairs per feature, a pair of lists, or {startLogits, endLogits}). */
export function qaLogits(p: unknown): [number[][], number[][]] {
  // the Trainer's format: one [startLogits, endLogits] pair per feature
  if (Array.isArray(p) && p.every((x) => Array.isArray(x) && x.length === 2 && Array.isArray(x[0]))) {
    return [p.map((x) => (x as number[][])[0]), p.map((x) => (x as number[][])[1])];
  }
  if (Array.isArray(p) && p.length === 2) return [nested(p[0]), nested(p[1])];
  const o = p as { startLogits?: unknown; endLogits?: unknown } | null;
  if (o && o.startLogits !== undefined) return [nested(o.startLogits), nested(o.endLogits)];
  throw new FormatError("question answering: the predictions hold no start/end logits");
}
