// Gradient buckets of data-parallel training (PyTorch DDP's Reducer): the flat gradient buffer
// of the trainable parameters is cut into buckets of about ddp_bucket_cap_mb (the first one at most
// 1 MiB, so communication starts early), filled in reverse parameter order (backward produces the
// last layers' gradients first), then, after the first synced pass, once more in the order the
// gradients actually became ready on rank 0. Each bucket is a contiguous view of the buffer, summed
// in place over the ranks with allreduceSumAsync as soon as every parameter in it has its final
// gradient (the autograd leaf hook), so communication runs while backward goes on; the hook and the
// bucket order are grad_buckets.ts.

import type { CommHandle, ProcessGroup } from "../dist/process_group.js";
import type { FlatGrads } from "./optim/optimizer.js";
import { LeafGradBuckets } from "./grad_buckets.js";

export { DdpStats, hiddenShare, type DdpStepStats } from "./comm_stats.js";

export interface Bucket {
  /** Parameter indices (into FlatGrads.params), in the order they were assigned. */
  params: number[];
  /** The bucket's range of the flat buffer, [start, end) in elements. */
  start: number;
  end: number;
}

/** PyTorch DDP's cap of the first bucket (`dist._DEFAULT_FIRST_BUCKET_BYTES`): small, so communication starts early. */
export const FIRST_BUCKET_BYTES = 1024 * 1024;

/**
 * Buckets of at most capBytes (the first one, filled first, at most firstCapBytes; a parameter larger
 * than the cap gets a bucket of its own), filled in `order`: the order the gradients become ready,
 * by default from the last parameter to the first. Each bucket is one contiguous range of the flat
 * buffer (parameters lie in index order in it): a parameter joins the current bucket when the range
 * covering both stays within the cap and holds no parameter of an earlier bucket; parameters inside
 * that range not seen yet join the bucket when it closes (it then waits for them too).
 */
export function assignBuckets(
  sizes: readonly number[], offsets: readonly number[], capBytes: number,
  opts: { firstCapBytes?: number; order?: readonly number[] } = {},
): Bucket[] {
  const n = sizes.length;
  const order = opts.order ?? sizes.map((_, i) => n - 1 - i);
  const owner = new Int32Array(n).fill(-1);
  const out: Bucket[] = [];
  let lo = -1, hi = -1; // the current bucket's parameter index range
  const close = () => {
    if (lo < 0) return;
    const k = out.length - 1;
    for (let j = lo; j <= hi; j++) if (owner[j] === -1) { owner[j] = k; out[k].params.push(j); }
    out[k].start = offsets[lo];
    out[k].end = offsets[hi] + sizes[hi];
    lo = hi = -1;
  };
  for (const i of order) {
    if (owner[i] !== -1) continue;
    if (lo >= 0) {
      const a = Math.min(lo, i), b = Math.max(hi, i);
      const cap = out.length === 1 ? Math.min(capBytes, opts.firstCapBytes ?? capBytes) : capBytes;
      let free = (offsets[b] + sizes[b] - offsets[a]) * 4 <= cap;
      for (let j = a; free && j <= b; j++) if (owner[j] !== -1 && owner[j] !== out.length - 1) free = false;
      if (free) {
        owner[i] = out.length - 1;
        out[out.length - 1].params.push(i);
        lo = a;
        hi = b;
        continue;
      }
      close();
    }
    owner[i] = out.length;
    out.push({ params: [i], start: offsets[i], end: offsets[i] + sizes[i] });
    lo = hi = i;
  }
  close();
  return out;
}

/** Allreduce of the flat gradient buffer in buckets, overlapped with backward. */
export class GradBuckets extends LeafGradBuckets<Bucket> {
  protected readonly counterKind = "allreduce";

  /** Whether the buckets were rebuilt from the first pass's ready order (once, as PyTorch DDP). */
  rebuilt = false;

  constructor(flat: FlatGrads, group: ProcessGroup, private readonly capBytes: number) {
    super(flat, group, assignBuckets(flat.params.map((p) => p.size), flat.offsets, capBytes, { firstCapBytes: FIRST_BUCKET_BYTES }));
  }

  /**
   * After the first synced pass: the buckets again, filled in the order the gradients became ready on
   * rank 0 (broadcast, so every rank gets the same buckets; parameters that got no gradient go last,
   * from the last to the first).
   */
  protected override afterPass(): void {
    if (this.rebuilt) return;
    this.rebuilt = true;
    const n = this.flat.params.length;
    const buf = new Int32Array(n).fill(-1);
    this.readyOrder.forEach((p, k) => { buf[k] = p; });
    this.group.broadcast(buf, 0);
    const order = Array.from(buf).filter((p) => p >= 0);
    const seen = new Set(order);
    for (let i = n - 1; i >= 0; i--) if (!seen.has(i)) order.push(i);
    const next = assignBuckets(this.flat.params.map((p) => p.size), this.flat.offsets, this.capBytes, { firstCapBytes: FIRST_BUCKET_BYTES, order });
    if (JSON.stringify(next) !== JSON.stringify(this.buckets)) this.setBuckets(next);
  }

  protected passBytes(): number {
    return this.buckets.reduce((a, b) => a + (b.end - b.start) * 4, 0);
  }

  protected launchBucket(_k: number, b: Bucket): CommHandle {
    this.attachParams(b);
    return this.group.allreduceSumAsync(this.flat.buffer.subarray(b.start, b.end));
  }
}
