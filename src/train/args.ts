// TrainingArguments: HF's field names (camelCase here, snake_case in JSON/YAML and in
// training_args.json), HF's defaults, and HF's checks for inconsistent combinations.

import { ConfigError } from "../tensor/errors.js";
import type { ProcessGroup } from "../dist/process_group.js";
import { SCHEDULER_TYPES, SchedulerType } from "./schedule.js";
import { checkDpArgs } from "./dp/dp_args.js";

export type IntervalStrategy = "no" | "steps" | "epoch";
export type SaveStrategy = IntervalStrategy | "best";
export type OptimName = "adamw_torch" | "adamw_torch_fused" | "adamw" | "adamw_hf" | "sgd" | "adafactor";
export const OPTIM_NAMES: readonly OptimName[] = ["adamw_torch", "adamw_torch_fused", "adamw", "adamw_hf", "sgd", "adafactor"];

/** How a field is written on the command line / in a config file. */
export type TrainingFieldKind = "string" | "path" | "int" | "float" | "bool" | "list" | "json";

/** One TrainingArguments field: its HF default, how it is written, and what it means. */
export interface TrainingField<T> {
  readonly kind: TrainingFieldKind;
  readonly default: T;
  readonly help: string;
  readonly choices?: readonly string[];
}

function field<T>(kind: TrainingFieldKind, def: T, help: string, choices?: readonly string[]): TrainingField<T> {
  return choices ? { kind, default: def, help, choices } : { kind, default: def, help };
}

const INTERVALS = ["no", "steps", "epoch"] as const;

/**
 * Every TrainingArguments field (camelCase; the snake_case form is its HF name), with HF's
 * default, its kind and its help line. The class, fromDict/toDict and the CLI's flags are all
 * derived from this one table.
 */
export const TRAINING_FIELDS = {
  outputDir: field<string>("path", "trainer_output", "where checkpoints, metrics.json, report.html and the adapter go"),
  overwriteOutputDir: field("bool", false, "reuse a non-empty output_dir"),
  doTrain: field("bool", false, "run training"),
  doEval: field("bool", false, "run evaluation"),
  doPredict: field("bool", false, "run prediction"),
  evalStrategy: field<IntervalStrategy>("string", "no", "when to evaluate", INTERVALS),
  perDeviceTrainBatchSize: field("int", 8, "training batch size"),
  perDeviceEvalBatchSize: field("int", 8, "evaluation batch size"),
  gradientAccumulationSteps: field("int", 1, "accumulate gradients over N batches"),
  evalDelay: field("float", 0, "epochs or steps to wait before the first evaluation"),
  learningRate: field("float", 5e-5, "peak learning rate (AdamW)"),
  weightDecay: field("float", 0.0, "AdamW weight decay"),
  adamBeta1: field("float", 0.9, "AdamW beta1"),
  adamBeta2: field("float", 0.999, "AdamW beta2"),
  adamEpsilon: field("float", 1e-8, "AdamW epsilon"),
  maxGradNorm: field("float", 1.0, "gradient clipping norm (0 disables)"),
  numTrainEpochs: field("float", 3.0, "epochs"),
  maxSteps: field("int", -1, "stop after N optimizer steps (overrides num_train_epochs)"),
  lrSchedulerType: field<SchedulerType>("string", "linear", "learning-rate schedule", SCHEDULER_TYPES),
  lrSchedulerKwargs: field<Record<string, unknown>>("json", {}, "extra schedule arguments (JSON object, e.g. {\"num_cycles\": 2})"),
  warmupRatio: field("float", 0.0, "fraction of steps with linear warm-up"),
  warmupSteps: field<number>("float", 0, "warm-up steps (overrides warmup_ratio)"),
  loggingStrategy: field<IntervalStrategy>("string", "steps", "when to log", INTERVALS),
  loggingFirstStep: field("bool", false, "log the first step"),
  loggingSteps: field<number>("float", 500, "log every N steps"),
  loggingNanInfFilter: field("bool", true, "leave NaN/inf losses out of the logged average"),
  maxNonfiniteSkips: field("int", 3,
    "optimizer steps in a row with a non-finite loss or gradient norm that are skipped (and logged) before training stops with an error; 0 stops at the first (peft-ts; fp16 runs use the loss scaler instead)"),
  saveStrategy: field<SaveStrategy>("string", "steps", "when to save checkpoints", [...INTERVALS, "best"]),
  saveSteps: field<number>("float", 500, "save a checkpoint every N steps"),
  saveTotalLimit: field<number | null>("int", null, "keep at most N checkpoints"),
  saveOnlyModel: field("bool", false, "checkpoints without optimizer/scheduler/RNG state"),
  seed: field("int", 42, "random seed (init, dropout, shuffling)"),
  dataSeed: field<number | null>("int", null, "seed for data shuffling only"),
  fp16: field("bool", false, "mixed precision (fp16 autocast)"),
  bf16: field("bool", false, "mixed precision (bf16 autocast)"),
  evalSteps: field<number | null>("float", null, "evaluate every N steps (eval_strategy steps)"),
  dataloaderDropLast: field("bool", false, "drop the last incomplete batch"),
  runName: field<string | null>("string", null, "name shown in the report"),
  disableTqdm: field("bool", false, "no progress bar"),
  labelNames: field<string[] | null>("list", null, "batch keys that hold the labels"),
  loadBestModelAtEnd: field("bool", false, "reload the best checkpoint at the end"),
  metricForBestModel: field<string | null>("string", null, "metric that picks the best checkpoint (e.g. eval_accuracy)"),
  greaterIsBetter: field<boolean | null>("bool", null, "whether a larger metric_for_best_model is better"),
  optim: field<OptimName>("string", "adamw_torch", "optimizer", OPTIM_NAMES),
  optimArgs: field<string | null>("string", null, 'optimizer arguments as key=value pairs ("momentum=0.9")'),
  sgdMomentum: field("float", 0.0, "SGD momentum (also accepted as optim_args momentum=0.9)"),
  labelSmoothingFactor: field("float", 0.0, "label smoothing for the cross-entropy"),
  predictWithGenerate: field("bool", false, "Seq2SeqTrainingArguments: evaluate/predict with generate() on encoder-decoders (predictions are generated ids; BLEU/chrF/ROUGE)"),
  generationMaxLength: field<number | null>("int", null, "Seq2SeqTrainingArguments: max_length of the generated ids, decoder start included (null: 20, HF's default max_length)"),
  generationNumBeams: field<number | null>("int", null, "Seq2SeqTrainingArguments: num_beams of generation in evaluation (null: the model's generation config, else 1)"),
  gradientCheckpointing: field("bool", false, "recompute activations in backward to save memory"),
  resumeFromCheckpoint: field<string | null>("string", null, 'checkpoint folder to resume from, or "true" for the latest in output_dir'),
  reportTo: field<string[]>("list", ["jsonl"], "where logs go: none, or jsonl (output_dir/log_history.jsonl)"),
  lossNotDividedByAccumulation: field("bool", false,
    "reproduce HF 5.17, which skips the division by gradient_accumulation_steps for a PeftModel (see the golden 'Surprise')"),
  ddpBackend: field<string | null>("string", null, 'data-parallel backend: "mpi" (the run is started by mpirun); null picks it from how the run was started'),
  ddpTimeout: field("int", 1800, "seconds a collective between ranks may take before the run fails"),
  ddpBucketCapMb: field<number | null>("int", null, "size of a gradient allreduce bucket in MB (null: 25, as DDP)"),
  dp: field("bool", false, "differentially private training (DP-SGD: per-sample clipping, Gaussian noise, Poisson sampling, ε accounting)"),
  dpTargetEpsilon: field<number | null>("float", null, "DP: the ε to reach at the end of training (the noise multiplier is searched); or give dp_noise_multiplier"),
  dpNoiseMultiplier: field<number | null>("float", null, "DP: noise std as a multiple of dp_max_grad_norm (σ); or give dp_target_epsilon"),
  dpDelta: field<number | null>("float", null, "DP: δ (null: min(1e-5, 1/N) for N training examples)"),
  dpMaxGradNorm: field("float", 1.0, "DP: per-sample clipping norm C"),
  dpAccountant: field<"rdp" | "gdp">("string", "rdp", "DP: privacy accountant", ["rdp", "gdp"]),
  dpClipping: field<"flat" | "per_layer" | "ghost">("string", "flat", "DP: per-sample clipping over all parameters (flat) or per parameter at C/sqrt(K) (per_layer), or flat with ghost norms and a book-keeping clipped sum (ghost: Linear-type and Embedding parameters only, no per-sample gradients)", ["flat", "per_layer", "ghost"]),
  dpPoissonSampling: field("bool", true, "DP: Poisson-sample each batch (each example with probability q); false shuffles, with a warning that the accountant assumes Poisson sampling"),
  dpTeacherPublic: field("bool", false, "DP distillation: acknowledge that the teacher(s) never saw the private training data (a teacher trained on it leaks it into every student step outside the DP guarantee); the Distiller refuses dp without it"),
  logExamples: field("bool", false, "put raw example text (worst errors, sample predictions) into logs and report.html; off by default so private training data stays out of every output"),
  zeroStage: field("int", 0, "ZeRO sharding over the data-parallel ranks: 0 off, 1 optimizer state, 2 optimizer state and gradients (adamw/sgd)"),
  tensorParallelSize: field("int", 1,
    "ranks that split one model replica (Megatron tensor parallelism, Llama/BERT + LoRA); must divide the number of processes, the rest is data parallelism"),
} as const;

/** The process group the Trainer runs with, per TrainingArguments (not a field: never saved). */
const GROUPS = new WeakMap<object, ProcessGroup>();
/** The data-parallel group, when it is not the whole world (tensor parallelism). */
const DP_GROUPS = new WeakMap<object, ProcessGroup>();

type Fields = typeof TRAINING_FIELDS;
export type TrainingFieldName = keyof Fields;
/** The value type of each field. */
export type TrainingValues = { -readonly [K in TrainingFieldName]: Fields[K] extends TrainingField<infer T> ? T : never };
export type TrainingArgumentsInit = Partial<TrainingValues>;

/** The table as a list with HF's snake_case names (what the CLI turns into flags). */
export function trainingFieldList(): ({ key: TrainingFieldName; name: string } & TrainingField<unknown>)[] {
  return (Object.keys(TRAINING_FIELDS) as TrainingFieldName[]).map((key) => ({ key, name: camelToSnake(key), ...TRAINING_FIELDS[key] }));
}

export function camelToSnake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}
export function snakeToCamel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

const FIELDS = Object.keys(TRAINING_FIELDS) as TrainingFieldName[];
const BY_SNAKE = new Map<string, TrainingFieldName>(FIELDS.map((k) => [camelToSnake(k), k]));
/** HF aliases accepted on input. */
const ALIASES: Record<string, TrainingFieldName> = { evaluation_strategy: "evalStrategy", evaluationStrategy: "evalStrategy" };

function checkEnum<T extends string>(value: unknown, allowed: readonly T[], what: string): T {
  if (typeof value !== "string" || !allowed.includes(value as T)) {
    throw new ConfigError(`'${String(value)}' is not a valid ${what}; expected one of ${allowed.map((a) => `'${a}'`).join(", ")}`);
  }
  return value as T;
}

/** The field values come from TRAINING_FIELDS (declaration merging: one list, typed). */
export interface TrainingArguments extends TrainingValues {}

export class TrainingArguments {
  constructor(init: TrainingArgumentsInit = {}) {
    for (const k of Object.keys(init)) {
      if (!(k in TRAINING_FIELDS)) throw new ConfigError(`TrainingArguments: unknown field '${k}'`);
    }
    const self = this as unknown as Record<string, unknown>;
    for (const k of FIELDS) {
      const v = (init as Record<string, unknown>)[k];
      const d: unknown = TRAINING_FIELDS[k].default;
      self[k] = v === undefined ? (Array.isArray(d) ? d.slice() : d && typeof d === "object" ? { ...d } : d) : v;
    }
    this.postInit();
  }

  /** From a JSON/YAML object: snake_case (HF) or camelCase keys; unknown keys are an error. */
  static fromDict(obj: Record<string, unknown>): TrainingArguments {
    const init: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      const key = ALIASES[k] ?? BY_SNAKE.get(k) ?? (k in TRAINING_FIELDS ? (k as TrainingFieldName) : undefined);
      if (!key) throw new ConfigError(`TrainingArguments: unknown field '${k}' (HF snake_case names such as 'learning_rate' are expected)`);
      init[key] = v;
    }
    return new TrainingArguments(init as TrainingArgumentsInit);
  }

  /** HF's __post_init__ checks and derived defaults. */
  private postInit(): void {
    const num = (k: TrainingFieldName, min = -Infinity) => {
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
    num("maxNonfiniteSkips", 0);
    if (!Number.isInteger(this.maxNonfiniteSkips)) throw new ConfigError(`TrainingArguments.max_nonfinite_skips must be an integer, got ${this.maxNonfiniteSkips}`);
    for (const [k, min] of [["generationMaxLength", 2], ["generationNumBeams", 1]] as const) {
      const v = this[k];
      if (v !== null && (!Number.isInteger(v) || v < min)) throw new ConfigError(`TrainingArguments.${camelToSnake(k)} must be an integer >= ${min} or null, got ${JSON.stringify(v)}`);
    }
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
    if (this.ddpBackend !== null && this.ddpBackend !== "mpi") {
      throw new ConfigError(`ddp_backend '${this.ddpBackend}' is not supported; expected 'mpi' (or null to pick it from how the run was started)`);
    }
    num("ddpTimeout", 1);
    if (this.ddpBucketCapMb !== null) {
      num("ddpBucketCapMb", 1);
      if (!Number.isInteger(this.ddpBucketCapMb)) throw new ConfigError(`TrainingArguments.ddp_bucket_cap_mb must be an integer, got ${this.ddpBucketCapMb}`);
    }
    num("tensorParallelSize", 1);
    if (!Number.isInteger(this.tensorParallelSize)) throw new ConfigError(`TrainingArguments.tensor_parallel_size must be an integer, got ${this.tensorParallelSize}`);
    if (![0, 1, 2].includes(this.zeroStage)) throw new ConfigError(`TrainingArguments.zero_stage must be 0, 1 or 2, got ${JSON.stringify(this.zeroStage)}`);
    if (this.zeroStage > 0 && this.optim === "adafactor") {
      throw new ConfigError(`zero_stage ${this.zeroStage} does not support optim adafactor (its factored second moments and update RMS span whole matrices); use adamw_torch or sgd, or zero_stage 0`);
    }
    checkDpArgs(this);
    for (const r of this.reportTo) if (!["none", "jsonl", "all"].includes(r)) throw new ConfigError(`report_to '${r}' is not supported; expected 'none' or 'jsonl'`);
  }

  /** Batch size of one forward on this process (HF's train_batch_size, one device per process). */
  get trainBatchSize(): number {
    return this.perDeviceTrainBatchSize;
  }

  /** Examples in one optimizer step over all ranks: per_device × data-parallel ranks × accumulation (the tp ranks of a replica share a batch). */
  get totalTrainBatchSize(): number {
    return this.perDeviceTrainBatchSize * this.dataParallelSize * this.gradientAccumulationSteps;
  }

  /** The group the Trainer set (null before a Trainer took these arguments). */
  get processGroup(): ProcessGroup | null {
    return GROUPS.get(this) ?? null;
  }
  /** Called by the Trainer: worldSize / processIndex / localProcessIndex read this group. */
  setProcessGroup(g: ProcessGroup | null, dataParallel: ProcessGroup | null = null): void {
    if (g) GROUPS.set(this, g);
    else GROUPS.delete(this);
    if (dataParallel && dataParallel !== g) DP_GROUPS.set(this, dataParallel);
    else DP_GROUPS.delete(this);
  }
  /** Data-parallel ranks (model replicas): world_size / tensor_parallel_size once a Trainer set the groups. */
  get dataParallelSize(): number {
    return DP_GROUPS.get(this)?.worldSize ?? this.worldSize;
  }
  /** Number of processes of the run (HF world_size); 1 without a group. */
  get worldSize(): number {
    return this.processGroup?.worldSize ?? 1;
  }
  /** This process's rank (HF process_index). */
  get processIndex(): number {
    return this.processGroup?.rank ?? 0;
  }
  /** This process's rank on its machine (HF local_process_index). */
  get localProcessIndex(): number {
    return this.processGroup?.localRank ?? 0;
  }
  /** ddp_bucket_cap_mb in bytes (25 MB when null). */
  get ddpBucketCapBytes(): number {
    return (this.ddpBucketCapMb ?? 25) * 1024 * 1024;
  }

  /**
   * The schedule of a run over `numExamples` training examples: batches and optimizer updates per
   * epoch, the optimizer steps (max_steps, else epochs × updates) and the epochs that covers.
   */
  plannedSteps(numExamples: number, worldSize = this.dataParallelSize): { numBatches: number; updatesPerEpoch: number; maxSteps: number; numEpochs: number } {
    const bs = this.perDeviceTrainBatchSize;
    // each rank's batch count: ceil (or, with drop_last, floor) of n / (world × batch), as accelerate shards HF batches
    const perRank = this.dataloaderDropLast ? Math.floor(numExamples / worldSize) : Math.ceil(numExamples / worldSize);
    const numBatches = this.dataloaderDropLast ? Math.floor(perRank / bs) : Math.ceil(perRank / bs);
    const updatesPerEpoch = Math.max(Math.ceil(numBatches / this.gradientAccumulationSteps), 1);
    if (this.maxSteps > 0) return { numBatches, updatesPerEpoch, maxSteps: this.maxSteps, numEpochs: Math.ceil(this.maxSteps / updatesPerEpoch) };
    return { numBatches, updatesPerEpoch, maxSteps: Math.ceil(this.numTrainEpochs * updatesPerEpoch), numEpochs: Math.ceil(this.numTrainEpochs) };
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
