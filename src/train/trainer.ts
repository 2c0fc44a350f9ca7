// The training loop (transformers.Trainer): batches, gradient accumulation, clipping, optimizer
// and schedule, logging/evaluation/saving strategies, callbacks, checkpoints and exact resume.
//
// Gradient accumulation: each micro-batch loss is weighted by its share of the examples of the
// optimizer step (n_i / Σn), so an accumulated step equals one big batch even when the last
// accumulation of an epoch is shorter or its last batch smaller. With equal micro-batches this
// is HF's documented loss / gradient_accumulation_steps. HF 5.17 skips the division for PEFT
// models (golden bert-lora-trainer "Surprise"); args.lossNotDividedByAccumulation reproduces that.

import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Tensor, type NestedArray } from "../tensor/tensor.js";
import { noGrad } from "../tensor/autograd.js";
import { globalRng, manualSeed, Rng, RngState } from "../tensor/random.js";
import { ConfigError, PeftError } from "../tensor/errors.js";
import type { Module } from "../nn/module.js";
import { Embedding } from "../nn/layers.js";
import { crossEntropy } from "../ops/loss.js";
import { headKind } from "../models/modeling_utils.js";
import { causalLMLoss } from "../models/heads.js";
import { atomicWriteFile } from "../io/fs.js";
import { TrainingArguments } from "./args.js";
import { CallbackEvent, EarlyStoppingCallback, LogEntry, TrainerCallback, TrainerControl, TrainerState } from "./callbacks.js";
import {
  loadModelWeights, readJson, resolveResume, rotateCheckpoints, RngCheckpoint, saveModelWeights, writeCheckpoint, PREFIX_CHECKPOINT_DIR,
} from "./checkpoint.js";
import { clipGradNorm, gradNorm } from "./clip.js";
import { GradScaler, storeFrozenWeights } from "./amp.js";
import { enableGradientCheckpointing } from "./grad_checkpoint.js";
import { AdamW } from "./optim/adamw.js";
import { SGD } from "./optim/sgd.js";
import { Adafactor } from "./optim/adafactor.js";
import { FlatGrads, Optimizer } from "./optim/optimizer.js";
import { defaultParamGroups } from "./optim/groups.js";
import { getScheduler, LRScheduler, SchedulerState, warmupStepsFor } from "./schedule.js";
import { makeProgress, Progress } from "./progress.js";
import { renderReport } from "./report.js";

export { EarlyStoppingCallback };

/** A dataset: an array of examples or anything with length and get(i). */
export type TrainerDataset<T = Record<string, unknown>> = readonly T[] | { length: number; get(i: number): T };
/** Alias kept for modules that import it from here (src/distill); the public name is TrainerDataset. */
export type Dataset<T = Record<string, unknown>> = TrainerDataset<T>;
export type Batch = Record<string, unknown>;
export type DataCollator = ((features: Record<string, unknown>[]) => Batch) | { call(features: Record<string, unknown>[]): Batch };

export interface EvalPrediction {
  /** Logits per example (nested arrays, concatenated over batches). */
  predictions: unknown[];
  /** Labels per example (undefined when the dataset has none). */
  labelIds: unknown[] | undefined;
}

export type ComputeMetrics = (p: EvalPrediction) => Record<string, number>;

export interface TrainerModel extends Module {
  forward(inputs: Record<string, unknown>): { loss?: Tensor; logits?: Tensor; [k: string]: unknown };
}

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
}

export interface TrainOutput {
  globalStep: number;
  trainingLoss: number;
  metrics: Record<string, number>;
}

/** Non-finite training loss (outside fp16 loss scaling). */
export class TrainingError extends PeftError {}

const MODEL_INPUT_KEYS = new Set([
  "inputIds", "attentionMask", "tokenTypeIds", "positionIds", "inputsEmbeds", "labels", "startPositions", "endPositions", "keepLogits",
]);

function dsLength(d: TrainerDataset): number {
  return d.length;
}
function dsGet(d: TrainerDataset, i: number): Record<string, unknown> {
  return (Array.isArray(d) ? d[i] : (d as { get(i: number): Record<string, unknown> }).get(i)) as Record<string, unknown>;
}

function padTo(rows: number[][], len: number, value: number): number[][] {
  return rows.map((r) => (r.length >= len ? r : [...r, ...new Array<number>(len - r.length).fill(value)]));
}

/**
 * Pads/stacks inputIds (0), attentionMask (0), tokenTypeIds (0) and labels (−100 when they are
 * per-token lists); other fields are gathered into lists.
 */
export function defaultDataCollator(features: Record<string, unknown>[]): Batch {
  if (features.length === 0) throw new ConfigError("collate: empty batch");
  const out: Batch = {};
  const ids = features.map((f) => f.inputIds as number[] | undefined);
  const len = Math.max(0, ...ids.map((r) => r?.length ?? 0));
  for (const key of Object.keys(features[0])) {
    const vals = features.map((f) => f[key]);
    if (key === "inputIds" || key === "tokenTypeIds") out[key] = padTo(vals as number[][], len, 0);
    else if (key === "attentionMask") out[key] = padTo(vals as number[][], len, 0);
    else if (key === "labels" && Array.isArray(vals[0])) {
      const L = Math.max(...(vals as number[][]).map((r) => r.length));
      out[key] = padTo(vals as number[][], L, -100);
    } else out[key] = vals;
  }
  if (out.inputIds && !out.attentionMask) out.attentionMask = (ids as number[][]).map((r) => padTo([new Array<number>(r.length).fill(1)], len, 0)[0]);
  return out;
}

function collateWith(c: DataCollator, features: Record<string, unknown>[]): Batch {
  return typeof c === "function" ? c(features) : c.call(features);
}

function tensorRows(x: Tensor): unknown[] {
  const a = x.toArray();
  return Array.isArray(a) ? a : [a];
}

export class Trainer {
  model: Module;
  args: TrainingArguments;
  trainDataset?: TrainerDataset;
  evalDataset?: TrainerDataset;
  dataCollator: DataCollator;
  computeMetrics?: ComputeMetrics;
  callbacks: TrainerCallback[];
  state = new TrainerState();
  control = new TrainerControl();
  optimizer: Optimizer | null;
  lrScheduler: LRScheduler | null;
  scaler: GradScaler | null = null;
  protected flat: FlatGrads | null = null;
  protected dataRng: Rng;
  protected progress: Progress;
  readonly trainSampler: "random" | "sequential";
  private readonly customLoss?: (model: Module, inputs: Batch) => Tensor;
  private lastCheckpoint: string | null = null;
  private trLossSinceLog = 0;
  private globalStepLastLogged = 0;
  private totalLoss = 0;
  private lastGradNorm: number | null = null;
  private lastLr = 0;
  private pendingSkip: Record<string, number | boolean> | null = null;
  private lastEvalMetrics: Record<string, number> = {};
  private dataEpochStart: RngState;
  private batchesDoneInEpoch = 0;
  private currentEpoch = 0;

  constructor(o: TrainerOptions) {
    if (!o.model) throw new ConfigError("Trainer: a model is required");
    if (!(o.args instanceof TrainingArguments)) throw new ConfigError("Trainer: args must be a TrainingArguments (use TrainingArguments.fromDict for plain objects)");
    this.model = o.model;
    this.args = o.args;
    this.trainDataset = o.trainDataset;
    this.evalDataset = o.evalDataset;
    this.dataCollator = o.dataCollator ?? defaultDataCollator;
    this.computeMetrics = o.computeMetrics;
    this.callbacks = o.callbacks ?? [];
    this.customLoss = o.computeLoss;
    this.trainSampler = o.trainSampler ?? "random";
    this.optimizer = o.optimizers?.[0] ?? null;
    this.lrScheduler = o.optimizers?.[1] ?? null;
    manualSeed(this.args.seed);
    this.dataRng = new Rng(this.args.dataSeed ?? this.args.seed);
    this.dataEpochStart = this.dataRng.getState();
    this.progress = makeProgress(this.args.disableTqdm);
    if (this.args.gradientCheckpointing) enableGradientCheckpointing(this.model);
  }

  /** The flat gradient buffer of the trainable parameters during train() (for a data-parallel allreduce). */
  get gradBuffer(): Float32Array | null {
    return this.flat?.buffer ?? null;
  }

  // ------------------------------------------------------------------ hooks

  /** The loss of one micro-batch (override in subclasses, e.g. the Distiller). */
  computeLoss(model: Module, inputs: Batch): Tensor {
    if (this.customLoss) return this.customLoss(model, inputs);
    const out = this.forward(model, inputs);
    const labels = inputs.labels;
    if (this.args.labelSmoothingFactor > 0 && out.logits && labels !== undefined) {
      return smoothedLoss(model, out.logits, labels, this.args.labelSmoothingFactor);
    }
    if (!out.loss) {
      throw new ConfigError(`the model did not return a loss; the batch has keys ${Object.keys(inputs).join(", ")} (labels are needed, or pass computeLoss)`);
    }
    return out.loss;
  }

  /** model.forward with only the keys models accept. */
  protected forward(model: Module, inputs: Batch): { loss?: Tensor; logits?: Tensor; [k: string]: unknown } {
    const x: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(inputs)) if (MODEL_INPUT_KEYS.has(k)) x[k] = v;
    if (this.args.labelSmoothingFactor > 0) delete x.labels;
    return (model as TrainerModel).forward(x);
  }

  createOptimizer(): Optimizer {
    if (this.optimizer) return this.optimizer;
    const a = this.args;
    const groups = defaultParamGroups(this.model, a.weightDecay);
    if (groups.length === 0) throw new ConfigError("Trainer: the model has no trainable parameters (requiresGrad=true)");
    const oa = a.parsedOptimArgs();
    switch (a.optim) {
      case "sgd":
        this.optimizer = new SGD(groups, {
          lr: a.learningRate, weightDecay: a.weightDecay,
          momentum: oa.momentum !== undefined ? Number(oa.momentum) : a.sgdMomentum,
          dampening: oa.dampening !== undefined ? Number(oa.dampening) : 0,
          nesterov: oa.nesterov === "True" || oa.nesterov === "true",
        });
        break;
      case "adafactor":
        // HF Trainer: scale_parameter=False, relative_step=False, lr from args
        this.optimizer = new Adafactor(groups, {
          lr: a.learningRate, weightDecay: a.weightDecay,
          scaleParameter: oa.scale_parameter !== undefined ? oa.scale_parameter === "True" : false,
          relativeStep: false, warmupInit: false,
        });
        break;
      default:
        this.optimizer = new AdamW(groups, { lr: a.learningRate, betas: [a.adamBeta1, a.adamBeta2], eps: a.adamEpsilon, weightDecay: a.weightDecay });
    }
    return this.optimizer;
  }

  createScheduler(numTrainingSteps: number): LRScheduler {
    if (this.lrScheduler) return this.lrScheduler;
    const a = this.args;
    const k = a.lrSchedulerKwargs as Record<string, number | string>;
    const num = (n: string) => (k[n] !== undefined ? Number(k[n]) : undefined);
    this.lrScheduler = getScheduler(a.lrSchedulerType, this.createOptimizer(), {
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
    return this.lrScheduler;
  }

  // ------------------------------------------------------------------ callbacks / logging

  private fire(hook: keyof TrainerCallback, extra: Partial<CallbackEvent> = {}): void {
    const e: CallbackEvent = { args: this.args, state: this.state, control: this.control, ...extra };
    for (const cb of this.callbacks) {
      const fn = cb[hook];
      if (typeof fn === "function") (fn as (e: CallbackEvent) => void).call(cb, e);
    }
  }

  /** Appends to log_history (with epoch and step), to log_history.jsonl, and calls onLog. */
  log(logs: Record<string, number | string | boolean>): void {
    const entry: LogEntry = { ...logs, epoch: this.state.epoch, step: this.state.globalStep };
    this.state.logHistory.push(entry);
    if (this.args.reportTo.includes("jsonl") || this.args.reportTo.includes("all")) {
      mkdirSync(this.args.outputDir, { recursive: true });
      appendFileSync(join(this.args.outputDir, "log_history.jsonl"), JSON.stringify(entry) + "\n");
    }
    this.fire("onLog", { logs: entry });
  }

  private rewriteJsonl(): void {
    if (!(this.args.reportTo.includes("jsonl") || this.args.reportTo.includes("all"))) return;
    mkdirSync(this.args.outputDir, { recursive: true });
    writeFileSync(join(this.args.outputDir, "log_history.jsonl"), this.state.logHistory.map((e) => JSON.stringify(e) + "\n").join(""));
  }

  // ------------------------------------------------------------------ training

  private numParamsForFlos(): number {
    const emb = new Set<Tensor>();
    for (const [, m] of this.model.namedModules()) if (m instanceof Embedding) for (const p of m.parameters()) emb.add(p);
    return this.model.parameters().reduce((s, p) => s + (emb.has(p) ? 0 : p.size), 0);
  }

  private batchesOf(order: number[]): number[][] {
    const bs = this.args.perDeviceTrainBatchSize;
    const out: number[][] = [];
    for (let i = 0; i < order.length; i += bs) {
      const b = order.slice(i, i + bs);
      if (b.length < bs && this.args.dataloaderDropLast) break;
      out.push(b);
    }
    return out;
  }

  /** HF's RandomSampler (seeded, a new permutation per epoch), drawn from the data Rng. */
  private epochOrder(n: number): number[] {
    if (this.trainSampler === "sequential") return Array.from({ length: n }, (_, i) => i);
    return this.dataRng.permutation(n);
  }

  async train(opts: { resumeFromCheckpoint?: string | boolean | null } = {}): Promise<TrainOutput> {
    const a = this.args;
    if (!this.trainDataset) throw new ConfigError("Trainer.train: no trainDataset");
    const N = dsLength(this.trainDataset);
    if (N === 0) throw new ConfigError("Trainer.train: trainDataset is empty");
    const resumeSpec = opts.resumeFromCheckpoint ?? a.resumeFromCheckpoint;
    const numBatches = a.dataloaderDropLast ? Math.floor(N / a.perDeviceTrainBatchSize) : Math.ceil(N / a.perDeviceTrainBatchSize);
    if (numBatches === 0) throw new ConfigError(`Trainer.train: ${N} examples with batch size ${a.perDeviceTrainBatchSize} and dataloader_drop_last give no batch`);
    const ga = a.gradientAccumulationSteps;
    const updatesPerEpoch = Math.max(Math.ceil(numBatches / ga), 1);
    let maxSteps: number, numEpochs: number;
    if (a.maxSteps > 0) {
      maxSteps = a.maxSteps;
      numEpochs = Math.ceil(maxSteps / updatesPerEpoch);
    } else {
      maxSteps = Math.ceil(a.numTrainEpochs * updatesPerEpoch);
      numEpochs = Math.ceil(a.numTrainEpochs);
    }
    const ratioSteps = (v: number) => (v < 1 ? Math.ceil(maxSteps * v) : v);

    if (a.bf16) storeFrozenWeights(this.model, "bf16");
    if (a.fp16) {
      storeFrozenWeights(this.model, "f16");
      this.scaler = new GradScaler();
    }
    const optimizer = this.createOptimizer();
    const scheduler = this.createScheduler(maxSteps);
    const params = optimizer.params();
    this.flat = new FlatGrads(params);
    const flopsPerToken = 6 * this.numParamsForFlos();

    this.state = new TrainerState();
    this.state.maxSteps = maxSteps;
    this.state.numTrainEpochs = numEpochs;
    this.state.trainBatchSize = a.perDeviceTrainBatchSize;
    this.state.loggingSteps = ratioSteps(a.loggingSteps);
    this.state.evalSteps = a.evalSteps !== null ? ratioSteps(a.evalSteps) : 500;
    this.state.saveSteps = ratioSteps(a.saveSteps);
    this.control = new TrainerControl();
    this.totalLoss = 0;
    this.trLossSinceLog = 0;
    this.globalStepLastLogged = 0;

    let startEpoch = 0, skipBatches = 0;
    if (resumeSpec) {
      const dir = resolveResume(resumeSpec, a.outputDir);
      const r = this.loadCheckpoint(dir);
      startEpoch = r.epoch;
      skipBatches = r.batches_done_in_epoch;
      // the data order of the interrupted epoch is redrawn from its starting state
      this.dataRng.setState(r.data_epoch_start);
      if (skipBatches >= numBatches) {
        this.epochOrder(N);
        startEpoch++;
        skipBatches = 0;
      }
    }
    this.rewriteJsonl();

    this.model.train();
    if (!resumeSpec) this.state.statefulCallbacks = this.statefulCallbacks();
    this.fire("onTrainBegin");
    const t0 = Date.now();
    const startStep = this.state.globalStep;
    this.progress.start(maxSteps, startStep, "train");
    try {
      for (let epoch = startEpoch; epoch < numEpochs && this.state.globalStep < maxSteps; epoch++) {
        this.currentEpoch = epoch;
        this.dataEpochStart = this.dataRng.getState();
        const batches = this.batchesOf(this.epochOrder(N));
        let b = epoch === startEpoch ? skipBatches : 0;
        this.batchesDoneInEpoch = b;
        this.control.shouldEpochStop = false;
        this.fire("onEpochBegin");
        while (b < batches.length) {
          const group = batches.slice(b, b + ga);
          this.fire("onStepBegin");
          const stepLoss = this.trainingStep(group, flopsPerToken);
          b += group.length;
          this.batchesDoneInEpoch = b;
          const { lrUsed, norm } = this.optimizerStep(params, optimizer, scheduler);
          this.state.globalStep++;
          this.state.epoch = epoch + b / batches.length;
          this.trLossSinceLog += stepLoss;
          this.totalLoss += stepLoss;
          this.lastGradNorm = norm;
          this.lastLr = lrUsed;
          if (this.pendingSkip) {
            this.log(this.pendingSkip);
            this.pendingSkip = null;
          }
          this.fire("onStepEnd");
          this.flowOnStepEnd();
          this.progress.update(this.state.globalStep, { loss: stepLoss, lr: lrUsed });
          await this.maybeLogSaveEvaluate();
          if (this.control.shouldTrainingStop || this.control.shouldEpochStop) break;
        }
        this.fire("onEpochEnd");
        this.flowOnEpochEnd();
        await this.maybeLogSaveEvaluate();
        if (this.control.shouldTrainingStop) break;
      }
    } finally {
      this.progress.stop();
    }

    if (a.loadBestModelAtEnd && this.state.bestModelCheckpoint) {
      this.progress.line(`Loading best model from ${this.state.bestModelCheckpoint} (score: ${this.state.bestMetric}).`);
      loadModelWeights(this.model, this.state.bestModelCheckpoint);
    }
    const runtime = (Date.now() - t0) / 1000;
    const steps = this.state.globalStep;
    const trainLoss = this.totalLoss / Math.max(steps, 0.001);
    const numSamples = a.maxSteps > 0 ? maxSteps * a.perDeviceTrainBatchSize * ga : N * a.numTrainEpochs;
    const metrics: Record<string, number> = {
      train_runtime: Math.round(runtime * 1e4) / 1e4,
      train_samples_per_second: runtime > 0 ? Math.round((numSamples / runtime) * 1e3) / 1e3 : 0,
      train_steps_per_second: runtime > 0 ? Math.round(((maxSteps - startStep) / runtime) * 1e3) / 1e3 : 0,
      total_flos: this.state.totalFlos,
      train_loss: trainLoss,
    };
    this.log(metrics);
    this.fire("onTrainEnd");
    this.writeRunFiles({ ...metrics, epoch: this.state.epoch, ...this.lastEvalMetrics });
    return { globalStep: steps, trainingLoss: trainLoss, metrics: { ...metrics, epoch: this.state.epoch } };
  }

  /** Forward + backward of one accumulation group; returns the step's (weighted) loss. */
  protected trainingStep(group: number[][], flopsPerToken: number): number {
    const a = this.args;
    const total = group.reduce((s, g) => s + g.length, 0);
    const lossScale = this.scaler ? this.scaler.lossFactor() : 1;
    let stepLoss = 0;
    for (const idx of group) {
      const batch = collateWith(this.dataCollator, idx.map((i) => dsGet(this.trainDataset!, i)));
      const loss = this.computeLoss(this.model, batch);
      const w = a.lossNotDividedByAccumulation ? 1 : idx.length / total;
      const lv = loss.item();
      if (!Number.isFinite(lv) && !this.scaler) {
        throw new TrainingError(
          `training loss is ${lv} at step ${this.state.globalStep + 1} (epoch ${this.currentEpoch + 1}); ` +
          `last good checkpoint: ${this.lastCheckpoint ?? "none (no checkpoint was saved in this run)"}. ` +
          `Lower the learning rate, enable clipping (max_grad_norm) or check the data, then resume from that checkpoint.`,
        );
      }
      loss.backward(Tensor.full(loss.shape, w * lossScale));
      this.flat!.attach();
      stepLoss += lv * w;
      const ids = batch.inputIds;
      if (Array.isArray(ids)) {
        const tokens = ids.reduce((s: number, r: unknown) => s + (Array.isArray(r) ? r.length : 1), 0);
        this.state.totalFlos += flopsPerToken * tokens;
      }
    }
    return stepLoss;
  }

  /** Unscale (fp16), clip, optimizer step (unless skipped), schedule, zero grads. */
  protected optimizerStep(params: Tensor[], optimizer: Optimizer, scheduler: LRScheduler): { lrUsed: number; norm: number | null } {
    const a = this.args;
    let skipped = false;
    if (this.scaler) skipped = this.scaler.unscale([this.flat!.buffer]);
    let norm: number | null = null;
    if (a.maxGradNorm > 0) norm = clipGradNorm(params, a.maxGradNorm);
    else norm = gradNorm(params);
    const lrUsed = optimizer.paramGroups[0].lr;
    if (!skipped) {
      optimizer.step();
      scheduler.step();
    }
    if (this.scaler) {
      const scale = this.scaler.scale;
      this.scaler.update();
      if (skipped) this.pendingSkip = { skipped_step: true, loss_scale: scale, new_loss_scale: this.scaler.scale };
    }
    this.flat!.zero();
    return { lrUsed, norm };
  }

  /** HF DefaultFlowCallback.on_step_end. */
  private flowOnStepEnd(): void {
    const a = this.args, s = this.state, c = this.control;
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
  private flowOnEpochEnd(): void {
    const a = this.args, c = this.control;
    if (a.loggingStrategy === "epoch") c.shouldLog = true;
    if (a.evalStrategy === "epoch" && a.evalDelay <= this.state.epoch) c.shouldEvaluate = true;
    if (a.saveStrategy === "epoch") c.shouldSave = true;
  }

  private async maybeLogSaveEvaluate(): Promise<void> {
    const c = this.control;
    if (c.shouldLog && this.state.globalStep > this.globalStepLastLogged) {
      const n = this.state.globalStep - this.globalStepLastLogged;
      const logs: Record<string, number> = { loss: this.trLossSinceLog / n };
      if (this.lastGradNorm !== null) logs.grad_norm = this.lastGradNorm;
      logs.learning_rate = this.lastLr;
      this.trLossSinceLog = 0;
      this.globalStepLastLogged = this.state.globalStep;
      this.log(logs);
    }
    c.shouldLog = false;
    let metrics: Record<string, number> | null = null;
    if (c.shouldEvaluate) {
      c.shouldEvaluate = false;
      metrics = await this.evaluate();
      this.model.train();
      if (this.lrScheduler?.type === "reduce_lr_on_plateau") {
        const key = this.metricKey();
        if (metrics[key] !== undefined) this.lrScheduler.stepMetric(metrics[key]);
      }
      if (this.determineBestMetric(metrics) && this.args.saveStrategy === "best") c.shouldSave = true;
    }
    if (c.shouldSave) {
      c.shouldSave = false;
      await this.saveCheckpoint();
      this.fire("onSave", { checkpoint: this.lastCheckpoint ?? undefined });
    }
  }

  private metricKey(): string {
    let k = this.args.metricForBestModel ?? "loss";
    if (!k.startsWith("eval_")) k = `eval_${k}`;
    return k;
  }

  /** Updates best_metric / best_global_step; true when this evaluation is a new best. */
  private determineBestMetric(metrics: Record<string, number>): boolean {
    if (this.args.metricForBestModel === null) return false;
    const key = this.metricKey();
    const v = metrics[key];
    if (v === undefined) {
      throw new ConfigError(`metric_for_best_model '${this.args.metricForBestModel}' is not among the evaluation metrics (${Object.keys(metrics).join(", ")}); set it to one of them`);
    }
    const better = this.args.greaterIsBetter ? v > (this.state.bestMetric ?? -Infinity) : v < (this.state.bestMetric ?? Infinity);
    if (this.state.bestMetric === null || better) {
      this.state.bestMetric = v;
      this.state.bestGlobalStep = this.state.globalStep;
      return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ checkpoints

  private rngCheckpoint(): RngCheckpoint & { total_loss: number; tr_loss_since_log: number; global_step_last_logged: number } {
    return {
      global: globalRng.getState(),
      data_epoch_start: this.dataEpochStart,
      epoch: this.currentEpoch,
      batches_done_in_epoch: this.batchesDoneInEpoch,
      grad_scaler: this.scaler ? this.scaler.stateDict() : null,
      total_loss: this.totalLoss,
      tr_loss_since_log: this.trLossSinceLog,
      global_step_last_logged: this.globalStepLastLogged,
    };
  }

  private statefulCallbacks(): Record<string, unknown> {
    const out: Record<string, unknown> = { TrainerControl: this.control.toJSON() };
    for (const cb of this.callbacks) if (cb.stateName && cb.getState) out[cb.stateName] = cb.getState();
    return out;
  }

  /** Writes checkpoint-<global_step> (atomic) and rotates old ones. */
  async saveCheckpoint(): Promise<string> {
    const a = this.args;
    const step = this.state.globalStep;
    const dir = join(a.outputDir, `${PREFIX_CHECKPOINT_DIR}-${step}`);
    if (a.metricForBestModel !== null && this.state.bestGlobalStep === step) this.state.bestModelCheckpoint = dir;
    this.state.statefulCallbacks = this.statefulCallbacks();
    await writeCheckpoint(a.outputDir, step, {
      model: (d) => saveModelWeights(this.model, d),
      optimizer: (p) => this.optimizer!.save(p),
      scheduler: () => this.lrScheduler!.stateDict(),
      rng: () => this.rngCheckpoint(),
      trainerState: () => this.state.toJSON(),
      trainingArgs: () => a.toDict(),
    }, a.saveOnlyModel);
    this.lastCheckpoint = dir;
    rotateCheckpoints(a.outputDir, a.saveTotalLimit, a.loadBestModelAtEnd ? this.state.bestModelCheckpoint : null);
    return dir;
  }

  /** Restores weights, optimizer, scheduler, RNGs and trainer state from a checkpoint folder. */
  private loadCheckpoint(dir: string): RngCheckpoint {
    const stateJson = readJson(join(dir, "trainer_state.json"));
    const st = TrainerState.fromJSON(stateJson, join(dir, "trainer_state.json"));
    if (st.maxSteps !== this.state.maxSteps) {
      throw new ConfigError(`resume: ${dir} was written by a run of ${st.maxSteps} steps, this run has ${this.state.maxSteps}; the schedule would differ (use the same arguments)`);
    }
    loadModelWeights(this.model, dir);
    this.optimizer!.load(join(dir, "optimizer.safetensors"));
    this.lrScheduler!.loadStateDict(readJson(join(dir, "scheduler.json")) as unknown as SchedulerState);
    const rng = readJson(join(dir, "rng_state.json")) as unknown as RngCheckpoint & { total_loss?: number; tr_loss_since_log?: number; global_step_last_logged?: number };
    if (!rng.global || !rng.data_epoch_start || typeof rng.epoch !== "number" || typeof rng.batches_done_in_epoch !== "number") {
      throw new ConfigError(`${join(dir, "rng_state.json")}: missing global / data_epoch_start / epoch / batches_done_in_epoch`);
    }
    globalRng.setState(rng.global);
    if (this.scaler && rng.grad_scaler) this.scaler.loadStateDict(rng.grad_scaler);
    this.totalLoss = rng.total_loss ?? 0;
    this.trLossSinceLog = rng.tr_loss_since_log ?? 0;
    this.globalStepLastLogged = rng.global_step_last_logged ?? st.globalStep;
    // keep this run's step settings; restore progress, history and best-model tracking
    this.state.globalStep = st.globalStep;
    this.state.epoch = st.epoch;
    this.state.logHistory = st.logHistory;
    this.state.bestMetric = st.bestMetric;
    this.state.bestGlobalStep = st.bestGlobalStep;
    this.state.bestModelCheckpoint = st.bestModelCheckpoint;
    this.state.totalFlos = st.totalFlos;
    for (const cb of this.callbacks) {
      const s = cb.stateName ? st.statefulCallbacks[cb.stateName] : undefined;
      if (s && cb.setState) cb.setState(s as Record<string, unknown>);
    }
    this.lastCheckpoint = dir;
    return rng;
  }

  // ------------------------------------------------------------------ evaluation

  private predictionLoop(dataset: TrainerDataset, prefix: string, desc: string): { predictions: unknown[]; labelIds: unknown[] | undefined; metrics: Record<string, number> } {
    const a = this.args;
    const n = dsLength(dataset);
    if (n === 0) throw new ConfigError(`${desc}: dataset is empty`);
    const wasTraining = this.model.training;
    this.model.eval();
    const t0 = Date.now();
    const predictions: unknown[] = [];
    let labelIds: unknown[] | undefined = [];
    let lossSum = 0, lossCount = 0;
    const bs = a.perDeviceEvalBatchSize;
    let steps = 0;
    this.progress.evalStart(Math.ceil(n / bs));
    try {
      noGrad(() => {
        for (let i = 0; i < n; i += bs) {
          const idx = Array.from({ length: Math.min(bs, n - i) }, (_, k) => i + k);
          const batch = collateWith(this.dataCollator, idx.map((j) => dsGet(dataset, j)));
          const hasLabels = batch.labels !== undefined || batch.startPositions !== undefined;
          // the logits are read below (predictions): a causal LM computes them once, in forward
          const out = this.forward(this.model, { ...batch, keepLogits: true });
          let loss = out.loss;
          if (hasLabels && this.args.labelSmoothingFactor > 0 && out.logits && batch.labels !== undefined) {
            loss = smoothedLoss(this.model, out.logits, batch.labels, this.args.labelSmoothingFactor);
          }
          if (hasLabels && loss) {
            lossSum += loss.item() * idx.length;
            lossCount += idx.length;
          }
          if (out.logits) predictions.push(...tensorRows(out.logits));
          else if (out.startLogits && out.endLogits) {
            const s = tensorRows(out.startLogits as Tensor), e = tensorRows(out.endLogits as Tensor);
            s.forEach((row, k) => predictions.push([row, e[k]]));
          }
          if (batch.labels !== undefined && labelIds) labelIds.push(...(batch.labels as unknown[]));
          else labelIds = undefined;
          steps++;
          this.progress.evalUpdate(steps);
        }
      });
    } finally {
      if (wasTraining) this.model.train();
    }
    const runtime = (Date.now() - t0) / 1000;
    const metrics: Record<string, number> = {};
    if (lossCount > 0) metrics[`${prefix}_loss`] = lossSum / lossCount;
    if (this.computeMetrics && labelIds) {
      for (const [k, v] of Object.entries(this.computeMetrics({ predictions, labelIds }))) {
        metrics[k.startsWith(`${prefix}_`) ? k : `${prefix}_${k}`] = v;
      }
    }
    metrics[`${prefix}_runtime`] = Math.round(runtime * 1e4) / 1e4;
    metrics[`${prefix}_samples_per_second`] = runtime > 0 ? Math.round((n / runtime) * 1e3) / 1e3 : 0;
    metrics[`${prefix}_steps_per_second`] = runtime > 0 ? Math.round((steps / runtime) * 1e3) / 1e3 : 0;
    this.progress.evalStop(`${desc} at step ${this.state.globalStep}: ${Object.entries(metrics).filter(([k]) => !/runtime|per_second/.test(k)).map(([k, v]) => `${k} ${Number(v.toPrecision(5))}`).join(", ")}`);
    return { predictions, labelIds, metrics };
  }

  /** Runs the eval loop; logs and returns metrics prefixed "eval_" (eval_loss, eval_accuracy…). */
  async evaluate(opts: { evalDataset?: TrainerDataset; metricKeyPrefix?: string } = {}): Promise<Record<string, number>> {
    const ds = opts.evalDataset ?? this.evalDataset;
    if (!ds) throw new ConfigError("Trainer.evaluate: no evalDataset");
    const prefix = opts.metricKeyPrefix ?? "eval";
    const { metrics } = this.predictionLoop(ds, prefix, "evaluate");
    this.log(metrics);
    this.lastEvalMetrics = metrics;
    this.fire("onEvaluate", { metrics });
    return metrics;
  }

  /** Predictions (logits per example), labels and "test_" metrics. */
  async predict(testDataset: TrainerDataset, opts: { metricKeyPrefix?: string } = {}): Promise<EvalPrediction & { metrics: Record<string, number> }> {
    return this.predictionLoop(testDataset, opts.metricKeyPrefix ?? "test", "predict");
  }

  // ------------------------------------------------------------------ outputs

  /** Saves the model (adapter for a PeftModel) and training_args.json into dir (default output_dir). */
  async saveModel(dir = this.args.outputDir): Promise<void> {
    mkdirSync(dir, { recursive: true });
    await saveModelWeights(this.model, dir);
    atomicWriteFile(join(dir, "training_args.json"), this.args.toJsonString());
  }

  /** trainer_state.json, metrics.json and report.html in output_dir. */
  private writeRunFiles(metrics: Record<string, number>): void {
    const a = this.args;
    mkdirSync(a.outputDir, { recursive: true });
    // stateful_callbacks keep what the last checkpoint (or train begin) recorded, as in HF
    atomicWriteFile(join(a.outputDir, "trainer_state.json"), JSON.stringify(this.state.toJSON(), null, 2) + "\n");
    atomicWriteFile(join(a.outputDir, "metrics.json"), JSON.stringify(metrics, null, 2) + "\n");
    atomicWriteFile(join(a.outputDir, "report.html"), renderReport({
      title: a.runName ?? `peft-ts training run (${a.outputDir})`,
      logHistory: this.state.logHistory, args: a.toDict(), metrics,
    }));
  }
}

/** Whether the model (under a PEFT wrapper, if any) is a causal LM: HF shifts its labels for the label smoother. */
function isCausalLM(model: Module): boolean {
  const w = model as unknown as { getBaseModel?: () => unknown };
  const base = (typeof w.getBaseModel === "function" ? w.getBaseModel() : model) as { architectureName?: unknown };
  return typeof base.architectureName === "string" && headKind(base.architectureName) === "causal-lm";
}

/**
 * HF's LabelSmoother: (1 − ε)·NLL + ε·mean over classes of −log p, averaged over the labels that are
 * not −100; for a causal LM position t predicts label t + 1 (the model's own shifted loss, smoothed).
 */
function smoothedLoss(model: Module, logits: Tensor, labels: unknown, eps: number): Tensor {
  if (logits.ndim === 3 && isCausalLM(model)) return causalLMLoss(logits, labels as Tensor | NestedArray, eps);
  const y = labels instanceof Tensor ? Array.from(labels.f32(), Math.round) : ((labels as unknown[]).flat(Infinity) as number[]);
  const C = logits.shape[logits.ndim - 1];
  return crossEntropy(logits.reshape([-1, C]), y, { labelSmoothing: eps });
}
