// ZeRO stage 2's gradient reduction: instead of allreducing the flat gradient buffer, each column
// bucket (zero_partition.ts) is packed (rank r's columns [a, b) at r·(b − a)) and reduce-scattered,
// so this rank receives only the sum of its own slice, into the slice gradient buffer. A bucket
// starts from the autograd leaf hook once every parameter it touches has its final gradient, in
// bucket order on every rank (as ddp_grads.ts). At most two buckets are in flight: their packing
// buffers are the only gradient storage besides the slice; older buckets are waited for first.

import type { Tensor } from "../tensor/tensor.js";
import { setLeafGradHook, LeafGradHook } from "../tensor/autograd.js";
import type { CommHandle, ProcessGroup } from "../dist/process_group.js";
import type { FlatGrads } from "./optim/optimizer.js";
import { ColumnBucket, columnBuckets, Partition } from "./zero_partition.js";

const IN_FLIGHT = 2;

export class ZeroGradBuckets {
  readonly buckets: ColumnBucket[];
  private readonly index = new Map<Tensor, number>();
  private readonly bucketsOf: number[][];
  private readonly staging: Float32Array[];
  private remaining: number[] = [];
  private seen: Uint8Array;
  private handles: CommHandle[] = [];
  private next = 0;
  private prevHook: LeafGradHook | null = null;
  private armed = false;
  /** Buckets started from inside backward in the last pass. */
  startedDuringBackward = 0;

  /** `slice`: this rank's gradient slice (sliceSize floats), overwritten by every synced backward. */
  constructor(private readonly flat: FlatGrads, private readonly group: ProcessGroup, private readonly part: Partition,
    readonly slice: Float32Array, capBytes: number) {
    const sizes = flat.params.map((p) => p.size);
    this.buckets = columnBuckets(part, sizes, flat.offsets, Math.floor(capBytes / 4));
    this.bucketsOf = flat.params.map(() => []);
    this.buckets.forEach((b, bi) => { for (const i of b.params) this.bucketsOf[i].push(bi); });
    flat.params.forEach((p, i) => this.index.set(p, i));
    this.seen = new Uint8Array(flat.params.length);
    // a bucket of whole slices reduces the (padded) flat buffer itself; narrower ones are packed
    const packed = this.buckets.filter((b) => !this.direct(b));
    const widest = Math.max(0, ...packed.map((b) => b.b - b.a));
    this.staging = Array.from({ length: Math.min(IN_FLIGHT, packed.length) }, () => new Float32Array(widest * part.world));
  }

  private direct(b: ColumnBucket): boolean {
    return b.a === 0 && b.b === this.part.sliceSize && this.flat.buffer.length === this.part.padded;
  }

  /** Floats this class holds for gradients: the slice and the packing buffers. */
  get floats(): number {
    return this.slice.length + this.staging.reduce((s, b) => s + b.length, 0);
  }

  arm(): void {
    this.remaining = this.buckets.map((b) => b.params.length);
    this.seen.fill(0);
    this.handles = [];
    this.next = 0;
    this.startedDuringBackward = 0;
    this.armed = true;
    this.prevHook = setLeafGradHook((leaf) => this.onLeaf(leaf));
  }

  private onLeaf(leaf: Tensor): void {
    const i = this.index.get(leaf);
    if (i === undefined || this.seen[i]) return;
    this.seen[i] = 1;
    this.flat.attachOne(i);
    for (const bi of this.bucketsOf[i]) this.remaining[bi]--;
    while (this.next < this.buckets.length && this.remaining[this.next] === 0) {
      this.launch();
      this.startedDuringBackward++;
    }
  }

  private launch(): void {
    const k = this.next++;
    const b = this.buckets[k], w = b.b - b.a, { sliceSize: S, total, world } = this.part;
    if (k >= IN_FLIGHT) this.handles[k - IN_FLIGHT].wait();
    for (const i of b.params) this.flat.attachOne(i);
    const buf = this.flat.buffer;
    if (this.direct(b)) {
      this.handles.push(this.group.reduceScatterSumAsync(buf, this.slice));
      return;
    }
    const send = this.staging[k % IN_FLIGHT].subarray(0, w * world);
    for (let r = 0; r < world; r++) {
      const lo = r * S + b.a, hi = Math.min(r * S + b.b, total);
      const dst = send.subarray(r * w, (r + 1) * w);
      if (hi > lo) dst.set(buf.subarray(lo, hi));
      dst.fill(0, Math.max(0, hi - lo));
    }
    this.handles.push(this.group.reduceScatterSumAsync(send, this.slice.subarray(b.a, b.b)));
  }

  /** After the backward: starts the buckets not started yet, waits for all; the slice then holds the sum. */
  finish(): void {
    if (!this.armed) return;
    setLeafGradHook(this.prevHook);
    this.prevHook = null;
    this.armed = false;
    this.flat.attach();
    while (this.next < this.buckets.length) this.launch();
    for (const h of this.handles) h.wait();
    this.handles = [];
  }

  disarm(): void {
    if (!this.armed) return;
    setLeafGradHook(this.prevHook);
    this.prevHook = null;
    this.armed = false;
    for (const h of this.handles) h.wait();
    this.handles = [];
  }
}
