// Data-parallel sampling as HF Trainer does it on several processes (accelerate's
// prepare_data_loader with the Trainer's defaults split_batches=False, even_batches=True): every
// rank draws the same epoch order from the data Rng and cuts it into the single-process batches of
// per_device_train_batch_size; batch i goes to rank i % worldSize, so batch j of every rank
// together form global batch j = order[j·b·N, (j+1)·b·N). The uneven tail: with
// dataloader_drop_last the incomplete last round of batches is dropped; without it the order is
// continued from its start (repeating it if it is shorter) until every rank has full batches of b.
// One process keeps the plain batches (a short last one unless drop_last), as HF does.

import { ConfigError } from "../tensor/errors.js";
import { batchesOf } from "./trainer_data.js";

/** The epoch order continued from its start (cyclically) or cut to a multiple of `multiple`. */
export function paddedOrder(order: readonly number[], multiple: number, dropLast: boolean): number[] {
  const n = order.length;
  if (dropLast) return order.slice(0, n - (n % multiple));
  const total = Math.ceil(n / multiple) * multiple;
  const out = order.slice();
  while (out.length < total) out.push(...order.slice(0, Math.min(order.length, total - out.length)));
  return out;
}

/** Every rank's batches of one epoch: out[r][j] is rank r's j-th micro-batch (same count on every rank). */
export function epochBatches(order: readonly number[], batchSize: number, worldSize: number, dropLast: boolean): number[][][] {
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new ConfigError(`epochBatches: world size ${worldSize} is not a positive integer`);
  if (worldSize === 1) return [batchesOf(order.slice(), batchSize, dropLast)];
  const batches = batchesOf(paddedOrder(order, batchSize * worldSize, dropLast), batchSize, true);
  const out: number[][][] = Array.from({ length: worldSize }, () => []);
  batches.forEach((b, i) => out[i % worldSize].push(b));
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
