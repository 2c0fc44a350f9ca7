// ZeRO stage 2's gradient reduction: instead of allreducing the flat gradient buffer, each column
// bucket (zero_partition.ts) is packed (rank r's columns [a, b) at r·(b − a)) and reduce-scattered,
// so this rank receives only the sum of its own slice, into the slice gradient buffer. A bucket
// starts from the autograd leaf hook once every parameter it touches has its final gradient, in
// bucket order on every rank (grad_buckets.ts, shared with ddp_grads.ts). At most two buckets are
// in flight: their packing buffers are the only gradient storage besides the slice; older buckets
// are waited for first.

import type { CommHandle, ProcessGroup } from "../dist/process_group.js";
import type { FlatGrads } from "./optim/optimizer.js";
import { LeafGradBuckets } from "./grad_buckets.js";
import { ColumnBucket, columnBuckets, Partition } from "./zero_partition.js";

const IN_FLIGHT = 2;

export class ZeroGradBuckets extends LeafGradBuckets<ColumnBucket> {
  private readonly staging: Float32Array[];

  /** `slice`: this rank's gradient slice (sliceSize floats), overwritten by every synced backward. */
  constructor(flat: FlatGrads, group: ProcessGroup, private readonly part: Partition,
    readonly slice: Float32Array, capBytes: number) {
    super(flat, group, columnBuckets(part, flat.params.map((p) => p.size), flat.offsets, Math.floor(capBytes / 4)));
    // a bucket of whole slices reduces the (padded) flat buffer itself; narrower ones are packed
    const packed = this.buckets.filter((b) => !this.direct(b));
    const widest = Math.max(0, ...packed.map((b) => b.b - b.a));
    this.staging = Array.from({ length: Math.min(IN_FLIGHT, packed.length) }, () => new Float32Array(widest * part.world));
  }

  private direct(b: ColumnBucket): boolean {
    return b.a === 0 && b.b === this.part.sliceSize && this.flat.buffer.length === this.part.padded;
  }

  /** The packing buffers, free between synced backwards (the parameter allgather borrows them). */
  get scratch(): readonly Float32Array[] {
    return this.staging;
  }

  /** Floats this class holds for gradients: the slice and the packing buffers. */
  get floats(): number {
    return this.slice.length + this.staging.reduce((s, b) => s + b.length, 0);
  }

  protected launchBucket(k: number, b: ColumnBucket): CommHandle {
    const w = b.b - b.a, { sliceSize: S, total, world } = this.part;
    if (k >= IN_FLIGHT) this.handles[k - IN_FLIGHT].wait();
    this.attachParams(b);
    const buf = this.flat.buffer;
    if (this.direct(b)) return this.group.reduceScatterSumAsync(buf, this.slice);
    const send = this.staging[k % IN_FLIGHT].subarray(0, w * world);
    for (let r = 0; r < world; r++) {
      const lo = r * S + b.a, hi = Math.min(r * S + b.b, total);
      const dst = send.subarray(r * w, (r + 1) * w);
      if (hi > lo) dst.set(buf.subarray(lo, hi));
      dst.fill(0, Math.max(0, hi - lo));
    }
    return this.group.reduceScatterSumAsync(send, this.slice.subarray(b.a, b.b));
  }
}
