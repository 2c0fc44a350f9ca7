// The bucket machinery that DDP's allreduce (ddp_grads.ts) and ZeRO stage 2's reduce-scatter
// (zero_grads.ts) share: the autograd leaf hook counts each bucket's parameters down as their final
// gradients arrive, and buckets are launched strictly in bucket order on every rank (a ready bucket
// waits for the ones before it), so the ranks issue the same collectives in the same order while
// backward goes on. What a launch communicates is the subclass's `launchBucket`. The order the
// parameters' gradients became ready in the last armed pass is kept (`readyOrder`), and a subclass
// may replace the buckets between passes (`setBuckets`: DDP's rebuild after the first iteration).
// With `stats` set, each pass's figures are recorded (comm_stats.ts: a probe barrier before every
// bucket splits the communication thread's time into peer wait and transfer).

import type { Tensor } from "../tensor/tensor.js";
import { setLeafGradHook, LeafGradHook } from "../tensor/autograd.js";
import type { CommCounters, CommHandle, ProcessGroup } from "../dist/process_group.js";
import type { FlatGrads } from "./optim/optimizer.js";
import { DdpStats, hiddenShare } from "./comm_stats.js";

export abstract class LeafGradBuckets<B extends { params: number[] }> {
  private readonly index = new Map<Tensor, number>();
  private bucketsOf: number[][] = [];
  private remaining: number[] = [];
  private readonly seen: Uint8Array;
  protected handles: CommHandle[] = [];
  private next = 0;
  private prevHook: LeafGradHook | null = null;
  private armed = false;
  /** Buckets started from inside backward in the last synced pass (the rest started after it). */
  startedDuringBackward = 0;
  /** Parameter indices in the order their final gradients arrived in the last armed pass (unused ones absent). */
  readyOrder: number[] = [];
  private _buckets: B[] = [];
  /** Set to collect per-pass figures (off: no clock reads, no counters, no probes). */
  stats: DdpStats | null = null;
  private t0 = 0;
  private c0: CommCounters | null = null;
  private probes: CommHandle[] = [];

  constructor(protected readonly flat: FlatGrads, protected readonly group: ProcessGroup, buckets: B[]) {
    flat.params.forEach((p, i) => this.index.set(p, i));
    this.seen = new Uint8Array(flat.params.length);
    this.setBuckets(buckets);
  }

  get buckets(): readonly B[] {
    return this._buckets;
  }

  /** Replaces the buckets (between passes only: every rank must do the same). */
  protected setBuckets(buckets: B[]): void {
    if (this.armed) throw new Error("LeafGradBuckets.setBuckets during an armed pass");
    this._buckets = buckets;
    this.bucketsOf = this.flat.params.map(() => []);
    buckets.forEach((b, bi) => { for (const i of b.params) this.bucketsOf[i].push(bi); });
  }

  /** Starts bucket k's collective (attaching its parameters' gradients first). */
  protected abstract launchBucket(k: number, b: B): CommHandle;
  /** The counters' kind of the collective launchBucket makes. */
  protected abstract readonly counterKind: "allreduce" | "reduceScatter";
  /** Bytes this rank puts into one pass's collectives. */
  protected abstract passBytes(): number;

  /** Called by arm() just before the hook is installed. */
  protected onArm(): void {}

  /** Called at the end of finish(), every bucket done (no collective in flight). */
  protected afterPass(): void {}

  /** Before the backward that completes the step's gradients: buckets start as they fill. */
  arm(): void {
    this.remaining = this.buckets.map((b) => b.params.length);
    this.seen.fill(0);
    this.handles = [];
    this.next = 0;
    this.startedDuringBackward = 0;
    this.readyOrder = [];
    this.armed = true;
    this.probes = [];
    if (this.stats) {
      this.c0 = this.group.commCounters?.() ?? null;
      this.t0 = performance.now();
    }
    this.onArm();
    this.prevHook = setLeafGradHook((leaf) => this.onLeaf(leaf));
  }

  private onLeaf(leaf: Tensor): void {
    const i = this.index.get(leaf);
    if (i === undefined || this.seen[i]) return;
    this.seen[i] = 1;
    this.readyOrder.push(i);
    this.flat.attachOne(i);
    for (const bi of this.bucketsOf[i]) this.remaining[bi]--;
    while (this.next < this.buckets.length && this.remaining[this.next] === 0) {
      this.launch();
      this.startedDuringBackward++;
    }
  }

  private launch(): void {
    const k = this.next++;
    if (this.stats && this.c0) this.probes.push(this.group.barrierAsync());
    this.handles.push(this.launchBucket(k, this.buckets[k]));
  }

  protected attachParams(b: B): void {
    for (const i of b.params) this.flat.attachOne(i);
  }

  /** Starts the buckets not started yet (unused parameters). */
  protected launchRest(): void {
    while (this.next < this.buckets.length) this.launch();
  }

  /** finish() after the hook is removed: launches the rest and waits for all (timed with `stats`). */
  protected complete(): void {
    const t1 = performance.now();
    this.launchRest();
    const stats = this.stats;
    let waitMs = 0;
    for (const h of this.handles) {
      const w = stats ? performance.now() : 0;
      h.wait();
      if (stats) waitMs += performance.now() - w;
    }
    this.waitAll();
    if (stats) this.record(stats, t1, waitMs);
  }

  private record(stats: DdpStats, t1: number, waitMs: number): void {
    const t2 = performance.now();
    const c1 = this.c0 ? this.group.commCounters?.() ?? null : null;
    const busy = (c: CommCounters | null, k: "barrier" | "allreduce" | "reduceScatter") => c?.[k]?.busyMs ?? 0;
    const transferMs = this.c0 && c1 ? busy(c1, this.counterKind) - busy(this.c0, this.counterKind) : null;
    const peerWaitMs = this.c0 && c1 ? busy(c1, "barrier") - busy(this.c0, "barrier") : null;
    const collectiveMs = transferMs === null ? null : transferMs + peerWaitMs!;
    stats.steps.push({
      buckets: this.buckets.length, startedDuringBackward: this.startedDuringBackward, bytes: this.passBytes(), waitMs, collectiveMs, peerWaitMs, transferMs,
      backwardMs: t1 - this.t0, finishMs: t2 - t1, hiddenShare: hiddenShare(waitMs, collectiveMs),
    });
  }

  protected waitAll(): void {
    for (const h of this.handles) h.wait();
    for (const h of this.probes) h.wait();
    this.handles = [];
    this.probes = [];
  }

  private unhook(): boolean {
    if (!this.armed) return false;
    setLeafGradHook(this.prevHook);
    this.prevHook = null;
    this.armed = false;
    return true;
  }

  /** After that backward: starts the buckets not started yet (unused parameters), waits for all. */
  finish(): void {
    if (!this.unhook()) return;
    this.flat.attach();
    this.complete();
    this.afterPass();
  }

  /** Removes the hook without communicating (an error during backward). */
  disarm(): void {
    if (this.unhook()) this.waitAll();
  }
}
