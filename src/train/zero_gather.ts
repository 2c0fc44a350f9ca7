// ZeRO's parameter allgather after the shard step, without a full-size receive buffer: the slices
// are gathered a column range [a, b) at a time (the same range of every rank's slice, as the
// stage-2 gradient buckets), through a receive buffer of at most world × chunk floats, and each
// rank's part is copied straight into the parameters it covers. The values are copies only, so the
// weights are bitwise those of one allgather of the whole slices.

import type { ProcessGroup } from "../dist/process_group.js";
import type { Tensor } from "../tensor/tensor.js";
import { DistributedError } from "../tensor/errors.js";
import type { Partition } from "./zero_partition.js";

/** Columns per allgather for a cap of capFloats received floats (at least 1, at most a slice). */
export function gatherChunk(part: Partition, capFloats: number): number {
  return Math.max(1, Math.min(part.sliceSize, Math.floor(capFloats / part.world)));
}

/** Copies src (the flat vector's floats [lo, hi)) into the parameters that cover them. */
export function copyIntoParams(params: readonly Tensor[], offsets: readonly number[], lo: number, hi: number, src: Float32Array): void {
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
    if (to > from) (p.data as Float32Array).set(src.subarray(from - lo, to - lo), from - offsets[i]);
  }
}

/**
 * Every rank's slice `mine` (sliceSize floats) allgathered into the parameters (FlatGrads order and
 * offsets), `recv.length / world` columns per collective; recv: the receive buffer (≥ world floats).
 */
export function allgatherSlicesInto(group: ProcessGroup, part: Partition, mine: Float32Array, params: readonly Tensor[], offsets: readonly number[], recv: Float32Array): void {
  const { sliceSize: S, world, total } = part;
  const w = Math.floor(recv.length / world);
  if (w < 1) throw new DistributedError(`zero: the allgather buffer holds ${recv.length} floats, fewer than the ${world} ranks`);
  for (let a = 0; a < S; a += w) {
    const b = Math.min(a + w, S), n = b - a;
    const out = recv.subarray(0, n * world);
    group.allgather(mine.subarray(a, b), out);
    for (let r = 0; r < world; r++) {
      const lo = r * S + a, hi = Math.min(r * S + b, total);
      if (hi > lo) copyIntoParams(params, offsets, lo, hi, out.subarray(r * n, r * n + (hi - lo)));
    }
  }
}
