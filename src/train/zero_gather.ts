// ZeRO's parameter allgather after the shard step, without full-size buffers: the slices are
// gathered a column range [a, b) at a time (the same range of every rank's slice, as the stage-2
// gradient buckets): this rank's columns are read from its parameters into a chunk-sized send
// buffer, received in a buffer of world × chunk floats, and each rank's part is copied straight
// into the parameters it covers. The values are copies only, so the
// weights are bitwise those of one allgather of the whole slices.

import type { ProcessGroup } from "../dist/process_group.js";
import type { Tensor } from "../tensor/tensor.js";
import { DistributedError } from "../tensor/errors.js";
import type { Partition } from "./zero_partition.js";

/** Columns per allgather for a cap of capFloats received floats (at least 1, at most a slice). */
export function gatherChunk(part: Partition, capFloats: number): number {
  return Math.max(1, Math.min(part.sliceSize, Math.floor(capFloats / part.world)));
}

/** fn(param, its elements [from, to) of the flat range [lo, hi)) for every parameter the range covers. */
function eachParamIn(params: readonly Tensor[], offsets: readonly number[], lo: number, hi: number, fn: (data: Float32Array, at: number, from: number, to: number) => void): void {
  // the first parameter ending after lo (offsets increase with the index)
  let i = 0, j = params.length;
  while (i < j) {
    const m = (i + j) >> 1;
    if (offsets[m] + params[m].size <= lo) i = m + 1; else j = m;
  }
  for (; i < params.length && offsets[i] < hi; i++) {
    const p = params[i];
    if (!p.isContiguous()) throw new DistributedError(`zero: parameter '${p.name}' is not contiguous`);
    const from = Math.max(lo, offsets[i]), to = Math.min(hi, offsets[i] + p.size);
    if (to > from) fn(p.data as Float32Array, from - offsets[i], from - lo, to - lo);
  }
}

/** Copies src (the flat vector's floats [lo, hi)) into the parameters that cover them. */
export function copyIntoParams(params: readonly Tensor[], offsets: readonly number[], lo: number, hi: number, src: Float32Array): void {
  eachParamIn(params, offsets, lo, hi, (data, at, from, to) => data.set(src.subarray(from, to), at));
}

/** The flat vector's floats [lo, hi), read from the parameters, into dst. */
export function copyFromParams(params: readonly Tensor[], offsets: readonly number[], lo: number, hi: number, dst: Float32Array): void {
  eachParamIn(params, offsets, lo, hi, (data, at, from, to) => dst.set(data.subarray(at, at + to - from), from));
}

/**
 * Every rank's slice allgathered into the parameters (FlatGrads order and offsets): this rank's
 * slice [range.start, range.end) is read from the parameters themselves (the shard optimizer stepped
 * views of them), `send.length` columns per collective through `send` and `recv` (world × send.length).
 */
export function allgatherSlicesInto(group: ProcessGroup, part: Partition, range: { start: number; end: number }, params: readonly Tensor[], offsets: readonly number[], send: Float32Array, recv: Float32Array): void {
  const { sliceSize: S, world, total } = part;
  const w = send.length;
  if (w < 1 || recv.length < w * world) throw new DistributedError(`zero: allgather buffers of ${w} and ${recv.length} floats do not fit ${world} ranks`);
  for (let a = 0; a < S; a += w) {
    const b = Math.min(a + w, S), n = b - a;
    const mine = send.subarray(0, n);
    const lo = Math.min(range.start + a, range.end), hi = Math.min(range.start + b, range.end);
    copyFromParams(params, offsets, lo, hi, mine);
    mine.fill(0, hi - lo);
    const out = recv.subarray(0, n * world);
    group.allgather(mine, out);
    for (let r = 0; r < world; r++) {
      const rlo = r * S + a, rhi = Math.min(r * S + b, total);
      if (rhi > rlo) copyIntoParams(params, offsets, rlo, rhi, out.subarray(r * n, r * n + (rhi - rlo)));
    }
  }
}
