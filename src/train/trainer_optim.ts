// The optimizer and learning-rate schedule the Trainer builds from TrainingArguments (optim,
// optim_args, lr_scheduler_type, lr_scheduler_kwargs, warmup) when none is passed in.

import { ConfigError } from "../tensor/errors.js";
import type { Module } from "../nn/module.js";
import type { TrainingArguments } from "./args.js";
import { AdamW } from "./optim/adamw.js";
import { SGD } from "./optim/sgd.js";
import { Adafactor } from "./optim/adafactor.js";
import type { Optimizer } from "./optim/optimizer.js";
import { defaultParamGroups } from "./optim/groups.js";
import { getScheduler, LRScheduler, warmupStepsFor } from "./schedule.js";

/** AdamW (default), SGD or Adafactor over the model's trainable parameters, with decay groups. */
export function buildOptimizer(model: Module, a: TrainingArguments): Optimizer {
  const groups = defaultParamGroups(model, a.weightDecay);
  if (groups.length === 0) throw new ConfigError("Trainer: the model has no trainable parameters (requiresGrad=true)");
  const oa = a.parsedOptimArgs();
  switch (a.optim) {
    case "sgd":
      return new SGD(groups, {
        lr: a.learningRate, weightDecay: a.weightDecay,
        momentum: oa.momentum !== undefined ? Number(oa.momentum) : a.sgdMomentum,
        dampening: oa.dampening !== undefined ? Number(oa.dampening) : 0,
        nesterov: oa.nesterov === "True" || oa.nesterov === "true",
      });
    case "adafactor":
      // HF Trainer: scale_parameter=False, relative_step=False, lr from args
      return new Adafactor(groups, {
        lr: a.learningRate, weightDecay: a.weightDecay,
        scaleParameter: oa.scale_parameter !== undefined ? oa.scale_parameter === "True" : false,
        relativeStep: false, warmupInit: false,
      });
    default:
      return new AdamW(groups, { lr: a.learningRate, betas: [a.adamBeta1, a.adamBeta2], eps: a.adamEpsilon, weightDecay: a.weightDecay });
  }
}

/** args.lrSchedulerType over `optimizer` for numTrainingSteps, with warmup and lr_scheduler_kwargs. */
export function buildScheduler(a: TrainingArguments, optimizer: Optimizer, numTrainingSteps: number): LRScheduler {
  const k = a.lrSchedulerKwargs as Record<string, number | string>;
  const num = (n: string) => (k[n] !== undefined ? Number(k[n]) : undefined);
  return getScheduler(a.lrSchedulerType, optimizer, {
    numWarmupSteps: warmupStepsFor(numTrainingSteps, a.warmupSteps, a.warmupRatio),
    numTrainingSteps,
    numCycles: num("num_cycles"), lrEnd: num("lr_end"), power: num("power"), timescale: num("timescale"),
    minLr: num("min_lr"), minLrRate: num("min_lr_rate"), numStableSteps: num("num_stable_steps"),
    numDecaySteps: num("num_decay_steps"), minLrRatio: num("min_lr_ratio"),
    decayType: k.decay_type as "linear" | "cosine" | "1-sqrt" | undefined,
    plateau: a.lrSchedulerType === "reduce_lr_on_plateau" ? {
      mode: (k.mode as "min" | "max" | undefined) ?? "min", factor: num("factor"), patience: num("patience"), threshold: num("threshold"),
      cooldown: num("cooldown"), minLr: num("min_lr"),
    } : undefined,
  });
}
