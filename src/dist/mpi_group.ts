// The MPI process group: collectives run on the MPI addon's communication thread (one thread owns
// every MPI call; see native/src/mpi/comm.cc); the JS thread enqueues them and waits with a deadline.
//
// How a stuck or lost peer ends the job (never a hang):
// - every wait has a deadline (the group's timeoutMs, HF's ddp_timeout) and throws a DistributedError
//   naming the collective, its size and the rank; the group is then unusable (the comm thread is still
//   inside that collective): every later collective throws at once;
// - when the process exits while the group is live and not finalized (an uncaught DistributedError,
//   process.exit(n), a normal end without finalize()), an exit hook ends the whole job:
//   a non-zero exit or a pending timeout → MPI_Abort (mpirun then kills every rank); a clean exit →
//   MPI_Finalize with the same deadline, MPI_Abort if that does not return;
// - a rank that dies (a signal, OOM) is noticed by mpirun, which ends the job and names the rank.
import { DistributedError } from "../tensor/errors.js";
import { checkScatterCounts, type CommCounters, type CommHandle, type ProcessGroup } from "./process_group.js";
import type { MpiAddon } from "./mpi_addon.js";
import type { LaunchEnv } from "./launch_env.js";

const secs = (ms: number): string => `${Number((ms / 1000).toFixed(3))} s`;

class MpiHandle implements CommHandle {
  private done = false;
  constructor(private readonly group: MpiGroup, private readonly id: number, readonly what: string, private readonly after?: () => void) {}

  wait(timeoutMs?: number): void {
    if (this.done) return;
    const ms = timeoutMs ?? this.group.timeoutMs;
    let ok: boolean;
    try {
      ok = this.group.addon.wait(this.id, Number.isFinite(ms) ? Math.max(0, ms) : -1);
    } catch (e) {
      this.done = true;
      throw new DistributedError(`${this.what} failed on ${this.group.where()}: ${(e as Error).message}`);
    }
    if (!ok) {
      const msg = `${this.what} did not complete within ${secs(ms)} on ${this.group.where()}: a peer rank was lost or is stuck (ddp_timeout)`;
      this.group.stuck(this, msg);
      throw new DistributedError(msg);
    }
    this.done = true;
    this.after?.();
  }

  isDone(): boolean {
    return this.done || this.group.addon.test(this.id);
  }
}

export interface MpiGroupInfo {
  /** The MPI library's version line. */
  version: string;
  /** The thread level MPI granted (MPI_THREAD_FUNNELED = 1 is what the comm thread asks for). */
  threadLevel: number;
  /** The libmpi that was promoted to global symbol visibility before MPI_Init ("" if none). */
  promoted: string;
}

export class MpiGroup implements ProcessGroup {
  readonly backend = "mpi" as const;
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly localWorldSize: number;
  readonly info: MpiGroupInfo;
  timeoutMs: number;
  /** The communicator's id in the addon (0: MPI_COMM_WORLD; sub-groups from split). */
  readonly comm: number;
  /** The world group this one was split from (itself for the world group). */
  readonly world: MpiGroup;
  private seq = 0;
  private finalized = false;
  /** A timed-out wait on any group of the process (they share one comm thread, so all are unusable). */
  private shared: { pending: { handle: MpiHandle; msg: string } | null };
  /** The uncaught exception that is ending the process, if any (its stack goes into the abort message). */
  private fatal: unknown = undefined;

  constructor(readonly addon: MpiAddon, launch: LaunchEnv, opts: { timeoutMs: number }, sub?: { parent: MpiGroup; comm: number; rank: number; size: number }) {
    this.timeoutMs = opts.timeoutMs;
    if (sub) {
      // a sub-communicator: MPI is running already; the world group owns the exit hooks
      this.comm = sub.comm;
      this.world = sub.parent.world;
      this.shared = sub.parent.shared;
      this.rank = sub.rank;
      this.worldSize = sub.size;
      this.localRank = launch.localRank;
      this.localWorldSize = launch.localSize;
      this.info = sub.parent.info;
      return;
    }
    this.comm = 0;
    this.world = this;
    this.shared = { pending: null };
    let init: ReturnType<MpiAddon["init"]>;
    // the comm thread waits inside blocking MPI calls, which OpenMPI busy-polls: yield the core to the
    // compute thread meanwhile (read by MPI_Init below; an explicit setting is kept)
    process.env.OMPI_MCA_mpi_yield_when_idle ??= "1";
    try {
      init = addon.init(Math.max(60_000, Number.isFinite(opts.timeoutMs) ? opts.timeoutMs : 60_000));
    } catch (e) {
      throw new DistributedError(`MPI initialisation failed on rank ${launch.rank}: ${(e as Error).message}`);
    }
    this.rank = init.rank;
    this.worldSize = init.size;
    this.localRank = launch.localRank;
    this.localWorldSize = launch.localSize;
    this.info = { version: init.version, threadLevel: init.threadLevel, promoted: init.promoted };
    if (!init.funneled) {
      this.addon.abort(`MPI granted thread level ${init.threadLevel}, below MPI_THREAD_FUNNELED`, 1);
    }
    // node emits 'exit' before it prints an uncaught exception, and abort does not return: keep it
    process.on("uncaughtExceptionMonitor", (err) => (this.fatal = err));
    process.on("exit", (code) => this.onExit(code));
  }

  /** "rank 0 of 2" (a sub-group: "rank 0 of 2 in a sub-group of world rank 2 of 4") */
  where(): string {
    const w = this.world === this ? "" : ` in a sub-group of world rank ${this.world.rank} of ${this.world.worldSize}`;
    return `rank ${this.rank} of ${this.worldSize}${w}`;
  }

  /** Called by a handle whose wait passed its deadline. */
  stuck(handle: MpiHandle, msg: string): void {
    this.shared.pending = { handle, msg };
  }

  private get pending(): { handle: MpiHandle; msg: string } | null {
    return this.shared.pending;
  }

  private start(what: string, n: number | null, unit: string, enqueue: () => number, after?: () => void): MpiHandle {
    if (this.finalized || this.world.finalized) throw new DistributedError(`${what} after finalize() on ${this.where()}`);
    if (this.shared.pending) {
      if (!this.shared.pending.handle.isDone())
        throw new DistributedError(`${what} on ${this.where()}: the group is unusable after an earlier timeout (${this.shared.pending.msg})`);
      this.shared.pending = null;
    }
    const desc = `${what} #${++this.seq}${n === null ? "" : ` (${n} ${unit})`}`;
    return new MpiHandle(this, enqueue(), desc, after);
  }

  allreduceSum(buf: Float32Array): void {
    this.allreduceSumAsync(buf).wait();
  }
  allreduceSumAsync(buf: Float32Array): CommHandle {
    return this.start("allreduce", buf.length, "floats", () => this.addon.allreduce(buf, this.comm));
  }

  broadcast(buf: ArrayBufferView, root = 0): void {
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize)
      throw new DistributedError(`broadcast root ${root} does not exist in a group of ${this.worldSize}`);
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    this.start("broadcast", bytes.length, "bytes", () => this.addon.bcast(bytes, root, this.comm)).wait();
  }

  allgather(send: Float32Array, out?: Float32Array): Float32Array {
    const o = out ?? new Float32Array(send.length * this.worldSize);
    if (o.length !== send.length * this.worldSize)
      throw new DistributedError(`allgather: out has ${o.length} floats, expected ${send.length} × ${this.worldSize}`);
    this.start("allgather", send.length, "floats", () => this.addon.allgather(send, o, this.comm)).wait();
    return o;
  }

  allgatherBytes(send: Uint8Array): Uint8Array[] {
    let id = 0;
    let parts: Uint8Array[] = [];
    const h = this.start("allgatherBytes", send.length, "bytes", () => (id = this.addon.allgatherBytes(send, this.comm)), () => {
      const { data, counts } = this.addon.takeBytes(id);
      let off = 0;
      parts = counts.map((n) => data.subarray(off, (off += n)));
    });
    h.wait();
    return parts;
  }

  reduceScatterSum(send: Float32Array, out?: Float32Array): Float32Array {
    const o = out ?? new Float32Array(send.length / this.worldSize);
    this.reduceScatterSumAsync(send, o).wait();
    return o;
  }
  reduceScatterSumAsync(send: Float32Array, out: Float32Array): CommHandle {
    if (send.length % this.worldSize !== 0 || out.length * this.worldSize !== send.length)
      throw new DistributedError(`reduceScatterSum: send has ${send.length} floats, out ${out.length}: send must be out × ${this.worldSize}`);
    return this.start("reduceScatter", out.length, "floats per rank", () => this.addon.reduceScatter(send, out, this.comm));
  }

  reduceScatterSumVAsync(send: Float32Array, counts: readonly number[], out: Float32Array): CommHandle {
    checkScatterCounts(send, counts, out, this.rank, this.worldSize);
    if (this.addon.reduceScatterV) {
      const c = Int32Array.from(counts);
      return this.start("reduceScatterV", send.length, "floats", () => this.addon.reduceScatterV!(send, out, c, this.comm));
    }
    // an addon built before reduceScatterV: equal blocks of the largest count, zero-padded (more bytes, same sums)
    const w = Math.max(0, ...counts);
    const padded = new Float32Array(w * this.worldSize), mine = new Float32Array(w);
    let at = 0;
    counts.forEach((c, r) => { padded.set(send.subarray(at, at + c), r * w); at += c; });
    return this.start("reduceScatter", w, "floats per rank", () => this.addon.reduceScatter(padded, mine, this.comm), () => out.set(mine.subarray(0, out.length)));
  }

  barrierAsync(): CommHandle {
    return this.start("barrier", null, "", () => this.addon.barrier(this.comm));
  }

  commCounters(): CommCounters | null {
    return this.addon.counters ? this.addon.counters() : null;
  }

  barrier(): void {
    this.start("barrier", null, "", () => this.addon.barrier(this.comm)).wait();
  }

  /**
   * MPI_Comm_split: a collective over this group; the processes passing the same color form one new
   * group, ranked by key (ties: by rank here). Every rank must call it, in the same order as its
   * other collectives; the new group's ops run on the same comm thread, in submission order.
   */
  split(color: number, key: number): MpiGroup {
    if (!Number.isInteger(color) || color < 0 || !Number.isInteger(key))
      throw new DistributedError(`split: color must be an integer >= 0 and key an integer, got ${color}, ${key}`);
    let id = 0;
    let res = { comm: 0, rank: 0, size: 0 };
    this.start("split", null, "", () => (id = this.addon.split(color, key, this.comm)), () => (res = this.addon.takeSplit(id))).wait();
    return new MpiGroup(this.addon, { rank: this.world.rank, size: this.world.worldSize, localRank: this.localRank, localSize: this.localWorldSize }, { timeoutMs: this.timeoutMs }, { parent: this, ...res });
  }

  abort(message: string, code = 1): never {
    this.addon.abort(`${this.where()}: ${message}`, code || 1);
  }

  /** The world group: MPI_Finalize. A sub-group: only this group becomes unusable. */
  finalize(): void {
    if (this.finalized) return;
    if (this.world !== this) {
      this.finalized = true;
      return;
    }
    const h = this.start("finalize", null, "", () => this.addon.finalize());
    this.finalized = true;
    h.wait();
  }

  private onExit(code: number): void {
    if (this.finalized) return;
    if (code !== 0 || this.pending) {
      const err = this.fatal instanceof Error ? (this.fatal.stack ?? this.fatal.message) : this.fatal !== undefined ? String(this.fatal) : null;
      const why = err !== null ? `uncaught ${err}` : this.pending ? this.pending.msg : `exiting with code ${code} without finalize()`;
      this.addon.abort(`rank ${this.rank} of ${this.worldSize}: ${why}`, code || 1);
    }
    try {
      this.finalize();
    } catch (e) {
      this.addon.abort(`rank ${this.rank} of ${this.worldSize}: ${(e as Error).message}`, 1);
    }
  }
}
