// What the Trainer writes into a checkpoint besides weights and optimizer (RNG states, data
// position, loss counters, stateful callbacks) and how a checkpoint is restored for an exact resume.

import { join } from "node:path";
import { globalRng, RngState } from "../tensor/random.js";
import { ConfigError } from "../tensor/errors.js";
import type { Module } from "../nn/module.js";
import { TrainerCallback, TrainerControl, TrainerState } from "./callbacks.js";
import { loadModelWeights, readJson, RngCheckpoint } from "./checkpoint.js";
import type { GradScaler } from "./amp.js";
import type { Optimizer } from "./optim/optimizer.js";
import type { LRScheduler, SchedulerState } from "./schedule.js";

/** The loop's loss and logging counters. */
export interface LoopCounters {
  totalLoss: number;
  trLossSinceLog: number;
  globalStepLastLogged: number;
}

/** Where the data order stands: the data Rng at the start of the epoch and the batches done in it. */
export interface DataPosition {
  dataEpochStart: RngState;
  epoch: number;
  batchesDoneInEpoch: number;
}

export type TrainerRngCheckpoint = RngCheckpoint & { total_loss: number; tr_loss_since_log: number; global_step_last_logged: number };

/** rng_state.json of a checkpoint. */
export function rngCheckpoint(pos: DataPosition, scaler: GradScaler | null, c: LoopCounters): TrainerRngCheckpoint {
  return {
    global: globalRng.getState(),
    data_epoch_start: pos.dataEpochStart,
    epoch: pos.epoch,
    batches_done_in_epoch: pos.batchesDoneInEpoch,
    grad_scaler: scaler ? scaler.stateDict() : null,
    total_loss: c.totalLoss,
    tr_loss_since_log: c.trLossSinceLog,
    global_step_last_logged: c.globalStepLastLogged,
  };
}

/** trainer_state.json "stateful_callbacks": TrainerControl and every callback with a stateName. */
export function statefulCallbacks(control: TrainerControl, callbacks: TrainerCallback[]): Record<string, unknown> {
  const out: Record<string, unknown> = { TrainerControl: control.toJSON() };
  for (const cb of callbacks) if (cb.stateName && cb.getState) out[cb.stateName] = cb.getState();
  return out;
}

/** The parts of a Trainer a checkpoint restores into. */
export interface ResumeTarget {
  model: Module;
  optimizer: Optimizer;
  scheduler: LRScheduler;
  state: TrainerState;
  callbacks: TrainerCallback[];
  scaler: GradScaler | null;
}

/**
 * Restores weights, optimizer, scheduler, the global RNG, the grad scaler, trainer state and
 * callback states from a checkpoint folder; returns its rng_state.json and loop counters.
 */
export function restoreCheckpoint(dir: string, t: ResumeTarget): { rng: RngCheckpoint; counters: LoopCounters } {
  const stateJson = readJson(join(dir, "trainer_state.json"));
  const st = TrainerState.fromJSON(stateJson, join(dir, "trainer_state.json"));
  if (st.maxSteps !== t.state.maxSteps) {
    throw new ConfigError(`resume: ${dir} was written by a run of ${st.maxSteps} steps, this run has ${t.state.maxSteps}; the schedule would differ (use the same arguments)`);
  }
  loadModelWeights(t.model, dir);
  t.optimizer.load(join(dir, "optimizer.safetensors"));
  t.scheduler.loadStateDict(readJson(join(dir, "scheduler.json")) as unknown as SchedulerState);
  const rng = readJson(join(dir, "rng_state.json")) as unknown as RngCheckpoint & { total_loss?: number; tr_loss_since_log?: number; global_step_last_logged?: number };
  if (!rng.global || !rng.data_epoch_start || typeof rng.epoch !== "number" || typeof rng.batches_done_in_epoch !== "number") {
    throw new ConfigError(`${join(dir, "rng_state.json")}: missing global / data_epoch_start / epoch / batches_done_in_epoch`);
  }
  globalRng.setState(rng.global);
  if (t.scaler && rng.grad_scaler) t.scaler.loadStateDict(rng.grad_scaler);
  const counters: LoopCounters = {
    totalLoss: rng.total_loss ?? 0,
    trLossSinceLog: rng.tr_loss_since_log ?? 0,
    globalStepLastLogged: rng.global_step_last_logged ?? st.globalStep,
  };
  // keep this run's step settings; restore progress, history and best-model tracking
  t.state.globalStep = st.globalStep;
  t.state.epoch = st.epoch;
  t.state.logHistory = st.logHistory;
  t.state.bestMetric = st.bestMetric;
  t.state.bestGlobalStep = st.bestGlobalStep;
  t.state.bestModelCheckpoint = st.bestModelCheckpoint;
  t.state.totalFlos = st.totalFlos;
  for (const cb of t.callbacks) {
    const s = cb.stateName ? st.statefulCallbacks[cb.stateName] : undefined;
    if (s && cb.setState) cb.setState(s as Record<string, unknown>);
  }
  return { rng, counters };
}
