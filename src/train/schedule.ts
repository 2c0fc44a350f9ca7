// Learning-rate schedules with transformers' exact formulas (transformers/optimization.py).
// Each LambdaLR-style schedule maps the number of optimizer steps taken so far (PyTorch's
// last_epoch) to a multiplier of every group's initial lr; ReduceLROnPlateau follows
// torch.optim.lr_scheduler.ReduceLROnPlateau and is stepped with a metric at evaluation time.

import { ConfigError } from "../tensor/errors.js";
import type { Optimizer } from "./optim/optimizer.js";

export type SchedulerType =
  | "linear" | "cosine" | "cosine_with_restarts" | "polynomial" | "constant" | "constant_with_warmup"
  | "inverse_sqrt" | "reduce_lr_on_plateau" | "cosine_with_min_lr" | "warmup_stable_decay";

export const SCHEDULER_TYPES: readonly SchedulerType[] = [
  "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
  "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "warmup_stable_decay",
];

export interface ScheduleOptions {
  numWarmupSteps?: number;
  numTrainingSteps?: number;
  /** cosine: 0.5 (half a wave); cosine_with_restarts: 1 (number of hard restarts). */
  numCycles?: number;
  /** polynomial */
  lrEnd?: number;
  power?: number;
  /** inverse_sqrt (defaults to numWarmupSteps, or 10000 without warmup). */
  timescale?: number;
  /** cosine_with_min_lr: give one of minLr or minLrRate. */
  minLr?: number;
  minLrRate?: number;
  /** warmup_stable_decay */
  numStableSteps?: number;
  numDecaySteps?: number;
  minLrRatio?: number;
  decayType?: "linear" | "cosine" | "1-sqrt";
}

function warm(step: number, w: number): number {
  return step / Math.max(1, w);
}

/** The multiplier function lambda(step) of a LambdaLR schedule (HF's get_*_schedule_* helpers). */
export function lrLambda(type: SchedulerType, o: ScheduleOptions, initialLr: number): (step: number) => number {
  const w = o.numWarmupSteps ?? 0;
  const needTotal = (): number => {
    if (o.numTrainingSteps === undefined) throw new ConfigError(`${type} scheduler requires numTrainingSteps`);
    return o.numTrainingSteps;
  };
  switch (type) {
    case "constant":
      return () => 1.0;
    case "constant_with_warmup":
      return (s) => (s < w ? warm(s, w) : 1.0);
    case "linear": {
      const T = needTotal();
      return (s) => (s < w ? warm(s, w) : Math.max(0.0, (T - s) / Math.max(1, T - w)));
    }
    case "cosine": {
      const T = needTotal();
      const c = o.numCycles ?? 0.5;
      return (s) => {
        if (s < w) return warm(s, w);
        const progress = (s - w) / Math.max(1, T - w);
        return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * c * 2.0 * progress)));
      };
    }
    case "cosine_with_restarts": {
      const T = needTotal();
      const c = o.numCycles ?? 1;
      return (s) => {
        if (s < w) return warm(s, w);
        const progress = (s - w) / Math.max(1, T - w);
        if (progress >= 1.0) return 0.0;
        return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * ((c * progress) % 1.0))));
      };
    }
    case "polynomial": {
      const T = needTotal();
      const lrEnd = o.lrEnd ?? 1e-7;
      const power = o.power ?? 1.0;
      if (!(initialLr > lrEnd)) throw new ConfigError(`lr_end (${lrEnd}) must be smaller than initial lr (${initialLr})`);
      return (s) => {
        if (s < w) return warm(s, w);
        if (s > T) return lrEnd / initialLr;
        const range = initialLr - lrEnd;
        const decaySteps = T - w;
        const pctRemaining = 1 - (s - w) / decaySteps;
        return (range * pctRemaining ** power + lrEnd) / initialLr;
      };
    }
    case "inverse_sqrt": {
      const timescale = o.timescale ?? (w || 10_000);
      return (s) => {
        if (s < w) return warm(s, w);
        const shift = timescale - w;
        return 1.0 / Math.sqrt((s + shift) / timescale);
      };
    }
    case "cosine_with_min_lr": {
      const T = needTotal();
      const c = o.numCycles ?? 0.5;
      let rate: number;
      if (o.minLr !== undefined && o.minLrRate !== undefined) throw new ConfigError("cosine_with_min_lr: only one of min_lr or min_lr_rate should be set");
      else if (o.minLr !== undefined) rate = o.minLr / initialLr;
      else if (o.minLrRate !== undefined) rate = o.minLrRate;
      else throw new ConfigError("cosine_with_min_lr: one of min_lr or min_lr_rate should be set through lr_scheduler_kwargs");
      return (s) => {
        if (s < w) return warm(s, w);
        const progress = (s - w) / Math.max(1, T - w);
        const f = 0.5 * (1.0 + Math.cos(Math.PI * c * 2.0 * progress));
        return Math.max(0, f * (1 - rate) + rate);
      };
    }
    case "warmup_stable_decay": {
      const stable = o.numStableSteps ?? 0;
      const decay = o.numDecaySteps ?? (o.numTrainingSteps !== undefined ? o.numTrainingSteps - w - stable : 0);
      const minRatio = o.minLrRatio ?? 0;
      const c = o.numCycles ?? 0.5;
      const kind = o.decayType ?? "cosine";
      return (s) => {
        if (s < w) return warm(s, w);
        if (s < w + stable) return 1.0;
        if (s < w + stable + decay) {
          const progress = (s - w - stable) / Math.max(1, decay);
          let v: number;
          if (kind === "linear") v = 1.0 - progress;
          else if (kind === "cosine") v = 0.5 * (1.0 + Math.cos(Math.PI * c * 2.0 * progress));
          else v = 1.0 - Math.sqrt(progress);
          v = (1.0 - minRatio) * v + minRatio;
          return Math.max(0.0, v);
        }
        return minRatio;
      };
    }
    default:
      throw new ConfigError(`unknown lr_scheduler_type '${type}'; expected one of ${SCHEDULER_TYPES.join(", ")}`);
  }
}

export interface SchedulerState {
  type: SchedulerType;
  last_epoch: number;
  base_lrs: number[];
  last_lr: number[];
  /** reduce_lr_on_plateau only */
  plateau?: { best: number | null; num_bad_epochs: number; cooldown_counter: number };
}

export interface LRScheduler {
  readonly type: SchedulerType;
  /** One optimizer step done (LambdaLR) — for plateau, call stepMetric(). */
  step(): void;
  /** Plateau: one evaluation with this metric value (other schedulers ignore it). */
  stepMetric(metric: number): void;
  getLastLr(): number[];
  stateDict(): SchedulerState;
  loadStateDict(s: SchedulerState): void;
}

/** PyTorch LambdaLR: lr_i = base_lr_i · λ(last_epoch); construction performs step 0. */
export class LambdaLR implements LRScheduler {
  lastEpoch = 0;
  readonly baseLrs: number[];
  private lastLr: number[] = [];
  constructor(
    readonly optimizer: Optimizer,
    private readonly lambda: (step: number) => number,
    readonly type: SchedulerType = "constant",
  ) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr ?? g.lr);
    for (const g of optimizer.paramGroups) g.initialLr ??= g.lr;
    this.apply();
  }
  private apply(): void {
    const f = this.lambda(this.lastEpoch);
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.baseLrs[i] * f));
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }
  step(): void {
    this.lastEpoch++;
    this.apply();
  }
  stepMetric(): void {}
  getLastLr(): number[] {
    return this.lastLr.slice();
  }
  stateDict(): SchedulerState {
    return { type: this.type, last_epoch: this.lastEpoch, base_lrs: this.baseLrs.slice(), last_lr: this.lastLr.slice() };
  }
  loadStateDict(s: SchedulerState): void {
    checkState(s, this.type, this.baseLrs.length);
    this.lastEpoch = s.last_epoch;
    s.base_lrs.forEach((b, i) => (this.baseLrs[i] = b));
    this.apply();
  }
}

function checkState(s: SchedulerState, type: SchedulerType, groups: number): void {
  if (!s || !Number.isInteger(s.last_epoch) || s.last_epoch < 0 || !Array.isArray(s.base_lrs) || !s.base_lrs.every((b) => typeof b === "number" && Number.isFinite(b))) {
    throw new ConfigError("scheduler state: missing last_epoch (an integer >= 0) / base_lrs (finite numbers)");
  }
  // the saved type comes from scheduler.json: a non-string is shown with JSON.stringify (String() of an object can throw)
  if (s.type !== type) throw new ConfigError(`scheduler state is for '${typeof s.type === "string" ? s.type : JSON.stringify(s.type)}', but this run uses '${type}'`);
  if (s.base_lrs.length !== groups) throw new ConfigError(`scheduler state has ${s.base_lrs.length} param groups, the optimizer has ${groups}`);
}

export interface PlateauOptions {
  mode?: "min" | "max";
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: "rel" | "abs";
  cooldown?: number;
  minLr?: number;
  eps?: number;
}

/** torch.optim.lr_scheduler.ReduceLROnPlateau (defaults as in torch). */
export class ReduceLROnPlateau implements LRScheduler {
  readonly type: SchedulerType = "reduce_lr_on_plateau";
  readonly o: Required<PlateauOptions>;
  best: number | null = null;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  constructor(readonly optimizer: Optimizer, opts: PlateauOptions = {}) {
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    this.o = { mode: "min", factor: 0.1, patience: 10, threshold: 1e-4, thresholdMode: "rel", cooldown: 0, minLr: 0, eps: 1e-8, ...given };
    if (this.o.factor >= 1.0) throw new ConfigError("ReduceLROnPlateau: factor should be < 1.0");
    for (const g of optimizer.paramGroups) g.initialLr ??= g.lr;
  }
  private isBetter(a: number, best: number): boolean {
    const { mode, thresholdMode, threshold } = this.o;
    if (mode === "min" && thresholdMode === "rel") return a < best * (1 - threshold);
    if (mode === "min") return a < best - threshold;
    if (thresholdMode === "rel") return a > best * (threshold + 1);
    return a > best + threshold;
  }
  step(): void {}
  stepMetric(metric: number): void {
    this.lastEpoch++;
    if (this.best === null || this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else this.numBadEpochs++;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.o.patience) {
      for (const g of this.optimizer.paramGroups) {
        const newLr = Math.max(g.lr * this.o.factor, this.o.minLr);
        if (g.lr - newLr > this.o.eps) g.lr = newLr;
      }
      this.cooldownCounter = this.o.cooldown;
      this.numBadEpochs = 0;
    }
  }
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
  stateDict(): SchedulerState {
    return {
      type: this.type, last_epoch: this.lastEpoch, base_lrs: this.optimizer.paramGroups.map((g) => g.initialLr ?? g.lr), last_lr: this.getLastLr(),
      plateau: { best: this.best, num_bad_epochs: this.numBadEpochs, cooldown_counter: this.cooldownCounter },
    };
  }
  loadStateDict(s: SchedulerState): void {
    checkState(s, this.type, this.optimizer.paramGroups.length);
    this.lastEpoch = s.last_epoch;
    this.best = s.plateau?.best ?? null;
    this.numBadEpochs = s.plateau?.num_bad_epochs ?? 0;
    this.cooldownCounter = s.plateau?.cooldown_counter ?? 0;
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = s.last_lr[i]));
  }
}

/** transformers.get_scheduler: builds the named schedule on an optimizer. */
export function getScheduler(type: SchedulerType, optimizer: Optimizer, o: ScheduleOptions & { plateau?: PlateauOptions } = {}): LRScheduler {
  if (type === "reduce_lr_on_plateau") return new ReduceLROnPlateau(optimizer, o.plateau);
  const lr0 = optimizer.paramGroups[0]?.initialLr ?? optimizer.paramGroups[0]?.lr ?? 0;
  return new LambdaLR(optimizer, lrLambda(type, o, lr0), type);
}

/** HF TrainingArguments.get_warmup_steps: warmup_steps wins when > 0 (or ≥ 1), else ceil(ratio · total). */
export function warmupStepsFor(totalSteps: number, warmupSteps: number, warmupRatio: number): number {
  if (warmupSteps >= 1) return Math.floor(warmupSteps);
  if (warmupSteps > 0) return Math.ceil(totalSteps * warmupSteps);
  return Math.ceil(totalSteps * warmupRatio);
}
