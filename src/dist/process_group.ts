// The ranks of a run and their collectives. A ProcessGroup is one per process (src/dist/init.ts);
// `MpiGroup` (mpi_group.ts) runs the collectives over MPI on the addon's communication thread,
// `LocalGroup` is the single-process group (every collective is the identity).
import { DistributedError } from "../tensor/errors.js";
import { exitProcess, writeStderr } from "../platform/env.js";

/** An in-flight collective started by an `…Async` method. */
export interface CommHandle {
  /**
   * Blocks until the collective completed (its result is then in the buffers). Throws a
   * DistributedError when it has not completed within `timeoutMs` (default: the group's
   * `timeoutMs`), naming the collective, its size and the rank. Calling it again after it returned is a no-op.
   */
  wait(timeoutMs?: number): void;
  /** True once the collective has completed (never blocks). */
  isDone(): boolean;
}

/** One collective kind's cumulative figures on the communication thread (since the group started). */
export interface KindCounters {
  /** Collectives finished. */
  ops: number;
  /** This rank's payload bytes (allreduce: the buffer; reduce-scatter: the whole input). */
  bytes: number;
  /** Time the communication thread spent inside the MPI calls, ms (includes waiting there for slower peers). */
  busyMs: number;
}
/** The communication thread's counters (`ProcessGroup.commCounters`); nowMs is its steady clock. */
export interface CommCounters {
  allreduce: KindCounters;
  bcast: KindCounters;
  allgather: KindCounters;
  allgatherBytes: KindCounters;
  reduceScatter: KindCounters;
  barrier: KindCounters;
  nowMs: number;
}

export interface ProcessGroup {
  /** "mpi" when started by mpirun, "local" for the single-process group. */
  readonly backend: "local" | "mpi";
  /** This process's rank in the run, 0 ≤ rank < worldSize. */
  readonly rank: number;
  readonly worldSize: number;
  /** Rank among the processes on this machine, and how many there are. */
  readonly localRank: number;
  readonly localWorldSize: number;
  /** The default deadline of every wait in milliseconds (HF `ddp_timeout`, in seconds there). */
  timeoutMs: number;

  /** Sums `buf` over all ranks, in place (every rank gets the sum). */
  allreduceSum(buf: Float32Array): void;
  /** allreduceSum started on the communication thread; the caller keeps computing until `wait()`. Do not touch `buf` before then. */
  allreduceSumAsync(buf: Float32Array): CommHandle;
  /** Copies `root`'s bytes (any typed array, same byte length on every rank) to every rank, in place. */
  broadcast(buf: ArrayBufferView, root?: number): void;
  /** Every rank's `send` (same length everywhere) concatenated in rank order (into `out` when given). */
  allgather(send: Float32Array, out?: Float32Array): Float32Array;
  /** Every rank's bytes (lengths may differ), in rank order. */
  allgatherBytes(send: Uint8Array): Uint8Array[];
  /**
   * Sums `send` (worldSize × n floats) over ranks and returns this rank's n-float slice of the sum
   * (into `out` when given).
   */
  reduceScatterSum(send: Float32Array, out?: Float32Array): Float32Array;
  reduceScatterSumAsync(send: Float32Array, out: Float32Array): CommHandle;
  /**
   * Uneven reduce-scatter (MPI_Reduce_scatter): `send` holds sum(counts) floats, rank r's part of
   * them first-to-last in rank order; this rank receives the sum over ranks of its counts[rank]
   * floats into `out` (counts may be 0: a rank that owns none of the range only contributes).
   */
  reduceScatterSumVAsync(send: Float32Array, counts: readonly number[], out: Float32Array): CommHandle;
  /** Returns once every rank has reached it. */
  barrier(): void;
  /** barrier() on the communication thread, queued behind the collectives started before it (a peer-wait probe). */
  barrierAsync(): CommHandle;
  /**
   * A sub-group (MPI_Comm_split): a collective of this group; the ranks passing the same `color`
   * (an integer >= 0) form one group, ranked by `key`. Its collectives involve only its members.
   */
  split(color: number, key: number): ProcessGroup;
  /** Ends the whole job (every rank) after printing `message`; never returns. */
  abort(message: string, code?: number): never;
  /** Ends the group (MPI_Finalize); collectives afterwards throw. Idempotent. */
  finalize(): void;
  /**
   * The communication thread's cumulative per-collective counters, or null where the transport
   * keeps none (the local group; an MPI addon built before they existed). Cheap (one lock).
   */
  commCounters?(): CommCounters | null;
}

/** reduceScatterSumVAsync's arguments: one count per rank, send = their sum, out = this rank's. */
export function checkScatterCounts(send: Float32Array, counts: readonly number[], out: Float32Array, rank: number, world: number): void {
  if (counts.length !== world || counts.some((c) => !Number.isInteger(c) || c < 0))
    throw new DistributedError(`reduceScatterSumV: ${world} counts (integers >= 0) expected, got [${counts.join(", ")}]`);
  const total = counts.reduce((a, c) => a + c, 0);
  if (send.length !== total || out.length !== counts[rank])
    throw new DistributedError(`reduceScatterSumV: send has ${send.length} floats (the counts sum to ${total}), out ${out.length} (rank ${rank}'s count is ${counts[rank]})`);
}

/** A handle that is already complete. */
export const DONE: CommHandle = { wait() {}, isDone: () => true };

/** The single-process group: rank 0 of 1; collectives are the identity (copies where they return a new array). */
export class LocalGroup implements ProcessGroup {
  readonly backend = "local" as const;
  readonly rank = 0;
  readonly worldSize = 1;
  readonly localRank = 0;
  readonly localWorldSize = 1;
  timeoutMs: number;
  private finalized = false;

  constructor(opts: { timeoutSeconds?: number } = {}) {
    this.timeoutMs = (opts.timeoutSeconds ?? 1800) * 1000;
  }

  private live(what: string): void {
    if (this.finalized) throw new DistributedError(`${what} after finalize() on the local group`);
  }

  allreduceSum(_buf: Float32Array): void {
    this.live("allreduceSum");
  }
  allreduceSumAsync(_buf: Float32Array): CommHandle {
    this.live("allreduceSumAsync");
    return DONE;
  }
  broadcast(_buf: ArrayBufferView, root = 0): void {
    this.live("broadcast");
    if (root !== 0) throw new DistributedError(`broadcast root ${root} does not exist in a group of 1`);
  }
  allgather(send: Float32Array, out?: Float32Array): Float32Array {
    this.live("allgather");
    const o = out ?? new Float32Array(send.length);
    if (o.length !== send.length) throw new DistributedError(`allgather: out has ${o.length} floats, expected ${send.length}`);
    o.set(send);
    return o;
  }
  allgatherBytes(send: Uint8Array): Uint8Array[] {
    this.live("allgatherBytes");
    return [send.slice()];
  }
  reduceScatterSum(send: Float32Array, out?: Float32Array): Float32Array {
    this.live("reduceScatterSum");
    const o = out ?? new Float32Array(send.length);
    if (o.length !== send.length) throw new DistributedError(`reduceScatterSum: out has ${o.length} floats, expected ${send.length}`);
    o.set(send);
    return o;
  }
  reduceScatterSumAsync(send: Float32Array, out: Float32Array): CommHandle {
    this.reduceScatterSum(send, out);
    return DONE;
  }
  reduceScatterSumVAsync(send: Float32Array, counts: readonly number[], out: Float32Array): CommHandle {
    checkScatterCounts(send, counts, out, 0, 1);
    this.reduceScatterSum(send, out);
    return DONE;
  }
  barrier(): void {
    this.live("barrier");
  }
  barrierAsync(): CommHandle {
    this.barrier();
    return DONE;
  }
  /** A single-process group is its own only sub-group: a new group of 1. */
  split(color: number, key: number): ProcessGroup {
    this.live("split");
    if (!Number.isInteger(color) || color < 0 || !Number.isInteger(key))
      throw new DistributedError(`split: color must be an integer >= 0 and key an integer, got ${color}, ${key}`);
    return new LocalGroup({ timeoutSeconds: this.timeoutMs / 1000 });
  }
  abort(message: string, code = 1): never {
    writeStderr(`peft-ts: aborting (exit code ${code || 1}): ${message}\n`);
    exitProcess(code || 1);
  }
  finalize(): void {
    this.finalized = true;
  }
  commCounters(): CommCounters | null {
    return null;
  }
}
