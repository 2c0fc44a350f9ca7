// What the Trainer reads its examples from: datasets (arrays or length/get), batches of indices,
// and the collators that turn a list of examples into one model input batch.

import { ConfigError } from "../tensor/errors.js";

/** A dataset: an array of examples or anything with length and get(i). */
export type TrainerDataset<T = Record<string, unknown>> = readonly T[] | { length: number; get(i: number): T };
/** Alias kept for modules that import it from here (src/distill); the public name is TrainerDataset. */
export type Dataset<T = Record<string, unknown>> = TrainerDataset<T>;
export type Batch = Record<string, unknown>;
export type DataCollator = ((features: Record<string, unknown>[]) => Batch) | { call(features: Record<string, unknown>[]): Batch };

export function dsLength(d: TrainerDataset): number {
  return d.length;
}
export function dsGet(d: TrainerDataset, i: number): Record<string, unknown> {
  return (Array.isArray(d) ? d[i] : (d as { get(i: number): Record<string, unknown> }).get(i)) as Record<string, unknown>;
}

function padTo(rows: number[][], len: number, value: number): number[][] {
  return rows.map((r) => (r.length >= len ? r : [...r, ...new Array<number>(len - r.length).fill(value)]));
}

/**
 * Pads/stacks inputIds (0), attentionMask (0), tokenTypeIds (0) and labels (−100 when they are
 * per-token lists); other fields are gathered into lists.
 */
export function defaultDataCollator(features: Record<string, unknown>[]): Batch {
  if (features.length === 0) throw new ConfigError("collate: empty batch");
  const out: Batch = {};
  const ids = features.map((f) => f.inputIds as number[] | undefined);
  const len = Math.max(0, ...ids.map((r) => r?.length ?? 0));
  for (const key of Object.keys(features[0])) {
    const vals = features.map((f) => f[key]);
    if (key === "inputIds" || key === "tokenTypeIds") out[key] = padTo(vals as number[][], len, 0);
    else if (key === "attentionMask") out[key] = padTo(vals as number[][], len, 0);
    else if (key === "labels" && Array.isArray(vals[0])) {
      const L = Math.max(...(vals as number[][]).map((r) => r.length));
      out[key] = padTo(vals as number[][], L, -100);
    } else out[key] = vals;
  }
  if (out.inputIds && !out.attentionMask) out.attentionMask = (ids as number[][]).map((r) => padTo([new Array<number>(r.length).fill(1)], len, 0)[0]);
  return out;
}

export function collateWith(c: DataCollator, features: Record<string, unknown>[]): Batch {
  return typeof c === "function" ? c(features) : c.call(features);
}

/** Consecutive batches of `order` (the last one shorter unless dropLast). */
export function batchesOf(order: number[], batchSize: number, dropLast: boolean): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) {
    const b = order.slice(i, i + batchSize);
    if (b.length < batchSize && dropLast) break;
    out.push(b);
  }
  return out;
}
