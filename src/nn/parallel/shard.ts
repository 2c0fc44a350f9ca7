// Which slice of a full (single-process) tensor a rank holds. A sharded parameter keeps its HF name
// and carries a ShardSpec: the dim it is split along (0: rows, e.g. a column-parallel weight
// [out/K, in]; 1: columns, e.g. a row-parallel weight [out, in/K]), the per-rank sizes and this
// rank's start. Splits are near-even: the first n mod K ranks get one more (37 → 19 + 18).
import { Tensor } from "../../tensor/tensor.js";
import { ShapeError } from "../../tensor/errors.js";
import type { ProcessGroup } from "../../dist/process_group.js";
import type { Module } from "../module.js";
import { gatherParts } from "../../ops/parallel.js";

export interface ShardSpec {
  readonly group: ProcessGroup;
  /** The split dim of the full tensor. */
  readonly dim: 0 | 1;
  /** Per-rank sizes along dim (sum = full[dim]). */
  readonly sizes: readonly number[];
  /** This rank's first index along dim. */
  readonly start: number;
  /** The full tensor's shape. */
  readonly full: readonly number[];
}

const specs = new WeakMap<Tensor, ShardSpec>();

/** Near-even split of n over k ranks (the first n mod k ranks get one more). */
export function splitSizes(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, r) => Math.floor(n / k) + (r < n % k ? 1 : 0));
}

/** The spec of this rank's slice of a tensor of shape `full` split along dim. */
export function shardOf(full: readonly number[], dim: 0 | 1, group: ProcessGroup): ShardSpec {
  const sizes = splitSizes(full[dim], group.worldSize);
  const start = sizes.slice(0, group.rank).reduce((a, b) => a + b, 0);
  return { group, dim, sizes, start, full: full.slice() };
}

/** This rank's shape under the spec. */
export function localShape(spec: ShardSpec): number[] {
  const s = spec.full.slice();
  s[spec.dim] = spec.sizes[spec.group.rank];
  return s;
}

export function markShard(t: Tensor, spec: ShardSpec): Tensor {
  const want = localShape(spec);
  if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
    throw new ShapeError(`markShard: tensor [${t.shape}] is not rank ${spec.group.rank}'s slice [${want}] of [${spec.full}]`);
  }
  specs.set(t, spec);
  return t;
}

/** The shard spec of a parameter, or null for a replicated (or single-process) tensor. */
export function shardSpecOf(t: Tensor): ShardSpec | null {
  return specs.get(t) ?? null;
}

/** This rank's slice (a fresh contiguous f32 copy) of a full 1-d or 2-d tensor. */
export function sliceFor(full: Tensor, spec: ShardSpec): Tensor {
  if (full.shape.length !== spec.full.length || full.shape.some((d, i) => d !== spec.full[i])) {
    throw new ShapeError(`sliceFor: tensor [${full.shape}] is not the full shape [${spec.full}]`);
  }
  const n = spec.sizes[spec.group.rank];
  const t = full.slice(spec.dim, spec.start, spec.start + n);
  return new Tensor(Float32Array.from(t.f32()), t.shape);
}

/**
 * The full tensor from every rank's shard (values only, no autograd); every rank of the group must
 * call it (one collective). `values` defaults to the tensor itself (pass its .grad to gather that).
 */
export function gatherShard(t: Tensor, values: Tensor = t): Tensor {
  const spec = shardSpecOf(t);
  if (!spec) return new Tensor(Float32Array.from(values.f32()), values.shape);
  const { full, dim, sizes, group } = spec;
  const inner = full.length === 2 && dim === 0 ? full[1] : 1;
  const rowsOf = full.length === 2 && dim === 1 ? full[0] : 1;
  const parts = gatherParts(values.f32(), group, sizes.map((s) => (dim === 0 ? s * inner : s * rowsOf)));
  const out = new Float32Array(full.reduce((a, b) => a * b, 1));
  if (dim === 0) {
    let off = 0;
    for (const p of parts) { out.set(p, off); off += p.length; }
  } else {
    const cols = full[full.length - 1];
    let c0 = 0;
    parts.forEach((p, k) => {
      const n = sizes[k];
      for (let i = 0; i < rowsOf; i++) out.set(p.subarray(i * n, (i + 1) * n), i * cols + c0);
      c0 += n;
    });
  }
  return new Tensor(out, full);
}

const groups = new WeakMap<Module, ProcessGroup>();

/** Marks a model as tensor-parallel over `group` (set by parallelizeModel). */
export function setTensorParallel(model: Module, group: ProcessGroup): void {
  groups.set(model, group);
}

/** The tensor-parallel group of a model (searching below wrappers such as a PeftModel's tuner), or null. */
export function tensorParallelGroupOf(m: Module): ProcessGroup | null {
  for (const [, sub] of m.namedModules()) {
    const g = groups.get(sub);
    if (g) return g;
  }
  return null;
}

/**
 * Σ‖grad‖² over `params` as one process would compute it for the full model: the shards' squares
 * summed over the ranks (one allreduce of one float), each replicated tensor counted once. For
 * gradient clipping under tensor parallelism; every rank calls it with the same parameter list.
 */
export function gradNormSquared(params: Tensor[], group: ProcessGroup): number {
  let sharded = 0, replicated = 0;
  for (const p of params) {
    if (!p.grad) continue;
    const g = p.grad.f32();
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i] * g[i];
    if (shardSpecOf(p)) sharded += s;
    else replicated += s;
  }
  if (group.worldSize > 1) {
    const buf = Float32Array.of(sharded);
    group.allreduceSum(buf);
    sharded = buf[0];
  }
  return sharded + replicated;
}
