// Data-parallel sampling (PyTorch DistributedSampler): every rank draws the same epoch order
// from the data Rng, pads it by repeating from the start to a multiple of the world size (or,
// with drop_last, cuts the tail), and takes the interleaved shard order[rank::worldSize], which
// it then batches by per_device_train_batch_size. Batch j of every rank together form global
// batch j: with full batches exactly the single-process batch j of size per_device × world.

import { ConfigError } from "../tensor/errors.js";
import { batchesOf } from "./trainer_data.js";

/** The epoch order padded (repeated from its start) or cut to a multiple of worldSize. */
export function paddedOrder(order: readonly number[], worldSize: number, dropLast: boolean): number[] {
  const n = order.length;
  if (dropLast) return order.slice(0, n - (n % worldSize));
  const total = Math.ceil(n / worldSize) * worldSize;
  const out = order.slice();
  while (out.length < total) out.push(...order.slice(0, Math.min(order.length, total - out.length)));
  return out;
}

/** Rank `rank`'s share of an epoch order: paddedOrder(order)[rank::worldSize]. */
export function rankShard(order: readonly number[], worldSize: number, rank: number, dropLast: boolean): number[] {
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new ConfigError(`rankShard: rank ${rank} is not in a world of ${worldSize}`);
  const p = paddedOrder(order, worldSize, dropLast);
  const out: number[] = [];
  for (let i = rank; i < p.length; i += worldSize) out.push(p[i]);
  return out;
}

/** Every rank's batches of one epoch: out[r][j] is rank r's j-th micro-batch (same count on every rank). */
export function epochBatches(order: readonly number[], batchSize: number, worldSize: number, dropLast: boolean): number[][][] {
  const out: number[][][] = [];
  for (let r = 0; r < worldSize; r++) out.push(batchesOf(rankShard(order, worldSize, r, dropLast), batchSize, dropLast));
  return out;
}

/** Examples of micro-batches [from, from+count) summed over every rank: the global step's denominator. */
export function globalExamples(all: number[][][], from: number, count: number): number {
  let n = 0;
  for (const rank of all) for (let j = from; j < Math.min(from + count, rank.length); j++) n += rank[j].length;
  return n;
}

/** Rank `rank`'s contiguous slice [start, end) of n evaluation rows (no row twice; earlier ranks get the extra rows). */
export function evalShard(n: number, worldSize: number, rank: number): { start: number; end: number } {
  const base = Math.floor(n / worldSize), extra = n % worldSize;
  const start = rank * base + Math.min(rank, extra);
  return { start, end: start + base + (rank < extra ? 1 : 0) };
}
