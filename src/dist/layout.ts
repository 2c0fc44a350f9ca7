// The dp × tp layout of a run (Megatron-LM's): world = dp × tp with the tensor-parallel ranks
// contiguous, so world ranks [g·K, (g+1)·K) form tensor-parallel group g and the ranks with the same
// tp rank (rank mod K) form one data-parallel group. The groups are sub-communicators of the world
// (ProcessGroup.split), made once per (world, K) and shared by everyone who asks (the CLI loads the
// model over `tp`, the Trainer runs data parallelism over `dp`).
import { ConfigError } from "../tensor/errors.js";
import type { ProcessGroup } from "./process_group.js";

export interface ParallelLayout {
  world: ProcessGroup;
  /** tensor_parallel_size. */
  tensorParallelSize: number;
  /** The ranks that share one model replica (null when K = 1). */
  tp: ProcessGroup | null;
  /** The ranks that hold the same shard of different replicas (the world when K = 1). */
  dp: ProcessGroup;
  /** This rank's position: world rank = dpRank · K + tpRank. */
  tpRank: number;
  dpRank: number;
}

const cache = new WeakMap<ProcessGroup, Map<number, ParallelLayout>>();

/** Checks that K is a positive integer dividing the world size (ConfigError naming both otherwise). */
export function checkTensorParallelSize(K: number, worldSize: number): void {
  if (!Number.isInteger(K) || K < 1) throw new ConfigError(`tensor_parallel_size must be a positive integer, got ${JSON.stringify(K)}`);
  if (worldSize % K !== 0) {
    throw new ConfigError(`tensor_parallel_size (${K}) must divide the world size (${worldSize} processes): the run is data_parallel × tensor_parallel ranks`);
  }
}

/**
 * The layout of `world` with tensor_parallel_size K. The first call for a (world, K) splits the
 * world twice (a collective: every rank must make it, in the same order as its other collectives);
 * later calls return the same groups.
 */
export function parallelLayout(world: ProcessGroup, K: number): ParallelLayout {
  checkTensorParallelSize(K, world.worldSize);
  let byK = cache.get(world);
  if (!byK) cache.set(world, (byK = new Map()));
  const hit = byK.get(K);
  if (hit) return hit;
  const tpRank = world.rank % K, dpRank = Math.floor(world.rank / K);
  const layout: ParallelLayout = K === 1
    ? { world, tensorParallelSize: 1, tp: null, dp: world, tpRank: 0, dpRank: world.rank }
    : { world, tensorParallelSize: K, tp: world.split(dpRank, tpRank), dp: world.split(tpRank, dpRank), tpRank, dpRank };
  for (const g of [layout.tp, layout.dp]) if (g && g !== world) g.timeoutMs = world.timeoutMs;
  byK.set(K, layout);
  return layout;
}
