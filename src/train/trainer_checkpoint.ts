// What the Trainer writes into a checkpoint besides weights and optimizer (RNG states, data
// position, loss counters, stateful callbacks) and how a checkpoint is restored for an exact resume.

import { dirname, join, resolve } from "../platform/paths.js";
import { assertRngState, globalRng, manualSeed, Rng, RngState } from "../tensor/random.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import type { Module } from "../nn/module.js";
import { TrainerCallback, TrainerControl, TrainerState } from "./callbacks.js";
import { staysInside } from "../io/fs.js";
import { loadModelWeights, readJson, RngCheckpoint, PREFIX_CHECKPOINT_DIR, rotateCheckpoints, saveModelWeights, writeCheckpoint } from "./checkpoint.js";
import type { TrainingArguments } from "./args.js";
import type { DataParallel } from "./ddp.js";
import type { GradScaler } from "./amp.js";
import type { Optimizer } from "./optim/optimizer.js";
import type { LRScheduler, SchedulerState } from "./schedule.js";
import { gatherOptimizerState } from "./tensor_parallel.js";
import { writeDpModelCard } from "./dp/model_card.js";

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

export type TrainerRngCheckpoint = RngCheckpoint & {
  total_loss: number; tr_loss_since_log: number; global_step_last_logged: number;
  /** Data parallelism: every rank's global (dropout) RNG, rank order; `global` is rank 0's. */
  global_by_rank?: RngState[];
  /** Examples of one batch over all ranks (per_device × world): what batches_done_in_epoch counts. */
  global_batch_examples?: number;
};

/** rng_state.json of a checkpoint; `ranks`: every rank's global RNG state in a multi-process run. */
export function rngCheckpoint(pos: DataPosition, scaler: GradScaler | null, c: LoopCounters, ranks: RngState[] = []): TrainerRngCheckpoint {
  return {
    ...(ranks.length > 1 ? { global_by_rank: ranks } : {}),
    global: ranks[0] ?? globalRng.getState(),
    data_epoch_start: pos.dataEpochStart,
    epoch: pos.epoch,
    batches_done_in_epoch: pos.batchesDoneInEpoch,
    grad_scaler: scaler ? scaler.stateDict() : null,
    total_loss: c.totalLoss,
    tr_loss_since_log: c.trLossSinceLog,
    global_step_last_logged: c.globalStepLastLogged,
  };
}

/** What saveTrainerCheckpoint writes from. */
export interface CheckpointSource {
  args: TrainingArguments;
  state: TrainerState;
  model: Module;
  optimizer: Optimizer;
  scheduler: LRScheduler;
  scaler: GradScaler | null;
  ddp: DataParallel;
  position: DataPosition;
  counters: LoopCounters;
}

/**
 * checkpoint-<global_step> (atomic: temp dir + rename) and the rotation of old ones. Every rank
 * sends its RNG state; rank 0 writes; all ranks leave together. Returns the folder.
 */
export async function saveTrainerCheckpoint(t: CheckpointSource): Promise<string> {
  const a = t.args, step = t.state.globalStep;
  const dir = join(a.outputDir, `${PREFIX_CHECKPOINT_DIR}-${step}`);
  if (a.metricForBestModel !== null && t.state.bestGlobalStep === step) t.state.bestModelCheckpoint = dir;
  const rngStates = t.ddp.rngStates(globalRng.getState());
  // ZeRO: every rank sends its optimizer slices; rank 0 writes the ordinary (whole) optimizer file
  const zero = a.saveOnlyModel ? null : t.ddp.zero;
  zero?.gatherInto();
  // tensor parallelism: replica 0's tp ranks gather the sharded optimizer state (then, inside, the
  // adapter) to full tensors; rank 0 writes the ordinary files, so the checkpoint resumes on any tp size
  const optState = t.ddp.savesShards && !a.saveOnlyModel ? gatherOptimizerState(t.optimizer) : undefined;
  await t.ddp.onMain(async () => {
    await writeCheckpoint(a.outputDir, step, {
      model: async (d) => {
        await saveModelWeights(t.model, d);
        if (t.state.dp) writeDpModelCard(d, t.state.dp);
      },
      optimizer: (p) => t.optimizer.save(p, optState),
      scheduler: () => t.scheduler.stateDict(),
      rng: () => ({ ...rngCheckpoint(t.position, t.scaler, t.counters, rngStates), global_batch_examples: a.perDeviceTrainBatchSize * a.dataParallelSize }),
      trainerState: () => t.state.toJSON(),
      trainingArgs: () => a.toDict(),
    }, a.saveOnlyModel);
    rotateCheckpoints(a.outputDir, a.saveTotalLimit, a.loadBestModelAtEnd ? t.state.bestModelCheckpoint : null);
  }, () => saveModelWeights(t.model, dir)).finally(() => zero?.releaseGathered());
  return dir;
}

/** trainer_state.json "stateful_callbacks": TrainerControl and every callback with a stateName. */
export function statefulCallbacks(control: TrainerControl, callbacks: TrainerCallback[]): Record<string, unknown> {
  const out: Record<string, unknown> = { TrainerControl: control.toJSON() };
  for (const cb of callbacks) if (cb.stateName && cb.getState) out[cb.stateName] = cb.getState();
  return out;
}

/**
 * Where a resumed run starts: the checkpoint's epoch and the batches (global batches) done in it;
 * the data order of that epoch is redrawn from its starting state (a finished epoch: the next).
 */
export function resumePosition(r: RngCheckpoint, numBatches: number, dataRng: Rng, drawEpoch: () => void, batchExamples: number): { startEpoch: number; skipBatches: number } {
  const saved = (r as TrainerRngCheckpoint).global_batch_examples;
  if (saved !== undefined && saved !== batchExamples) {
    throw new ConfigError(`resume: the checkpoint counts batches of ${saved} examples (per_device_train_batch_size × processes), this run's have ${batchExamples}; keep that product equal to resume at the same example`);
  }
  dataRng.setState(r.data_epoch_start);
  if (r.batches_done_in_epoch < numBatches) return { startEpoch: r.epoch, skipBatches: r.batches_done_in_epoch };
  drawEpoch();
  return { startEpoch: r.epoch + 1, skipBatches: 0 };
}

/**
 * After restoreCheckpoint (which set rank 0's stream): rank r takes its own saved stream, or, when
 * the checkpoint came from a run with fewer ranks, a stream seeded from the seed, rank and step.
 */
export function restoreRankRng(rng: RngCheckpoint, rank: number, seed: number, globalStep: number): void {
  if (rank === 0) return;
  const saved = (rng as TrainerRngCheckpoint).global_by_rank?.[rank];
  if (saved) globalRng.setState(saved);
  else manualSeed(((seed + Math.imul(rank, 1_000_003) + Math.imul(globalStep, 7919)) >>> 0) ^ 0x5bd1e995);
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
  assertRngState(rng.global, `${join(dir, "rng_state.json")}: global`);
  assertRngState(rng.data_epoch_start, `${join(dir, "rng_state.json")}: data_epoch_start`);
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
  if (st.bestModelCheckpoint !== null && (typeof st.bestModelCheckpoint !== "string" || !staysInside(dirname(resolve(dir)), resolve(st.bestModelCheckpoint)))) {
    throw new FormatError(`${join(dir, "trainer_state.json")}: best_model_checkpoint ${JSON.stringify(st.bestModelCheckpoint)} is not a folder next to this checkpoint; expected a checkpoint inside ${dirname(resolve(dir))}`);
  }
  t.state.bestModelCheckpoint = st.bestModelCheckpoint;
  t.state.totalFlos = st.totalFlos;
  t.state.dp = st.dp;
  for (const cb of t.callbacks) {
    const s = cb.stateName ? st.statefulCallbacks[cb.stateName] : undefined;
    if (s && cb.setState) cb.setState(s as Record<string, unknown>);
  }
  return { rng, counters };
}
