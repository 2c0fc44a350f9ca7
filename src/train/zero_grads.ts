// ZeRO stage 2's gradient reduction, with no full-size gradient buffer (docs/DESIGN.md, "ZeRO-2
// that shards the gradients"). The parameters' flat layout (an unbacked FlatGrads: offsets only)
// is cut into contiguous ranges in backward order (assignBuckets, as DDP's buckets). Once every
// parameter of a range has its final gradient (the autograd leaf hook, grad_buckets.ts), the range
// is reduce-scattered with uneven counts (MPI_Reduce_scatter: each rank receives the part of the
// range inside its own slice, possibly none) straight into this rank's persistent slice buffer,
// and the parameters' .grad tensors are dropped: a range of one parameter is sent from its
// gradient tensor itself (dropped once the collective is done; at most max(two buckets, the largest
// parameter) of such sends in flight, then the oldest is waited for), a wider one is packed into one of
// two staging buffers of at most a bucket (dropped right after packing; at most two packed ranges
// in flight, the older one waited for first). So at no point of backward are all gradients alive.
// Buckets are capped at ddp_bucket_cap_mb and at 1/8 of a slice (zeroBucketCapBytes), so the
// staging never costs more than a quarter of what the slice saves.
// Accumulation: every micro-batch's backward communicates (no no_sync, as DeepSpeed's ZeRO-2):
// before the collective this rank adds the slice's running sum into its own part of the send, so
// what it receives is the running sum plus this micro-batch's sum over the ranks. The sum starts
// anew after each optimizer step (`restart`).
// Embedding tables stay row-sparse (src/tensor/sparse_grad.ts): while armed, every parameter has a
// sparse-gradient sink, so an embedding's backward hands over only the rows its ids touched and no
// dense [V, D] gradient ever exists. A one-parameter bucket wider than a packed bucket is
// reduce-scattered in chunks of at most that width, on every rank alike whether the gradient is sparse
// or dense: a sparse one is densified chunk by chunk into the staging buffers, a dense one is sent from
// views of its tensor.

import type { CommHandle, ProcessGroup } from "../dist/process_group.js";
import type { FlatGrads } from "./optim/optimizer.js";
import { LeafGradBuckets } from "./grad_buckets.js";
import { assignBuckets, FIRST_BUCKET_BYTES, type Bucket } from "./ddp_grads.js";
import { sliceRange, type Partition } from "./zero_partition.js";
import { setSparseGradSink, type SparseRows } from "../tensor/sparse_grad.js";

/** One reduce-scatter of part of a chunked bucket: flat range [start, end) and the floats each rank receives of it. */
interface Chunk {
  start: number;
  end: number;
  counts: number[];
}

const IN_FLIGHT = 2;
/** A packed bucket holds at most 1/8 of a slice (and at most ddp_bucket_cap_mb): the two staging buffers stay ≤ 1/4 of the slice. */
const SLICE_SHARE = 8;

/** Stage 2's bucket cap in bytes for a slice of sliceSize floats and the run's ddp_bucket_cap_mb. */
export function zeroBucketCapBytes(sliceSize: number, capBytes: number): number {
  return Math.max(4, Math.min(capBytes, 4 * Math.floor(sliceSize / SLICE_SHARE)));
}

export class ZeroGradBuckets extends LeafGradBuckets<Bucket> {
  protected readonly counterKind = "reduceScatter";
  private staging: Float32Array[];
  /** Floats in a chunk of a one-parameter bucket sent in pieces (a packed bucket's cap). */
  private readonly chunkFloats: number;
  private readonly range: { start: number; end: number };
  /** Floats each rank receives of each bucket (index: bucket, rank). */
  private readonly counts: number[][];
  /** The slice holds a running sum to add to (false: the next pass overwrites it). */
  private accumulating = false;
  private packed = 0;
  /** The packed buckets' handles in launch order (their staging buffers are reused two apart). */
  private packedHandles: CommHandle[] = [];
  /** Direct sends in flight, oldest first: their parameters keep .grad until the collective is done. */
  private sending: { handle: CommHandle; params: number[]; floats: number }[] = [];
  /** The most floats of direct sends in flight; more waits for the oldest (a late peer holds this rank's backward). */
  private readonly sendBudget: number;
  /** The most parameter-gradient floats alive at once during a pass (measured at every bucket start), row-sparse ones included. */
  peakParamGradFloats = 0;
  /** Per bucket: its chunks when it is a one-parameter bucket sent in pieces, else null. */
  private readonly chunks: (Chunk[] | null)[];
  /** Row-sparse gradients received in this pass, by parameter index. */
  private readonly sparse = new Map<number, SparseRows[]>();

  /** `slice`: this rank's gradient slice (sliceSize floats): the sum over the ranks (and micro-batches) of its part. */
  constructor(flat: FlatGrads, group: ProcessGroup, private readonly part: Partition, readonly slice: Float32Array, capBytes: number) {
    super(flat, group, assignBuckets(flat.params.map((p) => p.size), flat.offsets, zeroBucketCapBytes(part.sliceSize, capBytes), { firstCapBytes: FIRST_BUCKET_BYTES }));
    this.range = sliceRange(part, group.rank);
    // floats of flat [lo, hi) inside each rank's slice
    const countsOf = (lo: number, hi: number) => Array.from({ length: part.world }, (_, r) => {
      const { start, end } = sliceRange(part, r);
      return Math.max(0, Math.min(hi, end) - Math.max(lo, start));
    });
    this.counts = this.buckets.map((b) => countsOf(b.start, b.end));
    const cap = zeroBucketCapBytes(part.sliceSize, capBytes) / 4;
    this.chunks = this.buckets.map((b) => {
      if (b.params.length > 1 || b.end - b.start <= cap) return null;
      const out: Chunk[] = [];
      for (let lo = b.start; lo < b.end; lo += cap) {
        const hi = Math.min(b.end, lo + cap);
        out.push({ start: lo, end: hi, counts: countsOf(lo, hi) });
      }
      return out;
    });
    // staging for the packed buckets; the chunks of a row-sparse gradient widen it to a chunk when one first comes
    this.chunkFloats = cap;
    const widest = Math.max(0, ...this.buckets.filter((b) => b.params.length > 1).map((b) => b.end - b.start));
    const packedCount = this.buckets.filter((b) => b.params.length > 1).length;
    this.staging = Array.from({ length: Math.min(IN_FLIGHT, packedCount) }, () => new Float32Array(widest));
    this.sendBudget = Math.max(IN_FLIGHT * cap, ...flat.params.map((p) => p.size));
  }

  /** The flat ranges bucket k sends, one collective each: the bucket, or its chunks. */
  sendRanges(k: number): { start: number; end: number }[] {
    const b = this.buckets[k];
    return this.chunks[k]?.map((c) => ({ start: c.start, end: c.end })) ?? [{ start: b.start, end: b.end }];
  }

  /** The packing buffers, free between backwards (the parameter allgather borrows them). */
  get scratch(): readonly Float32Array[] {
    return this.staging;
  }

  /** Floats kept between passes for gradients: the slice and the packing buffers. */
  get persistentFloats(): number {
    return this.slice.length + this.staging.reduce((s, b) => s + b.length, 0);
  }

  /** The most gradient floats alive at once: the persistent ones plus the peak of the parameters' own .grad tensors. */
  get floats(): number {
    return this.persistentFloats + this.peakParamGradFloats;
  }

  /** After the optimizer step (or its skip): the next backward starts a new sum. */
  restart(): void {
    this.accumulating = false;
  }

  protected passBytes(): number {
    return this.flat.total * 4;
  }

  protected override onArm(): void {
    this.packed = 0;
    this.packedHandles = [];
    this.sending = [];
    this.sparse.clear();
    this.flat.params.forEach((p, i) => setSparseGradSink(p, (r) => {
      const list = this.sparse.get(i);
      if (list) list.push(r);
      else this.sparse.set(i, [r]);
    }));
  }

  private liveParamGradFloats(): number {
    let n = 0;
    for (const p of this.flat.params) if (p.grad) n += p.size;
    for (const list of this.sparse.values()) for (const r of list) n += r.rows.length;
    return n;
  }

  /** Two staging buffers of at least a chunk (once, at the first row-sparse chunked gradient; between collectives that use them). */
  private widenStaging(): void {
    if (this.staging.length === IN_FLIGHT && this.staging.every((b) => b.length >= this.chunkFloats)) return;
    for (const h of this.packedHandles) h.wait();
    const w = Math.max(this.chunkFloats, ...this.staging.map((b) => b.length));
    this.staging = Array.from({ length: IN_FLIGHT }, (_, j) => (this.staging[j]?.length === w ? this.staging[j] : new Float32Array(w)));
  }

  /** The next staging buffer, once the collective that used it two launches ago is done. */
  private nextStaging(): Float32Array | undefined {
    const j = this.packed++;
    if (j >= IN_FLIGHT) this.packedHandles[j - IN_FLIGHT].wait();
    return this.staging[j % IN_FLIGHT];
  }

  /** Adds this rank's running sum into its own part of a send covering flat [start, start + buf.length). */
  private addRunningSum(buf: Float32Array, start: number): void {
    if (!this.accumulating) return;
    const lo = Math.max(start, this.range.start), hi = Math.min(start + buf.length, this.range.end);
    for (let i = lo; i < hi; i++) buf[i - start] += this.slice[i - this.range.start];
  }

  /** This rank's part of the slice for flat [start, end). */
  private sliceOut(start: number, end: number): Float32Array {
    const lo = Math.max(start, this.range.start), hi = Math.min(end, this.range.end);
    return this.slice.subarray(Math.max(0, lo - this.range.start), Math.max(0, hi - this.range.start));
  }

  /** A one-parameter bucket sent in chunks: views of a dense gradient, or densified row-sparse ones. */
  private launchChunked(b: Bucket, chunks: Chunk[]): CommHandle {
    const i = b.params[0], p = this.flat.params[i], base = this.flat.offsets[i];
    const g = p.grad, recs = this.sparse.get(i);
    const dense = g && g.dtype === "f32" && g.isContiguous() && g.storage instanceof Float32Array ? g.storage.subarray(g.offset, g.offset + g.size) : g ? g.f32() : null;
    const handles: CommHandle[] = [];
    const direct = !recs && dense !== null;
    for (const c of chunks) {
      const lo = c.start - base, hi = c.end - base;
      let buf: Float32Array;
      if (direct) buf = dense!.subarray(lo, hi);
      else {
        this.widenStaging();
        const staging = this.nextStaging();
        buf = staging && staging.length >= hi - lo ? staging.subarray(0, hi - lo) : new Float32Array(hi - lo);
        if (dense) buf.set(dense.subarray(lo, hi));
        else buf.fill(0);
        for (const r of recs ?? []) scatterRows(r, lo, hi, buf);
      }
      this.addRunningSum(buf, c.start);
      const h = this.group.reduceScatterSumVAsync(buf, c.counts, this.sliceOut(c.start, c.end));
      handles.push(h);
      if (!direct) this.packedHandles.push(h);
    }
    const all: CommHandle = {
      wait: (ms?: number) => { for (const h of handles) h.wait(ms); },
      isDone: () => handles.every((h) => h.isDone()),
    };
    if (direct) this.sending.push({ handle: all, params: b.params, floats: b.end - b.start });
    else this.release(b.params);
    return all;
  }

  /** Gradient bucket b's floats: the tensor itself (one parameter, contiguous f32) or packed into `into`. */
  private sendBuffer(b: Bucket, into: () => Float32Array | undefined): { buf: Float32Array; direct: boolean } {
    const params = this.flat.params;
    if (b.params.length === 1 && !this.sparse.has(b.params[0])) {
      const g = params[b.params[0]].grad;
      if (g && g.dtype === "f32" && g.isContiguous() && g.storage instanceof Float32Array) return { buf: g.storage.subarray(g.offset, g.offset + g.size), direct: true };
    }
    const n = b.end - b.start, staging = into();
    // a one-parameter bucket whose gradient is missing (unused parameter) may be wider than the staging
    const buf = staging && staging.length >= n ? staging.subarray(0, n) : new Float32Array(n);
    for (const i of b.params) {
      const g = params[i].grad, at = this.flat.offsets[i] - b.start;
      if (g) buf.set(g.f32(), at);
      else buf.fill(0, at, at + params[i].size);
      for (const r of this.sparse.get(i) ?? []) scatterRows(r, 0, params[i].size, buf.subarray(at, at + params[i].size));
    }
    return { buf, direct: false };
  }

  protected launchBucket(k: number, b: Bucket): CommHandle {
    this.retireSends(b.params.length === 1 ? b.end - b.start : 0);
    this.peakParamGradFloats = Math.max(this.peakParamGradFloats, this.liveParamGradFloats());
    const chunks = this.chunks[k];
    if (chunks) return this.launchChunked(b, chunks);
    const { buf, direct } = this.sendBuffer(b, () => this.nextStaging());
    this.addRunningSum(buf, b.start);
    const handle = this.group.reduceScatterSumVAsync(buf, this.counts[k], this.sliceOut(b.start, b.end));
    if (direct) this.sending.push({ handle, params: b.params, floats: buf.length });
    else {
      this.packedHandles.push(handle);
      this.release(b.params);
    }
    return handle;
  }

  /**
   * Drops the gradients of the direct sends that are done, then waits for the oldest ones until
   * `adding` more floats fit the budget (Infinity: waits for all).
   */
  private retireSends(adding: number): void {
    let floats = 0;
    this.sending = this.sending.filter((x) => {
      if (!x.handle.isDone()) return (floats += x.floats), true;
      this.release(x.params);
      return false;
    });
    while (this.sending.length && (adding === Infinity || floats + adding > this.sendBudget)) {
      const x = this.sending.shift()!;
      x.handle.wait();
      this.release(x.params);
      floats -= x.floats;
    }
  }

  private release(params: readonly number[]): void {
    for (const i of params) {
      this.flat.params[i].grad = null;
      this.sparse.delete(i);
    }
  }

  private dropSparseSinks(): void {
    for (const p of this.flat.params) setSparseGradSink(p, null);
  }

  protected override afterPass(): void {
    this.dropSparseSinks();
    this.retireSends(Infinity);
    this.packedHandles = [];
    this.accumulating = true;
  }

  protected override waitAll(): void {
    this.dropSparseSinks();
    super.waitAll();
    this.retireSends(Infinity);
    this.packedHandles = [];
  }
}

/** Adds the rows of `r` that fall in the parameter's flat range [lo, hi) into buf (buf[0] = element lo). */
function scatterRows(r: SparseRows, lo: number, hi: number, buf: Float32Array): void {
  const D = r.width;
  for (let s = 0; s < r.ids.length; s++) {
    const a = r.ids[s] * D, from = Math.max(a, lo), to = Math.min(a + D, hi);
    for (let e = from; e < to; e++) buf[e - lo] += r.rows[s * D + (e - a)];
  }
}
