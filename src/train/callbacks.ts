// TrainerState / TrainerControl / callbacks, with HF's field names (trainer_state.json).

import { ConfigError } from "../tensor/errors.js";
import type { TrainingArguments } from "./args.js";

export type LogEntry = Record<string, number | string | boolean>;

/** HF TrainerState; toJSON() writes trainer_state.json with HF's keys. */
export class TrainerState {
  epoch = 0;
  globalStep = 0;
  maxSteps = 0;
  loggingSteps = 500;
  evalSteps = 500;
  saveSteps = 500;
  trainBatchSize = 0;
  numTrainEpochs = 0;
  numInputTokensSeen = 0;
  totalFlos = 0;
  logHistory: LogEntry[] = [];
  bestMetric: number | null = null;
  bestGlobalStep: number | null = null;
  bestModelCheckpoint: string | null = null;
  isLocalProcessZero = true;
  isWorldProcessZero = true;
  isHyperParamSearch = false;
  trialName: string | null = null;
  trialParams: Record<string, unknown> | null = null;
  statefulCallbacks: Record<string, unknown> = {};
  /** A DP-SGD run's privacy state (TrainerDp.stateJSON: ε, δ, σ, C, q, steps, accountant history); null otherwise. */
  dp: Record<string, unknown> | null = null;

  toJSON(): Record<string, unknown> {
    return {
      ...(this.dp ? { dp: this.dp } : {}),
      best_global_step: this.bestGlobalStep,
      best_metric: this.bestMetric,
      best_model_checkpoint: this.bestModelCheckpoint,
      epoch: this.epoch,
      eval_steps: this.evalSteps,
      global_step: this.globalStep,
      is_hyper_param_search: this.isHyperParamSearch,
      is_local_process_zero: this.isLocalProcessZero,
      is_world_process_zero: this.isWorldProcessZero,
      log_history: this.logHistory,
      logging_steps: this.loggingSteps,
      max_steps: this.maxSteps,
      num_input_tokens_seen: this.numInputTokensSeen,
      num_train_epochs: this.numTrainEpochs,
      save_steps: this.saveSteps,
      stateful_callbacks: this.statefulCallbacks,
      total_flos: this.totalFlos,
      train_batch_size: this.trainBatchSize,
      trial_name: this.trialName,
      trial_params: this.trialParams,
    };
  }

  static fromJSON(o: Record<string, unknown>, source = "trainer_state.json"): TrainerState {
    const s = new TrainerState();
    const need = (k: string, type: string) => {
      if (typeof o[k] !== type) throw new ConfigError(`${source}: field '${k}' must be a ${type}, found ${JSON.stringify(o[k])}`);
      return o[k];
    };
    s.globalStep = need("global_step", "number") as number;
    s.epoch = need("epoch", "number") as number;
    s.maxSteps = need("max_steps", "number") as number;
    if (!Array.isArray(o.log_history) || !o.log_history.every((e) => e !== null && typeof e === "object" && !Array.isArray(e))) {
      throw new ConfigError(`${source}: field 'log_history' must be an array of objects`);
    }
    s.logHistory = o.log_history as LogEntry[];
    s.bestMetric = (o.best_metric as number | null) ?? null;
    s.bestGlobalStep = (o.best_global_step as number | null) ?? null;
    s.bestModelCheckpoint = (o.best_model_checkpoint as string | null) ?? null;
    s.loggingSteps = (o.logging_steps as number) ?? 500;
    s.evalSteps = (o.eval_steps as number) ?? 500;
    s.saveSteps = (o.save_steps as number) ?? 500;
    s.trainBatchSize = (o.train_batch_size as number) ?? 0;
    s.numTrainEpochs = (o.num_train_epochs as number) ?? 0;
    s.numInputTokensSeen = (o.num_input_tokens_seen as number) ?? 0;
    s.totalFlos = (o.total_flos as number) ?? 0;
    s.trialName = (o.trial_name as string | null) ?? null;
    s.trialParams = (o.trial_params as Record<string, unknown> | null) ?? null;
    s.statefulCallbacks = (o.stateful_callbacks as Record<string, unknown>) ?? {};
    if (o.dp !== undefined && o.dp !== null && (typeof o.dp !== "object" || Array.isArray(o.dp))) throw new ConfigError(`${source}: field 'dp' must be an object, found ${JSON.stringify(o.dp)}`);
    s.dp = (o.dp as Record<string, unknown> | undefined) ?? null;
    return s;
  }
}

/** HF TrainerControl: flags callbacks set to steer the loop. */
export class TrainerControl {
  shouldTrainingStop = false;
  shouldEpochStop = false;
  shouldSave = false;
  shouldEvaluate = false;
  shouldLog = false;
  /** Aliases used in this project's docs. */
  get shouldStop(): boolean {
    return this.shouldTrainingStop;
  }
  set shouldStop(v: boolean) {
    this.shouldTrainingStop = v;
  }
  toJSON(): Record<string, unknown> {
    return {
      args: {
        should_epoch_stop: this.shouldEpochStop, should_evaluate: this.shouldEvaluate, should_log: this.shouldLog,
        should_save: this.shouldSave, should_training_stop: this.shouldTrainingStop,
      },
      attributes: {},
    };
  }
}

export interface CallbackEvent {
  args: TrainingArguments;
  state: TrainerState;
  control: TrainerControl;
  logs?: LogEntry;
  metrics?: Record<string, number>;
  checkpoint?: string;
}

/** Every hook is optional; a hook may set control flags. */
export interface TrainerCallback {
  onTrainBegin?(e: CallbackEvent): void;
  onEpochBegin?(e: CallbackEvent): void;
  onStepBegin?(e: CallbackEvent): void;
  onStepEnd?(e: CallbackEvent): void;
  onLog?(e: CallbackEvent): void;
  onEvaluate?(e: CallbackEvent): void;
  onSave?(e: CallbackEvent): void;
  onEpochEnd?(e: CallbackEvent): void;
  onTrainEnd?(e: CallbackEvent): void;
  /** State to keep in checkpoints (stateful_callbacks), and to restore on resume. */
  stateName?: string;
  getState?(): Record<string, unknown>;
  setState?(s: Record<string, unknown>): void;
}

/** HF EarlyStoppingCallback: stop after `patience` evaluations without improvement > threshold. */
export class EarlyStoppingCallback implements TrainerCallback {
  readonly stateName = "EarlyStoppingCallback";
  patienceCounter = 0;
  constructor(readonly patience = 1, readonly threshold = 0.0) {}
  onTrainBegin({ args }: CallbackEvent): void {
    if (!args.loadBestModelAtEnd) throw new ConfigError("EarlyStoppingCallback requires load_best_model_at_end = True");
    if (!args.metricForBestModel) throw new ConfigError("EarlyStoppingCallback requires metric_for_best_model to be defined");
    if (args.evalStrategy === "no") throw new ConfigError("EarlyStoppingCallback requires IntervalStrategy of steps or epoch");
  }
  onEvaluate({ args, state, control, metrics }: CallbackEvent): void {
    let key = args.metricForBestModel!;
    if (!key.startsWith("eval_")) key = `eval_${key}`;
    const v = metrics?.[key];
    if (v === undefined) return; // HF warns and does nothing
    const better = args.greaterIsBetter ? (a: number, b: number) => a > b : (a: number, b: number) => a < b;
    if (state.bestMetric === null || (better(v, state.bestMetric) && Math.abs(v - state.bestMetric) > this.threshold)) this.patienceCounter = 0;
    else this.patienceCounter++;
    if (this.patienceCounter >= this.patience) control.shouldTrainingStop = true;
  }
  getState(): Record<string, unknown> {
    return { args: { early_stopping_patience: this.patience, early_stopping_threshold: this.threshold }, attributes: { early_stopping_patience_counter: this.patienceCounter } };
  }
  setState(s: Record<string, unknown>): void {
    const a = (s.attributes ?? {}) as Record<string, unknown>;
    if (typeof a.early_stopping_patience_counter === "number") this.patienceCounter = a.early_stopping_patience_counter;
  }
}
