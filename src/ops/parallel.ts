// Autograd ops at the edges of a tensor-parallel region (Megatron-LM's f/g conjugate pair) and the
// vocab-parallel cross entropy. Every rank of the group runs the same ops in the same order; each
// op issues at most one collective in its forward and one in its backward.
//   copyToParallel      forward identity        backward allreduce-sum   (enter a region: "f")
//   reduceFromParallel  forward allreduce-sum   backward identity        (leave a region: "g")
//   gatherFromParallel  forward allgather (last dim)   backward keep this rank's slice
// vocabParallelCrossEntropy: each rank holds the logits of its vocab slice; the per-row maxima are
// allgathered, the per-row sum of exp and the target logit travel in one allreduce. No rank ever
// holds a full-vocab row.
import { Tensor } from "../tensor/tensor.js";
import { record } from "../tensor/autograd.js";
import { ShapeError } from "../tensor/errors.js";
import type { ProcessGroup } from "../dist/process_group.js";
import { assertFloat, f32Of } from "./util.js";

/** A fresh contiguous copy of t's values, summed over the group's ranks. */
function allreduced(t: Tensor, group: ProcessGroup): Tensor {
  const d = Float32Array.from(f32Of(t));
  if (group.worldSize > 1) group.allreduceSum(d);
  return new Tensor(d, t.shape);
}

/** Enters a tensor-parallel region: identity forward; the gradient is summed over the ranks. */
export function copyToParallel(x: Tensor, group: ProcessGroup): Tensor {
  assertFloat("copyToParallel", x);
  const out = new Tensor(x.storage, x.shape, x.dtype, x.strides, x.offset);
  return record(out, "copyToParallel", [x], (g) => [allreduced(g, group)]);
}

/** Leaves a tensor-parallel region: the per-rank partial results are summed; gradient identity. */
export function reduceFromParallel(x: Tensor, group: ProcessGroup): Tensor {
  assertFloat("reduceFromParallel", x);
  return record(allreduced(x, group), "reduceFromParallel", [x], (g) => [g]);
}

/**
 * Concatenates every rank's x along the last dim, in rank order. `sizes[r]` is rank r's last-dim
 * size (they may differ, e.g. 37 features over 2 ranks); the other dims must agree. Backward keeps
 * this rank's slice of the gradient.
 */
export function gatherFromParallel(x: Tensor, group: ProcessGroup, sizes: readonly number[]): Tensor {
  assertFloat("gatherFromParallel", x);
  const K = group.worldSize, r = group.rank;
  if (sizes.length !== K || sizes[r] !== x.shape[x.ndim - 1]) {
    throw new ShapeError(`gatherFromParallel: rank ${r} holds [${x.shape}] but the split is [${sizes}] over ${K} ranks`);
  }
  const local = x.shape[x.ndim - 1];
  const rows = local === 0 ? 0 : x.size / local;
  const total = sizes.reduce((a, b) => a + b, 0);
  const parts = gatherParts(f32Of(x), group, sizes.map((s) => s * rows));
  const out = new Float32Array(rows * total);
  let col = 0;
  for (let k = 0; k < K; k++) {
    const n = sizes[k], p = parts[k];
    for (let i = 0; i < rows; i++) out.set(p.subarray(i * n, (i + 1) * n), i * total + col);
    col += n;
  }
  const start = sizes.slice(0, r).reduce((a, b) => a + b, 0);
  const shape = [...x.shape.slice(0, -1), total];
  return record(new Tensor(out, shape), "gatherFromParallel", [x], (g) => [g.slice(-1, start, start + local).contiguous()]);
}

/** Every rank's `mine` (lengths[k] floats on rank k), in rank order; one collective. */
export function gatherParts(mine: Float32Array, group: ProcessGroup, lengths: readonly number[]): Float32Array[] {
  if (group.worldSize === 1) return [Float32Array.from(mine)];
  if (lengths.every((n) => n === lengths[0])) {
    const all = group.allgather(Float32Array.from(mine));
    return lengths.map((n, k) => all.subarray(k * n, (k + 1) * n));
  }
  const bytes = new Uint8Array(mine.buffer.slice(mine.byteOffset, mine.byteOffset + mine.byteLength));
  return group.allgatherBytes(bytes).map((b, k) => {
    const copy = new Uint8Array(b); // aligned
    const f = new Float32Array(copy.buffer, 0, copy.byteLength / 4);
    if (f.length !== lengths[k]) throw new ShapeError(`gatherParts: rank ${k} sent ${f.length} floats, expected ${lengths[k]}`);
    return f;
  });
}

export interface VocabParallelCEOptions {
  /** First vocab id of this rank's slice. */
  vocabStart: number;
  /** The full vocab size (labels must lie in [0, vocabSize) or equal ignoreIndex). */
  vocabSize: number;
  ignoreIndex?: number;
  reduction?: "mean" | "sum" | "none";
}

/**
 * Cross entropy of vocab-sharded logits [N, Vr] (this rank's columns vocabStart…vocabStart+Vr of the
 * full [N, V] logits) against labels [N] (the same on every rank). Same value and gradient as
 * ops.crossEntropy on the full logits ("mean" divides by the non-ignored labels). Collectives: one
 * allgather of N floats (row maxima) and one allreduce of 2N floats (sum of exp, target logit).
 * Backward is local: softmax − onehot on this rank's slice.
 */
export function vocabParallelCrossEntropy(logits: Tensor, labels: Int32Array, group: ProcessGroup, opts: VocabParallelCEOptions): Tensor {
  assertFloat("vocabParallelCrossEntropy", logits);
  if (logits.ndim !== 2) throw new ShapeError(`vocabParallelCrossEntropy: logits must be [N, Vr], got [${logits.shape}]`);
  const [N, Vr] = logits.shape;
  const { vocabStart: v0, vocabSize: V } = opts;
  const ignore = opts.ignoreIndex ?? -100, reduction = opts.reduction ?? "mean";
  if (labels.length !== N) throw new ShapeError(`vocabParallelCrossEntropy: ${labels.length} labels for ${N} rows`);
  if (v0 < 0 || v0 + Vr > V) throw new ShapeError(`vocabParallelCrossEntropy: slice ${v0}…${v0 + Vr} does not fit a vocab of ${V}`);
  let count = 0;
  for (let n = 0; n < N; n++) {
    const y = labels[n];
    if (y === ignore) continue;
    if (y < 0 || y >= V) throw new ShapeError(`vocabParallelCrossEntropy: label ${y} at row ${n} is out of range for ${V} classes (ignoreIndex ${ignore})`);
    count++;
  }
  const ld = f32Of(logits);
  const localMax = new Float32Array(N).fill(-Infinity);
  for (let n = 0; n < N; n++) {
    let m = -Infinity;
    for (let j = 0, o = n * Vr; j < Vr; j++) if (ld[o + j] > m) m = ld[o + j];
    localMax[n] = m;
  }
  const K = group.worldSize;
  const maxes = K === 1 ? localMax : group.allgather(localMax);
  const M = new Float32Array(N).fill(-Infinity);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) if (maxes[k * N + n] > M[n]) M[n] = maxes[k * N + n];
  // [sum exp(l − M) over this slice | target logit if this rank owns it, else 0]
  const red = new Float32Array(2 * N);
  for (let n = 0; n < N; n++) {
    let s = 0;
    const m = M[n];
    for (let j = 0, o = n * Vr; j < Vr; j++) s += Math.exp(ld[o + j] - m);
    red[n] = s;
    const y = labels[n] - v0;
    if (labels[n] !== ignore && y >= 0 && y < Vr) red[N + n] = ld[n * Vr + y];
  }
  if (K > 1) group.allreduceSum(red);
  const S = red.subarray(0, N);
  const loss = new Float32Array(N);
  let total = 0;
  for (let n = 0; n < N; n++) {
    if (labels[n] === ignore) continue;
    loss[n] = Math.log(S[n]) + M[n] - red[N + n];
    total += loss[n];
  }
  const out = reduction === "none" ? new Tensor(loss, [N]) : Tensor.scalar(reduction === "mean" ? total / count : total);
  const lab = labels.slice();
  return record(out, "vocabParallelCrossEntropy", [logits], (g) => {
    const gd = f32Of(g);
    const gl = new Tensor(new Float32Array(N * Vr), [N, Vr]);
    const o = gl.data as Float32Array;
    for (let n = 0; n < N; n++) {
      if (lab[n] === ignore) continue;
      const w = reduction === "none" ? gd[n] : reduction === "mean" ? gd[0] / count : gd[0];
      const m = M[n], inv = 1 / S[n];
      for (let j = 0, b = n * Vr; j < Vr; j++) o[b + j] = w * Math.exp(ld[b + j] - m) * inv;
      const y = lab[n] - v0;
      if (y >= 0 && y < Vr) o[n * Vr + y] -= w;
    }
    return [gl];
  });
}
