// The Trainer's constructor options and the result of train().

import type { Tensor } from "../tensor/tensor.js";
import type { Module } from "../nn/module.js";
import type { ProcessGroup } from "../dist/process_group.js";
import type { TrainingArguments } from "./args.js";
import type { TrainerCallback } from "./callbacks.js";
import type { Optimizer } from "./optim/optimizer.js";
import type { LRScheduler } from "./schedule.js";
import type { Batch, DataCollator, TrainerDataset } from "./trainer_data.js";
import type { ComputeMetrics } from "./trainer_eval.js";

export interface TrainerOptions {
  model: Module;
  args: TrainingArguments;
  trainDataset?: TrainerDataset;
  evalDataset?: TrainerDataset;
  dataCollator?: DataCollator;
  computeMetrics?: ComputeMetrics;
  callbacks?: TrainerCallback[];
  /** Replaces the default loss (model output's loss). */
  computeLoss?: (model: Module, inputs: Batch) => Tensor;
  /** "random" (HF's default seeded RandomSampler, a new permutation per epoch) or "sequential". */
  trainSampler?: "random" | "sequential";
  /** Optional optimizer/scheduler to use instead of the ones built from args. */
  optimizers?: [Optimizer | null, LRScheduler | null];
  /** The ranks of a data-parallel run (default: the group of how the process was started; one process: LocalGroup). */
  processGroup?: ProcessGroup;
}

export interface TrainOutput {
  globalStep: number;
  trainingLoss: number;
  metrics: Record<string, number>;
}
