// The files a run leaves in output_dir besides checkpoints: log_history.jsonl (report_to
// "jsonl" or "all"), eval_predictions.json after each evaluation, and at the end trainer_state.json,
// metrics.json, run_info.json and report.html (rendered from those files by src/report).

import { getFiles } from "../platform/files.js";
import { join } from "../platform/paths.js";
import { atomicWriteFile } from "../io/fs.js";
import { TrainingArguments } from "./args.js";
import type { LogEntry, TrainerState } from "./callbacks.js";
import { writeRunReport } from "../report/write_report.js";
import type { Module } from "../nn/module.js";
import { evalPredictionsRecord } from "./eval_predictions.js";
import { TrainingError, ioReason } from "./trainer_errors.js";

/** Runs a write of one run file; a failure (a full disk, a read-only folder) is a TrainingError naming the file. */
function writingRunFile(path: string, write: () => void): void {
  try {
    write();
  } catch (e) {
    throw new TrainingError(`cannot write ${path}: ${ioReason(e)}; free space or choose another output_dir (the checkpoints already written are intact)`);
  }
}

function reportsJsonl(a: TrainingArguments): boolean {
  return a.reportTo.includes("jsonl") || a.reportTo.includes("all");
}

/** Appends one log entry to output_dir/log_history.jsonl. */
export function appendLogJsonl(a: TrainingArguments, entry: LogEntry): void {
  if (!reportsJsonl(a)) return;
  const path = join(a.outputDir, "log_history.jsonl");
  writingRunFile(path, () => {
    getFiles().mkdir(a.outputDir);
    getFiles().appendFile(path, JSON.stringify(entry) + "\n");
  });
}

/**
 * Rewrites log_history.jsonl from the log history (after a resume restored it). An empty history
 * (a fresh run) removes a previous run's file instead of writing an empty one: the file and the
 * output folder appear with the first entry (appendLogJsonl), so a run that fails before logging
 * leaves neither behind.
 */
export function rewriteLogJsonl(a: TrainingArguments, logHistory: LogEntry[]): void {
  if (!reportsJsonl(a)) return;
  const path = join(a.outputDir, "log_history.jsonl");
  if (logHistory.length === 0) {
    getFiles().rm(path, { force: true });
    return;
  }
  writingRunFile(path, () => {
    getFiles().mkdir(a.outputDir);
    getFiles().writeFile(path, logHistory.map((e) => JSON.stringify(e) + "\n").join(""));
  });
}

/** trainer_state.json, metrics.json, run_info.json and report.html in output_dir. */
export function writeRunFiles(a: TrainingArguments, state: TrainerState, metrics: Record<string, number>, info: Record<string, unknown>): void {
  writingRunFile(a.outputDir, () => getFiles().mkdir(a.outputDir));
  const write = (name: string, text: () => string): void => {
    const path = join(a.outputDir, name);
    writingRunFile(path, () => atomicWriteFile(path, text()));
  };
  // stateful_callbacks keep what the last checkpoint (or train begin) recorded, as in HF
  write("trainer_state.json", () => JSON.stringify(state.toJSON(), null, 2) + "\n");
  write("metrics.json", () => JSON.stringify(metrics, null, 2) + "\n");
  write("run_info.json", () => JSON.stringify(info, null, 2) + "\n");
  writeReport(a);
}

/** report.html from the run files in output_dir (again after the CLI adds its final evaluation). */
export function writeReport(a: TrainingArguments): void {
  const path = join(a.outputDir, "report.html");
  writingRunFile(path, () => writeRunReport(a.outputDir, { defaultArgs: new TrainingArguments().toDict() }));
}

/** The model's class names (config id2label) when it has a label set. */
function labelNames(model: Module): string[] | null {
  const cfg = (model as unknown as { config?: { id2label?: Record<number, string>; numLabels?: number } }).config;
  const n = cfg?.numLabels ?? 0;
  if (!cfg?.id2label || n < 1) return null;
  const names = Array.from({ length: n }, (_, i) => cfg.id2label![i]);
  return names.every((x) => typeof x === "string") ? names : null;
}

/** eval_predictions.json (numbers only) for the report's task results, when output_dir exists and the predictions are of a kind it shows. */
export function writeEvalPredictions(a: TrainingArguments, model: Module, predictions: unknown[], labelIds: unknown[] | undefined, step: number): void {
  if (!getFiles().exists(a.outputDir)) return;
  const rec = evalPredictionsRecord(predictions, labelIds, step, labelNames(model));
  if (!rec) return;
  const path = join(a.outputDir, "eval_predictions.json");
  writingRunFile(path, () => atomicWriteFile(path, JSON.stringify(rec) + "\n"));
}

/** HF's speed_metrics: <split>_runtime (s, 4 decimals), _samples_per_second and _steps_per_second (3 decimals). */
export function speedMetrics(split: string, runtime: number, numSamples: number, numSteps: number): Record<string, number> {
  return {
    [`${split}_runtime`]: Math.round(runtime * 1e4) / 1e4,
    [`${split}_samples_per_second`]: runtime > 0 ? Math.round((numSamples / runtime) * 1e3) / 1e3 : 0,
    [`${split}_steps_per_second`]: runtime > 0 ? Math.round((numSteps / runtime) * 1e3) / 1e3 : 0,
  };
}

/** train()'s final metrics: speed over the samples of the run (all ranks), total_flos, train_loss. */
export function trainMetrics(a: TrainingArguments, N: number, maxSteps: number, startStep: number, runtime: number, totalFlos: number, trainLoss: number): Record<string, number> {
  const numSamples = a.maxSteps > 0 ? maxSteps * a.totalTrainBatchSize : N * a.numTrainEpochs;
  return { ...speedMetrics("train", runtime, numSamples, maxSteps - startStep), total_flos: totalFlos, train_loss: trainLoss };
}
