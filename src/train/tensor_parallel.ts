// The Trainer's side of tensor parallelism (docs/DESIGN.md, "Tensor parallelism"): which groups a
// run uses (world = dp × tp, tp ranks contiguous), the checks of a tensor-parallel run, the full
// model's gradient norm for clipping, and the optimizer state of a checkpoint gathered to full
// tensors (written once, by rank 0) and sliced again on resume, so a checkpoint resumes on any
// tensor_parallel_size.
//
// Gradients: a sharded parameter's gradient is complete on its own rank (the row/column algebra
// of nn/parallel: copyToParallel sums the input gradient of each block, reduceFromParallel's
// backward is the identity), and it must not be averaged over the tp ranks. A replicated
// parameter (norms, heads, BERT's embeddings, LoRA A of a column layer behind its copy, LoRA B of
// a row layer) sees the same inputs and output gradient on every tp rank of a replica, so its
// gradient is already identical there: no tp reduction. Only the dp group sums gradients.
import { ConfigError } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";
import type { Module } from "../nn/module.js";
import type { ProcessGroup } from "../dist/process_group.js";
import { parallelLayout, type ParallelLayout } from "../dist/layout.js";
import { gatherShard, gradNormSquared, shardSpecOf, sliceFor, tensorParallelGroupOf } from "../nn/parallel/index.js";
import { PeftModel } from "../peft/peft_model.js";
import type { TrainingArguments } from "./args.js";
import type { Optimizer, ParamState } from "./optim/optimizer.js";

/**
 * The run's layout for `args.tensorParallelSize` over `world`, checked against the model: with
 * K > 1 the model must be tensor-parallel over the layout's tp group (load it with
 * `fromPretrained(dir, { tensorParallel: parallelLayout(world, K).tp })`); with K = 1 it must not
 * be tensor-parallel over more than one rank. ZeRO and Adafactor are refused with K > 1.
 */
export function trainerLayout(world: ProcessGroup, args: TrainingArguments, model: Module): ParallelLayout {
  const K = args.tensorParallelSize;
  const modelTp = tensorParallelGroupOf(model);
  if (K === 1) {
    if (modelTp && modelTp.worldSize > 1) {
      throw new ConfigError(`the model is tensor-parallel over ${modelTp.worldSize} ranks but tensor_parallel_size is 1; set tensor_parallel_size ${modelTp.worldSize}`);
    }
    return parallelLayout(world, 1);
  }
  const layout = parallelLayout(world, K);
  if (!modelTp) {
    throw new ConfigError(`tensor_parallel_size ${K}: the model is not tensor-parallel; load it with fromPretrained(dir, { tensorParallel: parallelLayout(group, ${K}).tp })`);
  }
  if (modelTp !== layout.tp && (modelTp.worldSize !== K || modelTp.rank !== layout.tpRank)) {
    throw new ConfigError(`tensor_parallel_size ${K}: the model is split over ${modelTp.worldSize} ranks (this one is its rank ${modelTp.rank}), expected the contiguous group of world ranks ${layout.dpRank * K}..${layout.dpRank * K + K - 1}`);
  }
  if (args.zeroStage > 0) {
    throw new ConfigError(`zero_stage ${args.zeroStage} is not supported with tensor_parallel_size ${K} (ZeRO slices a flat vector that differs per tp rank); use zero_stage 0`);
  }
  if (args.optim === "adafactor") {
    throw new ConfigError(`optim adafactor is not supported with tensor_parallel_size ${K} (its factored moments and update RMS span whole matrices, which are split over the tp ranks); use adamw_torch or sgd`);
  }
  if (!(model instanceof PeftModel)) {
    throw new ConfigError(`tensor_parallel_size ${K} trains PEFT adapters (LoRA) only: saving a sharded full model is not implemented`);
  }
  return layout;
}

/** The squared L2 norm of the full model's gradients (shards summed over the tp group, replicated tensors once). */
export function fullGradNormSquared(params: Tensor[], tp: ProcessGroup): number {
  return gradNormSquared(params, tp);
}

/**
 * The optimizer's state with every buffer of a sharded parameter gathered to the full tensor's
 * size (one collective per buffer, in parameter order: every tp rank of the replica calls it).
 * Buffers that are not the parameter's size (none for AdamW / SGD) are refused.
 */
export function gatherOptimizerState(optimizer: Optimizer): Map<Tensor, ParamState> {
  const out = new Map<Tensor, ParamState>();
  for (const [name, p] of optimizer.namedParams()) {
    const s = optimizer.state.get(p);
    if (!s) continue;
    if (!shardSpecOf(p)) {
      out.set(p, s);
      continue;
    }
    const buffers = new Map<string, Float32Array>();
    for (const [b, arr] of s.buffers) {
      if (arr.length !== p.size) throw new ConfigError(`optimizer state '${name}.${b}' has ${arr.length} values, not the shard's ${p.size}: it cannot be gathered under tensor parallelism`);
      buffers.set(b, gatherShard(p, new Tensor(arr, p.shape)).f32());
    }
    out.set(p, { step: s.step, scalars: s.scalars, buffers });
  }
  return out;
}

/** After loading a full optimizer.safetensors into a tensor-parallel run: this rank's slice of each sharded parameter's buffers. */
export function sliceOptimizerState(optimizer: Optimizer): void {
  for (const [name, p] of optimizer.namedParams()) {
    const spec = shardSpecOf(p), s = optimizer.state.get(p);
    if (!spec || !s) continue;
    const full = spec.full.reduce((a, b) => a * b, 1);
    for (const [b, arr] of s.buffers) {
      if (arr.length === p.size && full !== p.size) continue;
      if (arr.length !== full) throw new ConfigError(`resume: optimizer state '${name}.${b}' has ${arr.length} values, the full parameter has ${full}`);
      s.buffers.set(b, sliceFor(new Tensor(arr, spec.full.slice()), spec).f32());
    }
  }
}
