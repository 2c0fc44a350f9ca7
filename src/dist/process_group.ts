// The ranks of a run and the collectives between them. A run started by `mpirun` (or
// `peft-ts train --nproc_per_node N`, which starts mpirun) gets the MPI group (mpi_group.ts: MPI
// through the native addon, every collective on one communication thread); any other run gets
// the single-process group below, whose collectives are identities. Everything above (the
// Trainer's data parallelism, later ZeRO and tensor parallelism) talks to this interface only.

import { ConfigError } from "../tensor/errors.js";

/** A collective in flight; wait() returns when its buffer may be read and written again. */
export interface CommHandle {
  /** Blocks until the collective is done; throws DistributedError after the group's timeout. */
  wait(): void;
}

export interface ProcessGroup {
  readonly backend: "mpi" | "local";
  readonly rank: number;
  readonly worldSize: number;
  /** Rank among the processes on this machine, and their number. */
  readonly localRank: number;
  readonly localWorldSize: number;
  /** How long a collective may take before it fails with a DistributedError naming it (ddp_timeout). */
  timeoutMs: number;
  /** Starts an in-place sum of `buf` over the ranks on the communication thread; do not touch `buf` before wait(). */
  allreduceSumAsync(buf: Float32Array): CommHandle;
  /** In-place sum of `buf` over the ranks. */
  allreduceSum(buf: Float32Array): void;
  /** Rank `root`'s `buf` into every rank's `buf` (same length everywhere). */
  broadcast(buf: Float32Array | Uint8Array, root: number): void;
  /** Every rank's `send` (same length everywhere) concatenated in rank order into `recv` (worldSize × send.length). */
  allgather(send: Float32Array, recv: Float32Array): void;
  /** Every rank's bytes (any length), in rank order. */
  allgatherBytes(send: Uint8Array): Uint8Array[];
  /** Sums `send` (worldSize × recv.length) over the ranks; rank r receives slice r of the sum. */
  reduceScatterSum(send: Float32Array, recv: Float32Array): void;
  barrier(): void;
  /** Ends every rank of the run with `code` after printing `message` (a lost peer, a mismatch). */
  abort(message: string, code?: number): never;
  /** Shuts the group down (MPI_Finalize); the group is unusable afterwards. */
  finalize(): void;
}

/** The group of a run with one process: every collective leaves its data as it is. */
export class LocalGroup implements ProcessGroup {
  readonly backend = "local" as const;
  readonly rank = 0;
  readonly worldSize = 1;
  readonly localRank = 0;
  readonly localWorldSize = 1;
  timeoutMs = 1_800_000;
  allreduceSumAsync(_buf: Float32Array): CommHandle {
    return { wait: () => {} };
  }
  allreduceSum(_buf: Float32Array): void {}
  broadcast(_buf: Float32Array | Uint8Array, root: number): void {
    if (root !== 0) throw new ConfigError(`broadcast: root ${root} does not exist in a 1-process group`);
  }
  allgather(send: Float32Array, recv: Float32Array): void {
    if (recv.length !== send.length) throw new ConfigError(`allgather: recv holds ${recv.length} values, expected ${send.length}`);
    recv.set(send);
  }
  allgatherBytes(send: Uint8Array): Uint8Array[] {
    return [send.slice()];
  }
  reduceScatterSum(send: Float32Array, recv: Float32Array): void {
    if (send.length !== recv.length) throw new ConfigError(`reduceScatterSum: send holds ${send.length} values, expected ${recv.length}`);
    recv.set(send);
  }
  barrier(): void {}
  abort(message: string, code = 1): never {
    process.stderr.write(`peft-ts: error: ${message}\n`);
    process.exit(code);
  }
  finalize(): void {}
}
