// The arithmetic around one optimizer step: FLOP counting (HF's 6 · non-embedding parameters ·
// tokens), fp16 unscaling, clipping, the optimizer and schedule step, and the skipping of steps
// with a non-finite loss or gradient norm (NonFiniteSteps: skip, log, stop after too many).

import type { Tensor } from "../tensor/tensor.js";
import type { Module } from "../nn/module.js";
import { Embedding } from "../nn/layers.js";
import { clipGradNorm, gradNorm } from "./clip.js";
import type { GradScaler } from "./amp.js";
import type { FlatGrads, Optimizer } from "./optim/optimizer.js";
import type { LRScheduler } from "./schedule.js";
import type { Batch } from "./trainer_data.js";
import type { ZeroOptimizer } from "./zero.js";
import type { ProcessGroup } from "../dist/process_group.js";
import { fullGradNormSquared } from "./tensor_parallel.js";
import { TrainingError } from "./trainer_errors.js";

/** HF's floating_point_ops per token: 6 × the parameters outside embeddings. */
export function modelFlopsPerToken(model: Module): number {
  const emb = new Set<Tensor>();
  for (const [, m] of model.namedModules()) if (m instanceof Embedding) for (const p of m.parameters()) emb.add(p);
  return 6 * model.parameters().reduce((s, p) => s + (emb.has(p) ? 0 : p.size), 0);
}

/** Tokens in a batch's inputIds (0 when it has none). */
export function batchTokens(batch: Batch): number {
  const ids = batch.inputIds;
  if (!Array.isArray(ids)) return 0;
  return ids.reduce((s: number, r: unknown) => s + (Array.isArray(r) ? r.length : 1), 0);
}

/** The message of a TrainingError for a non-finite loss (what: "training loss") or gradient norm. */
export function nonFiniteLossMessage(loss: number, step: number, epoch: number, lastCheckpoint: string | null, what = "training loss"): string {
  return `${what} is ${loss} at step ${step} (epoch ${epoch}); ` +
    `last good checkpoint: ${lastCheckpoint ?? "none (no checkpoint was saved in this run)"}. ` +
    `Lower the learning rate, enable clipping (max_grad_norm) or check the data, then resume from that checkpoint.`;
}

/**
 * Outside fp16 loss scaling, an optimizer step whose loss or gradient norm is not finite is
 * skipped (no parameter, optimizer or schedule update; the gradients are dropped) and logged;
 * more than `limit` such steps in a row (max_nonfinite_skips; 0: the first) stop the run with a
 * TrainingError naming the step and the last good checkpoint.
 */
export class NonFiniteSteps {
  consecutive = 0;
  constructor(readonly limit: number) {}

  /** After the step: null when it was finite, else the log entry of the skip (or a throw at the limit). */
  record(nonfinite: { what: "loss" | "grad_norm"; value: number } | null, step: number, epoch: number, lastCheckpoint: string | null): Record<string, number | boolean | string> | null {
    if (!nonfinite) {
      this.consecutive = 0;
      return null;
    }
    this.consecutive++;
    const what = nonfinite.what === "loss" ? "training loss" : "gradient norm";
    if (this.consecutive > this.limit) {
      const run = this.consecutive > 1 ? ` (${this.consecutive} steps in a row; max_nonfinite_skips is ${this.limit})` : "";
      throw new TrainingError(nonFiniteLossMessage(nonfinite.value, step, epoch, lastCheckpoint, what) + run);
    }
    return { skipped_step: true, skip_reason: `${what} is ${nonfinite.value}`, consecutive_skips: this.consecutive };
  }
}

/**
 * What a step adds to the logged and total losses: its loss, or, for a non-finite one under
 * logging_nan_inf_filter, the mean loss of the run so far (so one bad batch neither turns the
 * logged average into NaN nor moves train_loss).
 */
export function countedLoss(stepLoss: number, nanInfFilter: boolean, totalLoss: number, stepsDone: number): { sinceLog: number; total: number } {
  if (Number.isFinite(stepLoss) || !nanInfFilter) return { sinceLog: stepLoss, total: stepLoss };
  const mean = stepsDone > 0 ? totalLoss / stepsDone : 0;
  return { sinceLog: mean, total: mean };
}

export interface StepResult {
  /** The learning rate the step used. */
  lrUsed: number;
  norm: number | null;
  /** The log entry of an fp16 step skipped for inf/nan gradients (null otherwise). */
  skipped: Record<string, number | boolean> | null;
  /** Without a loss scaler: what made the step skip (a non-finite loss or gradient norm), else null. */
  nonfinite: { what: "loss" | "grad_norm"; value: number } | null;
}

/** Unscale (fp16), clip (maxGradNorm > 0; else only the norm), optimizer step (unless skipped), schedule, the model's hook, zero grads. */
/** A model that wants to act after each optimizer step, with the gradients still there (PeftModel: AdaLoRA's budget). */
export interface OptimizerStepHook {
  onOptimizerStep(globalStep: number): void;
}

export function hasOptimizerStepHook(m: unknown): m is OptimizerStepHook {
  return typeof (m as Partial<OptimizerStepHook> | null)?.onOptimizerStep === "function";
}

export function applyOptimizerStep(
  params: Tensor[], optimizer: Optimizer, scheduler: LRScheduler, flat: FlatGrads, scaler: GradScaler | null, maxGradNorm: number,
  afterStep?: () => void, zero: ZeroOptimizer | null = null, tp: ProcessGroup | null = null, stepLoss = 0,
): StepResult {
  let skipped = false;
  let norm: number | null = null;
  if (zero) {
    // ZeRO (zero.ts): unscale, global norm and clipping of this rank's gradient slice only
    ({ skipped, norm } = zero.prepare(scaler, maxGradNorm));
  } else {
    if (scaler) skipped = scaler.unscale([flat.buffer]);
    // tensor parallelism: the full model's norm (shards summed over the tp ranks); the gradients are already summed over dp
    const total = tp ? Math.fround(Math.sqrt(fullGradNormSquared(params, tp))) : undefined;
    if (maxGradNorm > 0) norm = clipGradNorm(params, maxGradNorm, total);
    else norm = total ?? gradNorm(params);
  }
  // the loss is summed and the norm computed over all ranks: every rank skips the same steps
  let nonfinite: StepResult["nonfinite"] = null;
  if (!scaler) {
    if (!Number.isFinite(stepLoss)) nonfinite = { what: "loss", value: stepLoss };
    else if (norm !== null && !Number.isFinite(norm)) nonfinite = { what: "grad_norm", value: norm };
    if (nonfinite) skipped = true;
  }
  const lrUsed = optimizer.paramGroups[0].lr;
  if (!skipped) {
    // a model hook reads whole gradients (AdaLoRA): stage 2 allgathers them back into the flat buffer
    if (zero) zero.step(afterStep !== undefined);
    else optimizer.step();
    scheduler.step();
    afterStep?.();
  }
  let skip: Record<string, number | boolean> | null = null;
  if (scaler) {
    const scale = scaler.scale;
    scaler.update();
    if (skipped) skip = { skipped_step: true, loss_scale: scale, new_loss_scale: scaler.scale };
  }
  flat.zero();
  return { lrUsed, norm, skipped: skip, nonfinite };
}
