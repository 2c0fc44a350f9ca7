// The training loop (transformers.Trainer): batches, gradient accumulation, clipping, optimizer
// and schedule, logging/evaluation/saving strategies, callbacks, checkpoints and exact resume.
//
// Gradient accumulation: each micro-batch loss is weighted by its share of the examples of the
// optimizer step (n_i / Σn), so an accumulated step equals one big batch even when the last
// accumulation of an epoch is shorter or its last batch smaller. With equal micro-batches this
// is HF's documented loss / gradient_accumulation_steps. HF 5.17 skips the division for PEFT
// models (golden bert-lora-trainer "Surprise"); args.lossNotDividedByAccumulation reproduces that.
//
// The loop and the Trainer API live here; its parts are in trainer_*.ts: data access and
// collation (data), model inputs and label smoothing (loss), optimizer/scheduler construction
// (optim), run length and log/eval/save decisions (flow), one optimizer step (step), the
// evaluation loop (eval), checkpoint contents and resume (checkpoint), output files (log).

import { getFiles } from "../platform/files.js";
import { yieldToEventLoop } from "../platform/env.js";
import { join } from "../platform/paths.js";
import { Tensor } from "../tensor/tensor.js";
import { manualSeed, Rng, RngState } from "../tensor/random.js";
import { ConfigError } from "../tensor/errors.js";
import type { Module } from "../nn/module.js";
import { atomicWriteFile } from "../io/fs.js";
import { TrainingArguments } from "./args.js";
import { CallbackEvent, EarlyStoppingCallback, LogEntry, TrainerCallback, TrainerControl, TrainerState } from "./callbacks.js";
import { cleanPartialCheckpoints, loadModelWeights, resolveResume, RngCheckpoint, saveModelWeights } from "./checkpoint.js";
import { GradScaler, storeFrozenWeights } from "./amp.js";
import { enableGradientCheckpointing } from "./grad_checkpoint.js";
import { FlatGrads, Optimizer } from "./optim/optimizer.js";
import type { LRScheduler } from "./schedule.js";
import { makeProgress, Progress } from "./progress.js";
import { Batch, collateWith, DataCollator, defaultDataCollator, dsGet, dsLength, TrainerDataset } from "./trainer_data.js";
import { modelInputs, smoothedLoss, TrainerModel } from "./trainer_loss.js";
import { buildOptimizer, buildScheduler } from "./trainer_optim.js";
import { flowOnEpochEnd, flowOnStepEnd, initialState, metricKey, trainingPlan, updateBestMetric } from "./trainer_flow.js";
import { ComputeMetrics, EvalPrediction, PredictionOutput, predictionLoop } from "./trainer_eval.js";
import { restoreCheckpoint, restoreRankRng, resumePosition, saveTrainerCheckpoint, statefulCallbacks } from "./trainer_checkpoint.js";
import { applyOptimizerStep, batchTokens, countedLoss, hasOptimizerStepHook, modelFlopsPerToken, NonFiniteSteps } from "./trainer_step.js";
import { TrainingError, TrainingInterrupted } from "./trainer_errors.js";
import { checkOutputWritable } from "./output_dir.js";
import type { TrainerOptions, TrainOutput } from "./trainer_types.js";
import { appendLogJsonl, rewriteLogJsonl, trainMetrics, writeEvalPredictions, writeRunFiles } from "./trainer_log.js";
import { runInfo } from "./run_info.js";
import type { ProcessGroup } from "../dist/process_group.js";
import { checkSameRun, DataParallel, defaultProcessGroup, rankSeed } from "./ddp.js";
import type { DdpStats } from "./ddp_grads.js";
import { epochBatches, globalExamples } from "./ddp_sampler.js";
import { TrainerDp } from "./trainer_dp.js";
import type { GaussianSource } from "./dp/noise.js";
import { writeDpModelCard } from "./dp/model_card.js";
import { sliceOptimizerState, trainerLayout } from "./tensor_parallel.js";

export { EarlyStoppingCallback, defaultDataCollator };
export type { TrainerDataset, Dataset, Batch, DataCollator } from "./trainer_data.js";
export type { EvalPrediction, ComputeMetrics } from "./trainer_eval.js";
export type { TrainerModel } from "./trainer_loss.js";
export type { TrainerOptions, TrainOutput } from "./trainer_types.js";

export { TrainingError, TrainingInterrupted };

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
  /** The run's ranks (LocalGroup: one process) and the data-parallel coordination over them. */
  readonly processGroup: ProcessGroup;
  readonly ddp: DataParallel;
  readonly trainSampler: "random" | "sequential";
  private readonly customLoss?: (model: Module, inputs: Batch) => Tensor;
  private lastCheckpoint: string | null = null;
  private trLossSinceLog = 0;
  private globalStepLastLogged = 0;
  private totalLoss = 0;
  private lastGradNorm: number | null = null;
  /** DP-SGD state of the current run (args.dp), else null. */
  dp: TrainerDp | null = null;
  /** DP-SGD noise source (default: the CSPRNG); tests set a seeded one explicitly. */
  dpNoise: GaussianSource | undefined = undefined;
  private lastLr = 0;
  private pendingSkip: Record<string, number | boolean | string> | null = null;
  private lastEvalMetrics: Record<string, number> = {};
  private dataEpochStart: RngState;
  private batchesDoneInEpoch = 0;
  private currentEpoch = 0;
  private nonFinite = new NonFiniteSteps(0);
  /** A stop asked for (requestStop: the signal's name). */
  private stopRequest: string | null = null;
  /** Yield to the event loop after every step (signal handlers, timers can run; set by handleStopSignals). */
  yieldEachStep = false;
  /** Under MPI: agree with the other ranks after each step on whether to stop (set by handleStopSignals). */
  agreeOnStop: ((group: ProcessGroup, local: string | null) => string | null) | null = null;

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
    // world = dp × tp (tp ranks contiguous), data parallelism over ddp.group; dropout per replica, data order everywhere alike
    this.processGroup = o.processGroup ?? defaultProcessGroup();
    this.ddp = DataParallel.forTrainer(this.processGroup, this.args, trainerLayout(this.processGroup, this.args, this.model));
    manualSeed(rankSeed(this.args.seed, this.ddp.group.rank));
    this.dataRng = new Rng(this.args.dataSeed ?? this.args.seed);
    this.dataEpochStart = this.dataRng.getState();
    this.progress = makeProgress(this.args.disableTqdm || !this.ddp.isMain);
    if (this.args.gradientCheckpointing) enableGradientCheckpointing(this.model);
  }

  /**
   * Per-step figures of the data-parallel gradient allreduce (bytes, JS wait, communication-thread
   * time, hidden share; docs/DESIGN.md "Data parallelism"). Collecting starts with the first call:
   * call it before train(). Single-process runs record no steps.
   */
  ddpStats(): DdpStats {
    return this.ddp.stats();
  }

  /** The flat gradient buffer of the trainable parameters during train() (for a data-parallel allreduce). */
  get gradBuffer(): Float32Array | null { return this.flat?.buffer ?? null; }

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
    return (model as TrainerModel).forward(modelInputs(inputs, this.args.labelSmoothingFactor > 0));
  }

  createOptimizer(): Optimizer {
    if (this.optimizer) return this.optimizer;
    this.optimizer = buildOptimizer(this.model, this.args);
    return this.optimizer;
  }

  createScheduler(numTrainingSteps: number): LRScheduler {
    if (this.lrScheduler) return this.lrScheduler;
    this.lrScheduler = buildScheduler(this.args, this.createOptimizer(), numTrainingSteps);
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
    if (this.ddp.isMain) appendLogJsonl(this.args, entry);
    this.fire("onLog", { logs: entry });
  }

  // ------------------------------------------------------------------ training

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
    const plan = trainingPlan(a, N);
    const { numBatches, maxSteps, numEpochs } = plan;
    const ga = a.gradientAccumulationSteps;
    // refused before any work when output_dir cannot be written; what a killed run left mid-save goes
    if (this.ddp.isMain) {
      checkOutputWritable(a.outputDir);
      cleanPartialCheckpoints(a.outputDir);
    }
    this.nonFinite = new NonFiniteSteps(a.maxNonfiniteSkips);

    if (a.bf16) storeFrozenWeights(this.model, "bf16");
    if (a.fp16) {
      storeFrozenWeights(this.model, "f16");
      this.scaler = new GradScaler();
    }
    const optimizer = this.createOptimizer();
    const scheduler = this.createScheduler(maxSteps);
    const params = optimizer.params();
    this.flat = this.ddp.flatGrads(params, a, this.model.parameters());
    checkSameRun(this.ddp, { args: a.toDict(), trainable: optimizer.namedParams(), model: this.model.namedParameters(), datasetLength: N });
    this.ddp.setup(this.flat, a, optimizer);
    const flops = modelFlopsPerToken(this.model);
    this.dp = a.dp ? new TrainerDp(a, {
      n: N, maxSteps, named: optimizer.namedParams(), group: this.ddp.group, noise: this.dpNoise, dataset: this.trainDataset,
      customLoss: this.customLoss !== undefined || this.computeLoss !== Trainer.prototype.computeLoss,
    }) : null;

    this.state = initialState(a, plan);
    this.control = new TrainerControl();
    this.totalLoss = 0;
    this.trLossSinceLog = 0;
    this.globalStepLastLogged = 0;

    // a finished epoch's data draws are replayed to reach the next one's (DP: its Poisson samples)
    const drawEpoch = () => this.dp ? this.dp.epochBatches(N, numBatches, this.dataRng, () => [[this.epochOrder(N)]]) : this.epochOrder(N);
    const { startEpoch, skipBatches } = resumeSpec
      ? resumePosition(this.loadCheckpoint(resolveResume(resumeSpec, a.outputDir)), numBatches, this.dataRng, drawEpoch, a.perDeviceTrainBatchSize * a.dataParallelSize)
      : { startEpoch: 0, skipBatches: 0 };
    // a run without DP that resumes a DP checkpoint is not private as a whole: its files must not say so
    if (resumeSpec && this.dp) this.dp.restore(this.state.dp, `${this.lastCheckpoint}/trainer_state.json`, this.state.globalStep);
    else if (resumeSpec) this.state.dp = null;
    if (this.ddp.isMain) rewriteLogJsonl(a, this.state.logHistory);

    this.model.train();
    if (!resumeSpec) this.state.statefulCallbacks = statefulCallbacks(this.control, this.callbacks);
    this.fire("onTrainBegin");
    const t0 = Date.now();
    const startStep = this.state.globalStep; this.progress.start(maxSteps, startStep, "train");
    try {
      for (let epoch = startEpoch; epoch < numEpochs && this.state.globalStep < maxSteps; epoch++) {
        this.currentEpoch = epoch;
        this.dataEpochStart = this.dataRng.getState();
        // every rank's micro-batches: this rank's are batches, the others' size the loss weights
        const plain = () => epochBatches(this.epochOrder(N), a.perDeviceTrainBatchSize, this.ddp.group.worldSize, a.dataloaderDropLast);
        const all = this.dp ? this.dp.epochBatches(N, numBatches, this.dataRng, plain) : plain();
        const batches = all[this.ddp.group.rank];
        let b = epoch === startEpoch ? skipBatches : 0;
        this.batchesDoneInEpoch = b;
        this.control.shouldEpochStop = false;
        this.fire("onEpochBegin");
        while (b < batches.length) {
          const group = batches.slice(b, b + ga);
          this.fire("onStepBegin");
          const stepLoss = this.trainingStep(group, flops, globalExamples(all, b, ga));
          b += group.length;
          this.batchesDoneInEpoch = b;
          const { lrUsed, norm } = this.optimizerStep(params, optimizer, scheduler, stepLoss);
          const counted = countedLoss(stepLoss, this.args.loggingNanInfFilter, this.totalLoss, this.state.globalStep);
          this.state.globalStep++;
          this.state.epoch = epoch + b / batches.length;
          this.trLossSinceLog += counted.sinceLog;
          this.totalLoss += counted.total;
          this.lastGradNorm = norm;
          this.lastLr = lrUsed;
          if (this.pendingSkip) {
            this.log(this.pendingSkip);
            this.pendingSkip = null;
          }
          this.fire("onStepEnd");
          flowOnStepEnd(a, this.state, this.control);
          this.progress.update(this.state.globalStep, { loss: stepLoss, lr: lrUsed });
          await this.maybeLogSaveEvaluate();
          if (this.yieldEachStep) await yieldToEventLoop();
          const stop = this.agreeOnStop ? this.agreeOnStop(this.processGroup, this.stopRequest) : this.stopRequest;
          if (stop && this.state.globalStep < maxSteps) await this.stopOnRequest(stop);
          if (this.control.shouldTrainingStop || this.control.shouldEpochStop) break;
        }
        this.fire("onEpochEnd");
        flowOnEpochEnd(a, this.state, this.control);
        await this.maybeLogSaveEvaluate();
        if (this.control.shouldTrainingStop) break;
      }
    } catch (e) {
      // an agreed stop (every rank saved the same checkpoint) is no failure: no abort
      if (!(e instanceof TrainingInterrupted)) this.ddp.fail(e);
      throw e;
    } finally {
      this.progress.stop();
    }

    if (a.loadBestModelAtEnd && this.state.bestModelCheckpoint) {
      this.progress.line(`Loading best model from ${this.state.bestModelCheckpoint} (score: ${this.state.bestMetric}).`);
      loadModelWeights(this.model, this.state.bestModelCheckpoint);
    }
    const steps = this.state.globalStep;
    const trainLoss = this.totalLoss / Math.max(steps, 0.001);
    const metrics = trainMetrics(a, N, maxSteps, startStep, (Date.now() - t0) / 1000, this.state.totalFlos, trainLoss);
    if (this.dp) Object.assign(metrics, { dp_epsilon: this.dp.epsilon(), dp_delta: this.dp.delta, dp_noise_multiplier: this.dp.noiseMultiplier, dp_sample_rate: this.dp.sampleRate });
    this.log(metrics);
    this.fire("onTrainEnd");
    const info = runInfo(this.model, a, {
      trainRows: N, evalRows: this.evalDataset ? dsLength(this.evalDataset) : null, trainTokens: flops > 0 ? Math.round(this.state.totalFlos / flops) : 0,
      worldSize: this.processGroup.worldSize, tensorParallelSize: a.tensorParallelSize,
    });
    await this.ddp.onMain(() => writeRunFiles(a, this.state, { ...metrics, epoch: this.state.epoch, ...this.lastEvalMetrics }, info));
    return { globalStep: steps, trainingLoss: trainLoss, metrics: { ...metrics, epoch: this.state.epoch } };
  }

  /**
   * Forward + backward of one accumulation group; returns the step's (weighted) loss, summed over
   * the ranks. `total`: the examples of the step on all ranks (default: this group's).
   */
  protected trainingStep(group: number[][], flopsPerToken: number, total = group.reduce((s, g) => s + g.length, 0)): number {
    const a = this.args;
    const lossScale = this.scaler ? this.scaler.lossFactor() : 1;
    const batchOf = (idx: number[]) => {
      const batch = collateWith(this.dataCollator, idx.map((i) => dsGet(this.trainDataset!, i)));
      this.state.totalFlos += flopsPerToken * batchTokens(batch);
      return batch;
    };
    if (this.dp) return this.dp.trainingStep(group, (i) => this.computeLoss(this.model, batchOf([i])), batchOf, this.model);
    let stepLoss = 0, flos = 0;
    for (let k = 0; k < group.length; k++) {
      const idx = group[k];
      const batch = collateWith(this.dataCollator, idx.map((i) => dsGet(this.trainDataset!, i)));
      const loss = this.computeLoss(this.model, batch);
      const w = a.lossNotDividedByAccumulation ? 1 / this.ddp.group.worldSize : idx.length / total;
      // a non-finite loss still runs its backward (every rank must join the allreduce); the
      // optimizer step then skips (applyOptimizerStep, NonFiniteSteps)
      const lv = loss.item();
      // only the group's last backward communicates (DDP's no_sync for the others)
      this.ddp.backward(k === group.length - 1, () => loss.backward(Tensor.full(loss.shape, w * lossScale)));
      this.flat!.attach();
      stepLoss += lv * w;
      flos += flopsPerToken * batchTokens(batch);
    }
    const sum = this.ddp.sumStep(stepLoss, flos);
    this.state.totalFlos += sum.flos;
    return sum.loss;
  }

  /** Unscale (fp16), clip, optimizer step (unless skipped), schedule, zero grads. */
  protected optimizerStep(params: Tensor[], optimizer: Optimizer, scheduler: LRScheduler, stepLoss = 0): { lrUsed: number; norm: number | null } {
    const model = this.model;
    const step = this.state.globalStep;
    const afterStep = hasOptimizerStepHook(model) ? () => model.onOptimizerStep(step) : undefined;
    if (this.dp) {
      this.dp.finishStep();
      this.state.dp = this.dp.stateJSON();
      this.flat!.attach();
    }
    // DP: the private gradient is already clipped per sample and noised; no clipping after
    const { lrUsed, norm, skipped, nonfinite } = applyOptimizerStep(params, optimizer, scheduler, this.flat!, this.scaler, this.dp ? 0 : this.args.maxGradNorm, afterStep, this.ddp.zero, this.ddp.tp, stepLoss);
    if (skipped) this.pendingSkip = skipped;
    const skip = this.nonFinite.record(nonfinite, step + 1, this.currentEpoch + 1, this.lastCheckpoint);
    if (skip) {
      this.pendingSkip = skip;
      if (this.ddp.isMain) this.progress.line(`step ${step + 1}: ${skip.skip_reason}; the optimizer step is skipped (${skip.consecutive_skips} in a row, at most ${this.args.maxNonfiniteSkips})`);
    }
    return { lrUsed, norm };
  }

  /** Asks the loop to stop after the current step: it saves a checkpoint, then train() rejects with TrainingInterrupted. */
  requestStop(signal: string): void {
    this.stopRequest ??= signal;
  }

  private async stopOnRequest(signal: string): Promise<never> {
    this.stopRequest = null;
    if (this.lastCheckpoint !== join(this.args.outputDir, `checkpoint-${this.state.globalStep}`)) {
      await this.saveCheckpoint();
      this.fire("onSave", { checkpoint: this.lastCheckpoint ?? undefined });
    }
    throw new TrainingInterrupted(signal, this.lastCheckpoint, this.state.globalStep);
  }

  private async maybeLogSaveEvaluate(): Promise<void> {
    const c = this.control;
    if (c.shouldLog && this.state.globalStep > this.globalStepLastLogged) {
      const n = this.state.globalStep - this.globalStepLastLogged;
      const logs: Record<string, number> = { loss: this.trLossSinceLog / n };
      if (this.lastGradNorm !== null) logs.grad_norm = this.lastGradNorm;
      logs.learning_rate = this.lastLr;
      if (this.dp) logs.epsilon = this.dp.epsilon();
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
        const key = metricKey(this.args);
        if (metrics[key] !== undefined) this.lrScheduler.stepMetric(metrics[key]);
      }
      if (updateBestMetric(this.args, this.state, metrics) && this.args.saveStrategy === "best") c.shouldSave = true;
    }
    if (c.shouldSave) {
      c.shouldSave = false;
      await this.saveCheckpoint();
      this.fire("onSave", { checkpoint: this.lastCheckpoint ?? undefined });
    }
  }

  // ------------------------------------------------------------------ checkpoints

  /** Writes checkpoint-<global_step> (atomic; rank 0 writes, every rank waits) and rotates old ones. */
  async saveCheckpoint(): Promise<string> {
    this.state.statefulCallbacks = statefulCallbacks(this.control, this.callbacks);
    this.lastCheckpoint = await saveTrainerCheckpoint({
      args: this.args, state: this.state, model: this.model, optimizer: this.optimizer!, scheduler: this.lrScheduler!, scaler: this.scaler, ddp: this.ddp,
      position: { dataEpochStart: this.dataEpochStart, epoch: this.currentEpoch, batchesDoneInEpoch: this.batchesDoneInEpoch },
      counters: { totalLoss: this.totalLoss, trLossSinceLog: this.trLossSinceLog, globalStepLastLogged: this.globalStepLastLogged },
    });
    return this.lastCheckpoint;
  }

  /** Restores weights, optimizer, scheduler, RNGs and trainer state from a checkpoint folder. */
  private loadCheckpoint(dir: string): RngCheckpoint {
    const { rng, counters } = restoreCheckpoint(dir, {
      model: this.model, optimizer: this.optimizer!, scheduler: this.lrScheduler!, state: this.state, callbacks: this.callbacks, scaler: this.scaler,
    });
    ({ totalLoss: this.totalLoss, trLossSinceLog: this.trLossSinceLog, globalStepLastLogged: this.globalStepLastLogged } = counters);
    restoreRankRng(rng, this.ddp.group.rank, this.args.seed, this.state.globalStep);
    if (this.ddp.tp) sliceOptimizerState(this.optimizer!);
    this.lastCheckpoint = dir;
    return rng;
  }

  // ------------------------------------------------------------------ evaluation

  private predictionLoop(dataset: TrainerDataset, prefix: string, desc: string): PredictionOutput {
    return predictionLoop({
      model: this.model, args: this.args, dataCollator: this.dataCollator, computeMetrics: this.computeMetrics, progress: this.progress,
      globalStep: this.state.globalStep, forward: (m, b) => this.forward(m, b),
      ...this.ddp.evalSharding(),
    }, dataset, prefix, desc);
  }

  /** Runs the eval loop; logs and returns metrics prefixed "eval_" (eval_loss, eval_accuracy…). */
  async evaluate(opts: { evalDataset?: TrainerDataset; metricKeyPrefix?: string } = {}): Promise<Record<string, number>> {
    const ds = opts.evalDataset ?? this.evalDataset;
    if (!ds) throw new ConfigError("Trainer.evaluate: no evalDataset");
    const prefix = opts.metricKeyPrefix ?? "eval";
    const { metrics, predictions, labelIds } = this.predictionLoop(ds, prefix, "evaluate");
    if (prefix === "eval" && this.ddp.isMain) writeEvalPredictions(this.args, this.model, predictions, labelIds, this.state.globalStep);
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
    await this.ddp.onMain(async () => {
      getFiles().mkdir(dir);
      await saveModelWeights(this.model, dir);
      if (this.state.dp) writeDpModelCard(dir, this.state.dp);
      atomicWriteFile(join(dir, "training_args.json"), this.args.toJsonString());
    }, () => saveModelWeights(this.model, dir)); // tp: replica 0's other ranks send their shards
  }
}
