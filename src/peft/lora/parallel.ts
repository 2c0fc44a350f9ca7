// LoRA on tensor-parallel layers (src/nn/parallel). The adapter is initialised at its full
// (single-process) shape, drawing from the global Rng exactly as one process would, then sliced:
//   column-parallel base (output split): A [r, in] replicated, B [out/K, r] split by output rows.
//     y_r = x·W_rᵀ + s·(x·Aᵀ)·B_rᵀ inside the region; the input's one copyToParallel (the block's)
//     sums the input gradient over ranks; A's gradient is a per-rank partial sum, so A enters the
//     region through copyToParallel too (one allreduce of r×in floats in backward).
//   row-parallel base (input split): A [r, in/K] split by input columns, B [out, r] replicated.
//     The partial u_r = x_r·A_rᵀ rides in the layer's own forward allreduce (concatenated after the
//     output features), so u = Σ u_r arrives with the output; y = Σ x_r·W_rᵀ + b + s·u·Bᵀ. No
//     collective of its own, and B's gradient is complete on every rank.
// Dropout on a row-parallel layer's input acts on this rank's slice (it does not reproduce one
// process's mask); on a column-parallel layer it matches one process (same input, same draws).
import { Tensor } from "../../tensor/tensor.js";
import { PeftError } from "../../tensor/errors.js";
import type { Linear } from "../../nn/layers.js";
import { add, cat, dropout, linear, scale } from "../../ops/index.js";
import { copyToParallel } from "../../ops/parallel.js";
import { ColumnParallelLinear, markShard, shardOf, sliceFor, type ParallelLinear } from "../../nn/parallel/index.js";
import type { LoraConfig } from "./config.js";

/** The LoRA options tensor parallelism cannot shard: a PeftError naming the layer. */
export function checkParallelLora(cfg: LoraConfig, key: string): void {
  if (cfg.useDora) throw new PeftError(`DoRA (use_dora) on the tensor-parallel layer '${key}' is not supported (its row norms span the full weight)`);
  if (cfg.initLoraWeights === "pissa") throw new PeftError(`PiSSA init on the tensor-parallel layer '${key}' is not supported (it needs the SVD of the full weight)`);
}

function replaceWeight(lin: Linear, t: Tensor): void {
  t.requiresGrad_(lin.weight.requiresGrad);
  lin.registerParameter("weight", t);
  t.name = "weight";
}

/** Slices a freshly initialised full-size A/B pair to this rank's share of the parallel base. */
export function shardLoraPair(base: ParallelLinear, A: Linear, B: Linear): void {
  if (base instanceof ColumnParallelLinear) {
    const spec = shardOf(B.weight.shape, 0, base.group);
    replaceWeight(B, markShard(sliceFor(B.weight, spec), spec));
  } else {
    const spec = shardOf(A.weight.shape, 1, base.group);
    replaceWeight(A, markShard(sliceFor(A.weight, spec), spec));
  }
}

/** One active adapter's tensors and settings. */
export interface LoraTerm {
  A: Tensor;
  B: Tensor;
  scaling: number;
  dropoutP: number;
}

/** The parallel base layer's output with the LoRA terms added (see the file comment). */
export function parallelLoraForward(base: ParallelLinear, x: Tensor, terms: LoraTerm[], training: boolean): Tensor {
  const drop = (t: Tensor, p: number) => (p > 0 && training ? dropout(t, p, true) : t);
  if (base instanceof ColumnParallelLinear) {
    const xin = base.enter(x);
    let y = linear(xin, base.weight, base.bias);
    for (const t of terms) {
      const u = linear(drop(xin, t.dropoutP), copyToParallel(t.A, base.group));
      y = add(y, scale(linear(u, t.B), t.scaling));
    }
    return base.leave(y);
  }
  const us = terms.map((t) => linear(drop(x, t.dropoutP), t.A));
  const { y, extra } = base.forwardWith(x, us.length === 0 ? null : us.length === 1 ? us[0] : cat(us, -1));
  let out = y, off = 0;
  for (const t of terms) {
    const r = t.A.shape[0];
    out = add(out, scale(linear(extra!.slice(-1, off, off + r), t.B), t.scaling));
    off += r;
  }
  return out;
}
