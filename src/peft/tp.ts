// PEFT under tensor parallelism: which methods are supported (LoRA on the parallel and replicated
// layers), gathering a sharded adapter on rank 0 into the ordinary full PEFT file, and slicing a
// full adapter file when loading it into a tensor-parallel model.
import type { Module } from "../nn/module.js";
import { Tensor } from "../tensor/tensor.js";
import { PeftError } from "../tensor/errors.js";
import {
  ColumnParallelLinear, RowParallelLinear, VocabParallelEmbedding, gatherShard, shardSpecOf, sliceFor, tensorParallelGroupOf,
} from "../nn/parallel/index.js";
import type { PeftConfig } from "./config.js";
import type { StateEntry } from "./save_load.js";
import { matchesModuleToSave } from "./modules_to_save.js";

/** PEFT methods that work on a tensor-parallel model. */
export const TENSOR_PARALLEL_PEFT_METHODS = ["LORA"] as const;

/** Throws the PeftError of a method that tensor parallelism does not support (the CLI asks before starting ranks). */
export function checkTensorParallelMethod(peftType: string): void {
  if (!(TENSOR_PARALLEL_PEFT_METHODS as readonly string[]).includes(peftType)) {
    throw new PeftError(`${peftType} is not supported on a tensor-parallel model (supported there: ${TENSOR_PARALLEL_PEFT_METHODS.join(", ")})`);
  }
}

/** Throws a PeftError naming the method when `config` cannot be applied to the tensor-parallel `model`. */
export function checkTensorParallelPeft(model: Module, config: PeftConfig): void {
  if (!tensorParallelGroupOf(model)) return;
  checkTensorParallelMethod(config.peftType);
  const mts = (config as unknown as { modulesToSave?: string[] | null }).modulesToSave ?? [];
  for (const [path, m] of model.namedModules()) {
    const parallel = m instanceof ColumnParallelLinear || m instanceof RowParallelLinear || m instanceof VocabParallelEmbedding;
    if (parallel && matchesModuleToSave(path, mts)) {
      throw new PeftError(`modules_to_save '${path}' is a tensor-parallel layer; only replicated modules can be saved whole under tensor parallelism`);
    }
  }
}

/**
 * The entries with every sharded tensor gathered to its full shape (one collective per sharded
 * tensor, in entry order: every rank must call it with the same adapter).
 */
export function gatherAdapterEntries(entries: StateEntry[]): StateEntry[] {
  return entries.map((e) => ({ ...e, tensor: shardSpecOf(e.tensor) ? gatherShard(e.tensor) : e.tensor }));
}

/** Saved tensors of the full shape sliced to this rank's share where the in-memory tensor is a shard. */
export function sliceAdapterTensors(entries: StateEntry[], tensors: Map<string, Tensor>): Map<string, Tensor> {
  const out = new Map(tensors);
  for (const e of entries) {
    const spec = shardSpecOf(e.tensor), t = tensors.get(e.savedKey);
    if (!spec || !t) continue;
    if (t.shape.length === spec.full.length && t.shape.every((d, i) => d === spec.full[i])) out.set(e.savedKey, sliceFor(t.to("f32"), spec));
  }
  return out;
}
