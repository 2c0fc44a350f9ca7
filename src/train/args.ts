// TrainingArguments: HF's field names (camelCase here, snake_case in JSON/YAML and in
// training_args.json), HF's defaults, and HF's checks for inconsistent combinations.

import { ConfigError } from "../tensor/errors.js";
import { SCHEDULER_TYPES, SchedulerType } from "./schedule.js";

export type IntervalStrategy = "no" | "steps" | "epoch";
export type SaveStrategy = IntervalStrategy | "best";
export type OptimName = "adamw_torch" | "adamw_torch_fused" | "adamw" | "adamw_hf" | "sgd" | "adafactor";
export const OPTIM_NAMES: readonly OptimName[] = ["adamw_torch", "adamw_torch_fused", "adamw", "adamw_hf", "sgd", "adafactor"];

/** Every field with its HF default (camelCase name → default). */
const DEFAULTS = {
  outputDir: "trainer_output",
  overwriteOutputDir: false,
  doTrain: false,
  doEval: false,
  doPredict: false,
  evalStrategy: "no" as IntervalStrategy,
  perDeviceTrainBatchSize: 8,
  perDeviceEvalBatchSize: 8,
  gradientAccumulationSteps: 1,
  evalDelay: 0,
  learningRate: 5e-5,
  weightDecay: 0.0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  maxGradNorm: 1.0,
  numTrainEpochs: 3.0,
  maxSteps: -1,
  lrSchedulerType: "linear" as SchedulerType,
  lrSchedulerKwargs: {} as Record<string, unknown>,
  warmupRatio: 0.0,
  warmupSteps: 0 as number,
  loggingStrategy: "steps" as IntervalStrategy,
  loggingFirstStep: false,
  loggingSteps: 500 as number,
  loggingNanInfFilter: true,
  saveStrategy: "steps" as SaveStrategy,
  saveSteps: 500 as number,
  saveTotalLimit: null as number | null,
  saveOnlyModel: false,
  seed: 42,
  dataSeed: null as number | null,
  fp16: false,
  bf16: false,
  evalSteps: null as number | null,
  dataloaderDropLast: false,
  runName: null as string | null,
  disableTqdm: false,
  labelNames: null as string[] | null,
  loadBestModelAtEnd: false,
  metricForBestModel: null as string | null,
  greaterIsBetter: null as boolean | null,
  optim: "adamw_torch" as OptimName,
  optimArgs: null as string | null,
  /** SGD momentum (also accepted as optim_args "momentum=0.9"). */
  sgdMomentum: 0.0,
  labelSmoothingFactor: 0.0,
  gradientCheckpointing: false,
  resumeFromCheckpoint: null as string | null,
  /** "none" or "jsonl" (output_dir/log_history.jsonl). */
  reportTo: ["jsonl"] as string[],
  /**
   * HF 5.17 Trainer skips the division by gradient_accumulation_steps when the model's forward
   * accepts extra loss kwargs (a PeftModel); true reproduces that (see the golden "Surprise").
   */
  lossNotDividedByAccumulation: false,
};

export type TrainingArgumentsInit = Partial<typeof DEFAULTS>;

export function camelToSnake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}
export function snakeToCamel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

const FIELDS = Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[];
const BY_SNAKE = new Map<string, keyof typeof DEFAULTS>(FIELDS.map((k) => [camelToSnake(k), k]));
/** HF aliases accepted on input. */
const ALIASES: Record<string, keyof typeof DEFAULTS> = { evaluation_strategy: "evalStrategy", evaluationStrategy: "evalStrategy" };

function checkEnum<T extends string>(value: unknown, allowed: readonly T[], what: string): T {
  if (typeof value !== "string" || !allowed.includes(value as T)) {
    throw new ConfigError(`'${String(value)}' is not a valid ${what}; expected one of ${allowed.map((a) => `'${a}'`).join(", ")}`);
  }
  return value as T;
}

export class TrainingArguments {
  outputDir!: string;
  overwriteOutputDir!: boolean;
  doTrain!: boolean;
  doEval!: boolean;
  doPredict!: boolean;
  evalStrategy!: IntervalStrategy;
  perDeviceTrainBatchSize!: number;
  perDeviceEvalBatchSize!: number;
  gradientAccumulationSteps!: number;
  evalDelay!: number;
  learningRate!: number;
  weightDecay!: number;
  adamBeta1!: number;
  adamBeta2!: number;
  adamEpsilon!: number;
  maxGradNorm!: number;
  numTrainEpochs!: number;
  maxSteps!: number;
  lrSchedulerType!: SchedulerType;
  lrSchedulerKwargs!: Record<string, unknown>;
  warmupRatio!: number;
  warmupSteps!: number;
  loggingStrategy!: IntervalStrategy;
  loggingFirstStep!: boolean;
  loggingSteps!: number;
  loggingNanInfFilter!: boolean;
  saveStrategy!: SaveStrategy;
  saveSteps!: number;
  saveTotalLimit!: number | null;
  saveOnlyModel!: boolean;
  seed!: number;
  dataSeed!: number | null;
  fp16!: boolean;
  bf16!: boolean;
  evalSteps!: number | null;
  dataloaderDropLast!: boolean;
  runName!: string | null;
  disableTqdm!: boolean;
  labelNames!: string[] | null;
  loadBestModelAtEnd!: boolean;
  metricForBestModel!: string | null;
  greaterIsBetter!: boolean | null;
  optim!: OptimName;
  optimArgs!: string | null;
  sgdMomentum!: number;
  labelSmoothingFactor!: number;
  gradientCheckpointing!: boolean;
  resumeFromCheckpoint!: string | null;
  reportTo!: string[];
  lossNotDividedByAccumulation!: boolean;

  constructor(init: TrainingArgumentsInit = {}) {
    for (const k of Object.keys(init)) {
      if (!(k in DEFAULTS)) throw new ConfigError(`TrainingArguments: unknown field '${k}'`);
    }
    const self = this as unknown as Record<string, unknown>;
    for (const k of FIELDS) {
      const v = (init as Record<string, unknown>)[k];
      const d = DEFAULTS[k];
      self[k] = v === undefined ? (Array.isArray(d) ? d.slice() : d && typeof d === "object" ? { ...d } : d) : v;
    }
    this.postInit();
  }

  /** From a JSON/YAML object: snake_case (HF) or camelCase keys; unknown keys are an error. */
  static fromDict(obj: Record<string, unknown>): TrainingArguments {
    const init: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      const key = ALIASES[k] ?? BY_SNAKE.get(k) ?? (k in DEFAULTS ? (k as keyof typeof DEFAULTS) : undefined);
      if (!key) throw new ConfigError(`TrainingArguments: unknown field '${k}' (HF snake_case names such as 'learning_rate' are expected)`);
      init[key] = v;
    }
    return new TrainingArguments(init as TrainingArgumentsInit);
  }

  /** HF's __post_init__ checks and derived defaults. */
  private postInit(): void {
    const num = (k: keyof typeof DEFAULTS, min = -Infinity) => {
      const v = (this as unknown as Record<string, unknown>)[k];
      if (typeof v !== "number" || Number.isNaN(v) || v < min) throw new ConfigError(`TrainingArguments.${camelToSnake(k)} must be a number${min > -Infinity ? ` >= ${min}` : ""}, got ${JSON.stringify(v)}`);
    };
    for (const k of ["learningRate", "weightDecay", "adamEpsilon", "maxGradNorm", "numTrainEpochs", "warmupRatio", "warmupSteps", "labelSmoothingFactor"] as const) num(k, 0);
    for (const k of ["perDeviceTrainBatchSize", "perDeviceEvalBatchSize", "gradientAccumulationSteps"] as const) {
      num(k, 1);
      if (!Number.isInteger(this[k])) throw new ConfigError(`TrainingArguments.${camelToSnake(k)} must be an integer, got ${this[k]}`);
    }
    num("maxSteps");
    num("seed");
    if (typeof this.reportTo === "string") this.reportTo = [this.reportTo];
    this.evalStrategy = checkEnum(this.evalStrategy, ["no", "steps", "epoch"] as const, "IntervalStrategy");
    this.loggingStrategy = checkEnum(this.loggingStrategy, ["no", "steps", "epoch"] as const, "IntervalStrategy");
    this.saveStrategy = checkEnum(this.saveStrategy, ["no", "steps", "epoch", "best"] as const, "SaveStrategy");
    this.lrSchedulerType = checkEnum(this.lrSchedulerType, SCHEDULER_TYPES, "SchedulerType");
    this.optim = checkEnum(this.optim, OPTIM_NAMES, "OptimizerNames");
    if (this.evalStrategy !== "no") this.doEval = true;
    if (this.evalStrategy === "steps" && (this.evalSteps === null || this.evalSteps === 0)) {
      if (this.loggingSteps > 0) this.evalSteps = this.loggingSteps;
      else throw new ConfigError(`evaluation strategy ${this.evalStrategy} requires either non-zero --eval_steps or --logging_steps`);
    }
    if (this.loggingStrategy === "steps" && this.loggingSteps === 0) throw new ConfigError(`logging strategy ${this.loggingStrategy} requires non-zero --logging_steps`);
    for (const k of ["loggingSteps", "evalSteps", "saveSteps"] as const) {
      const v = this[k];
      if (v !== null && v > 1 && !Number.isInteger(v)) throw new ConfigError(`--${camelToSnake(k)} must be an integer if bigger than 1: ${v}`);
    }
    if (this.saveStrategy === "best" && this.metricForBestModel === null) throw new ConfigError("`args.metric_for_best_model` must be provided when using 'best' save_strategy.");
    if (this.loadBestModelAtEnd && this.saveStrategy !== "best") {
      if (this.evalStrategy !== this.saveStrategy) {
        throw new ConfigError(`--load_best_model_at_end requires the save and eval strategy to match, but found\n- Evaluation strategy: ${this.evalStrategy}\n- Save strategy: ${this.saveStrategy}`);
      }
      if (this.evalStrategy === "steps" && this.evalSteps !== null) {
        const multiple = this.evalSteps < 1 || this.saveSteps < 1
          ? Math.abs(Math.round(this.saveSteps / this.evalSteps) - this.saveSteps / this.evalSteps) < 1e-9
          : this.saveSteps % this.evalSteps === 0;
        if (!multiple) {
          throw new ConfigError(`--load_best_model_at_end requires the saving steps to be a multiple of the evaluation steps, but found ${this.saveSteps}, which is not a multiple of ${this.evalSteps}.`);
        }
      }
    }
    if ((this.loadBestModelAtEnd || this.saveStrategy === "best") && this.metricForBestModel === null) this.metricForBestModel = "loss";
    if (this.greaterIsBetter === null && this.metricForBestModel !== null) this.greaterIsBetter = !this.metricForBestModel.endsWith("loss");
    if (this.fp16 && this.bf16) throw new ConfigError("At most one of fp16 and bf16 can be True, but not both");
    if (this.warmupRatio < 0 || this.warmupRatio > 1) throw new ConfigError("warmup_ratio must lie in range [0,1]");
    if (this.warmupRatio > 0 && this.warmupSteps > 0) {
      // HF: warmup_steps overrides warmup_ratio (it only warns)
    }
    if (this.lrSchedulerType === "reduce_lr_on_plateau" && this.evalStrategy === "no") {
      throw new ConfigError("lr_scheduler_type reduce_lr_on_plateau requires an eval strategy");
    }
    if (this.saveTotalLimit !== null && (!Number.isInteger(this.saveTotalLimit) || this.saveTotalLimit < 0)) {
      throw new ConfigError(`save_total_limit must be a non-negative integer or null, got ${this.saveTotalLimit}`);
    }
    for (const r of this.reportTo) if (!["none", "jsonl", "all"].includes(r)) throw new ConfigError(`report_to '${r}' is not supported; expected 'none' or 'jsonl'`);
  }

  /** Total batch size of one optimizer step (one process). */
  get trainBatchSize(): number {
    return this.perDeviceTrainBatchSize;
  }

  /** key=value pairs of optim_args ("momentum=0.9,nesterov=True"). */
  parsedOptimArgs(): Record<string, string> {
    const out: Record<string, string> = {};
    if (!this.optimArgs) return out;
    for (const part of this.optimArgs.replace(/\s+/g, "").split(",")) {
      if (!part) continue;
      const [k, v] = part.split("=");
      if (v === undefined) throw new ConfigError(`optim_args: '${part}' is not key=value`);
      out[k] = v;
    }
    return out;
  }

  /** snake_case dict (training_args.json). */
  toDict(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const self = this as unknown as Record<string, unknown>;
    for (const k of FIELDS) out[camelToSnake(k)] = self[k];
    return out;
  }
  toJSON(): Record<string, unknown> {
    return this.toDict();
  }
  toJsonString(): string {
    return JSON.stringify(this.toDict(), null, 2) + "\n";
  }
}
