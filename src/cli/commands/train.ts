// peft-ts train: model + task data + PEFT config → Trainer → adapter (HF PEFT layout),
// metrics.json (train_* and eval_* by HF names), report.html and checkpoints in --output_dir.

import { writeDpModelCard } from "../../train/dp/model_card.js";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "../errors.js";
import { isMainProcess } from "../launch.js";
import type { Opts } from "../resolve.js";
import {
  TaskData, applyPeft, buildPeftConfig, loadTokenizer, modelDir, modelLoadOptions, prepareData, resolveTask, stage,
} from "../pipeline.js";
import { evaluateTask, finishRunReport, metricLines, summaryLines, taskTrainer, trainingArguments, writeMetrics } from "../trainer_api.js";
import { writeEvalReport, writeSampledGenerations, writeWorstErrors } from "../report_examples.js";
import { lossFunction } from "../loss.js";
import { PeftModel } from "../../peft/index.js";
import { writeAdapterDeltaFile } from "../adapter_delta_file.js";
import type { PreTrainedModel } from "../../models/modeling_utils.js";
import { manualSeed } from "../../tensor/random.js";
import { ConfigError } from "../../tensor/errors.js";
import { activeProcessGroup, getProcessGroup, parallelLayout, type ParallelLayout } from "../../dist/index.js";
import { checkOutputWritable } from "../../train/output_dir.js";
import { handleStopSignals } from "../../train/stop_signals.js";
import { TrainingInterrupted } from "../../train/trainer_errors.js";

const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "merges.txt", "vocab.json", "generation_config.json"];

export interface TrainOutcome {
  model: PreTrainedModel | PeftModel;
  data: TaskData;
  metrics: Record<string, unknown>;
  outputDir: string;
}

/** Requires an output folder: HF's Trainer writes everything there. */
export function outputDirOf(opts: Opts): string {
  const out = opts.output_dir;
  if (out === undefined || out === null || out === "") throw new CliError("--output_dir is required (where the adapter, metrics.json and checkpoints go)");
  return String(out);
}

/** Saves the trained weights: the adapter (PEFT layout) or, for full fine-tuning, the model + tokenizer files. */
export async function saveTrained(model: PreTrainedModel | PeftModel, baseDir: string, outDir: string): Promise<void> {
  await model.savePretrained(outDir);
  writeAdapterDeltaFile(model, outDir);
  if (!(model instanceof PeftModel)) {
    for (const f of TOKENIZER_FILES) if (existsSync(join(baseDir, f)) && !existsSync(join(outDir, f))) copyFileSync(join(baseDir, f), join(outDir, f));
  }
}

/** The dp × tp layout of --tensor_parallel_size (K = 1: plain data parallelism over every process). */
export function tensorParallelLayout(opts: Opts): ParallelLayout {
  const K = opts.tensor_parallel_size === undefined ? 1 : Number(opts.tensor_parallel_size);
  if (K === 1) return { world: getProcessGroup(), tensorParallelSize: 1, tp: null, dp: getProcessGroup(), tpRank: 0, dpRank: getProcessGroup().rank };
  try {
    return parallelLayout(getProcessGroup(), K);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(`--tensor_parallel_size: ${e.message}`);
    throw e;
  }
}

export async function trainFromOptions(opts: Opts): Promise<TrainOutcome> {
  const outputDir = outputDirOf(opts);
  // a folder that cannot be written is refused before the model and data load
  if (isMainProcess()) checkOutputWritable(outputDir);
  const dir = modelDir(opts);
  const task = resolveTask(opts, dir);
  if (opts.seed !== undefined) manualSeed(opts.seed as number);
  stage(`loading tokenizer and data (${task.name})`);
  const tokenizer = await loadTokenizer(opts, dir);
  const wantEval = Boolean(opts.validation_file) || Boolean(opts.validation_split_percentage);
  const data = await prepareData(task, tokenizer, opts, { train: true, eval: wantEval, modelDir: dir });
  const loss = lossFunction(String(opts.loss ?? "ce"), task, data.labels); // before the model: its refusals are usage errors
  stage(`${data.trainDataset!.length} training examples${data.evalDataset ? `, ${data.evalDataset.length} evaluation examples` : ""}`);
  stage(`loading ${dir} for ${task.name}${data.labels.numLabels && task.hasLabelSet ? ` (${data.labels.numLabels} labels)` : ""}`);
  // --tensor_parallel_size K: world = dp × tp; the model is split over this rank's tp group
  const layout = tensorParallelLayout(opts);
  const base = await task.loadModel(dir, data.labels, { ...modelLoadOptions(opts), ...(layout.tp ? { tensorParallel: layout.tp } : {}) });
  const args = trainingArguments(opts, { outputDir, doEval: data.evalDataset ? true : undefined });
  // the run's optimizer steps over its data-parallel ranks (the Trainer has not seen the group yet)
  const peftCfg = buildPeftConfig(opts, task, dir, args.plannedSteps(data.trainDataset!.length, layout.dp.worldSize).maxSteps);
  const model = applyPeft(base, peftCfg, tokenizer); // under tp: the library's PeftError for a method it cannot split
  if (model instanceof PeftModel) stage(`${peftCfg!.peftType}: ${model.trainableParametersLine()}`);
  else stage(`full fine-tuning: ${base.numParameters(true).toLocaleString("en-US")} trainable parameters`);

  const trainer = taskTrainer(model, args, data, loss ? { computeLoss: loss } : {});
  stage(`training → ${outputDir}`);
  const resume = opts.resume_from_checkpoint === "true" ? true : (opts.resume_from_checkpoint as string | undefined);
  // SIGINT/SIGTERM: checkpoint after the current step, then TrainingInterrupted (run() exits 130/143)
  const releaseSignals = handleStopSignals(trainer);
  const trainOut = await trainer.train(resume !== undefined ? { resumeFromCheckpoint: resume } : {}).finally(releaseSignals);
  const trainMetrics: Record<string, unknown> = { ...trainOut.metrics };
  // rank 0 writes the files (every replica holds the same weights after training); under tensor
  // parallelism replica 0's other tp ranks send their shards to savePretrained's gathers
  await trainer.ddp.onMain(async () => {
    await saveTrained(model, dir, outputDir);
    if (trainer.state.dp) writeDpModelCard(outputDir, trainer.state.dp); // the model card states the run's ε
  }, () => model.savePretrained(outputDir));
  stage(`saved ${model instanceof PeftModel ? "adapter" : "model"} to ${outputDir}`);
  let evalMetrics: Record<string, unknown> = {};
  if (data.evalDataset) {
    stage(`evaluating on ${data.evalDataset.length} examples`);
    evalMetrics = await evaluateTask(trainer, data);
  }
  const all = { ...trainMetrics, ...evalMetrics };
  const metrics = isMainProcess() ? writeMetrics(outputDir, all) : all;
  if (isMainProcess()) {
    const evalReport = data.evalReport?.();
    if (evalReport) writeEvalReport(outputDir, evalReport, trainer.state.globalStep);
    if (args.logExamples && data.evalRows) writeWorstErrors(outputDir, data.evalRows);
    const sampleRows = data.evalRows ?? data.trainRows;
    if (args.logExamples && task.name === "causal-lm" && sampleRows && !layout.tp) writeSampledGenerations(outputDir, model, tokenizer, sampleRows);
    finishRunReport(outputDir, { task: task.name });
  }
  return { model, data, metrics, outputDir };
}

export async function run(opts: Opts): Promise<number> {
  let outcome: TrainOutcome;
  try {
    outcome = await trainFromOptions(opts);
  } catch (e) {
    if (!(e instanceof TrainingInterrupted)) throw e;
    if (isMainProcess()) process.stderr.write(`peft-ts: ${e.message}\n`);
    // under MPI every rank stopped at the same step (an agreed stop): they end MPI together
    const g = activeProcessGroup();
    if (g && g.worldSize > 1) g.finalize();
    return e.exitCode;
  }
  const { metrics, outputDir } = outcome;
  if (isMainProcess()) {
    process.stdout.write(`metrics (${join(outputDir, "metrics.json")}):\n${metricLines(metrics)}\n`);
    process.stdout.write(`\nsummary (${join(outputDir, "report.html")}):\n${summaryLines(outputDir)}\n`);
  }
  return 0;
}
