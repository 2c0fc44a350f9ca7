// When the loop logs, evaluates, saves and stops: the length of the run from the arguments,
// HF's DefaultFlowCallback decisions, and the best-model tracking behind metric_for_best_model.

import { ConfigError } from "../tensor/errors.js";
import type { TrainingArguments } from "./args.js";
import { TrainerState, type TrainerControl } from "./callbacks.js";

export interface TrainingPlan {
  /** Batches per epoch. */
  numBatches: number;
  maxSteps: number;
  numEpochs: number;
}

/** Batches per epoch, optimizer steps and epochs for N examples (max_steps wins over num_train_epochs). */
export function trainingPlan(a: TrainingArguments, N: number): TrainingPlan {
  const plan = a.plannedSteps(N);
  if (plan.numBatches === 0) throw new ConfigError(`Trainer.train: ${N} examples with batch size ${a.perDeviceTrainBatchSize} and dataloader_drop_last give no batch`);
  return plan;
}

/** A fresh state for a run of maxSteps; step intervals below 1 are fractions of maxSteps. */
export function initialState(a: TrainingArguments, plan: TrainingPlan): TrainerState {
  const ratioSteps = (v: number) => (v < 1 ? Math.ceil(plan.maxSteps * v) : v);
  const s = new TrainerState();
  s.maxSteps = plan.maxSteps;
  s.numTrainEpochs = plan.numEpochs;
  s.trainBatchSize = a.perDeviceTrainBatchSize;
  s.loggingSteps = ratioSteps(a.loggingSteps);
  s.evalSteps = a.evalSteps !== null ? ratioSteps(a.evalSteps) : 500;
  s.saveSteps = ratioSteps(a.saveSteps);
  return s;
}

/** HF DefaultFlowCallback.on_step_end. */
export function flowOnStepEnd(a: TrainingArguments, s: TrainerState, c: TrainerControl): void {
  if (s.globalStep === 1 && a.loggingFirstStep) c.shouldLog = true;
  if (a.loggingStrategy === "steps" && s.globalStep % s.loggingSteps === 0) c.shouldLog = true;
  if (a.evalStrategy === "steps" && s.globalStep % s.evalSteps === 0 && a.evalDelay <= s.globalStep) c.shouldEvaluate = true;
  if (a.saveStrategy === "steps" && s.saveSteps > 0 && s.globalStep % s.saveSteps === 0) c.shouldSave = true;
  if (s.globalStep >= s.maxSteps) {
    c.shouldTrainingStop = true;
    // the final save of an epoch strategy happens at the epoch end that follows
    if (a.saveStrategy === "steps") c.shouldSave = true;
  }
}

/** HF DefaultFlowCallback.on_epoch_end. */
export function flowOnEpochEnd(a: TrainingArguments, s: TrainerState, c: TrainerControl): void {
  if (a.loggingStrategy === "epoch") c.shouldLog = true;
  if (a.evalStrategy === "epoch" && a.evalDelay <= s.epoch) c.shouldEvaluate = true;
  if (a.saveStrategy === "epoch") c.shouldSave = true;
}

/** metric_for_best_model (default loss) as an evaluation metric key: "eval_" prefixed. */
export function metricKey(a: TrainingArguments): string {
  let k = a.metricForBestModel ?? "loss";
  if (!k.startsWith("eval_")) k = `eval_${k}`;
  return k;
}

/** Updates best_metric / best_global_step; true when this evaluation is a new best. */
export function updateBestMetric(a: TrainingArguments, s: TrainerState, metrics: Record<string, number>): boolean {
  if (a.metricForBestModel === null) return false;
  const key = metricKey(a);
  const v = metrics[key];
  if (v === undefined) {
    throw new ConfigError(`metric_for_best_model '${a.metricForBestModel}' is not among the evaluation metrics (${Object.keys(metrics).join(", ")}); set it to one of them`);
  }
  const better = a.greaterIsBetter ? v > (s.bestMetric ?? -Infinity) : v < (s.bestMetric ?? Infinity);
  if (s.bestMetric === null || better) {
    s.bestMetric = v;
    s.bestGlobalStep = s.globalStep;
    return true;
  }
  return false;
}
