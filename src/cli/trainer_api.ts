// The CLI's single point of contact with the Trainer layer (src/train): TrainingArguments from
// the resolved HF snake_case options, a Trainer for a task's prepared data, evaluation through
// the task's hook, and metrics.json.

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Opts } from "./resolve.js";
import { atomicWriteFile } from "../io/fs.js";
import type { Module } from "../nn/module.js";
import type { Tensor } from "../tensor/tensor.js";
import { Trainer, TrainingArguments, trainingFieldList, type TrainerOptions, type TrainingArgumentsInit } from "../train/index.js";
import type { TaskData } from "./pipeline.js";
import { loadRun, metricTable, runSummary, writeRunReport } from "../report/index.js";

/**
 * TrainingArguments from the resolved options (the training fields that are set) and typed
 * overrides the command decides (output_dir, do_eval, …).
 */
export function trainingArguments(opts: Opts, overrides: TrainingArgumentsInit = {}): TrainingArguments {
  const dict: Record<string, unknown> = {};
  for (const f of trainingFieldList()) {
    const v = opts[f.name];
    if (v !== undefined) dict[f.name] = v;
  }
  // typed overrides last: fromDict maps snake_case and camelCase keys to the same field
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) dict[k] = v;
  return TrainingArguments.fromDict(dict);
}

/** Trainer options over a task's prepared data (its datasets, collator and metrics). */
export function trainerOptions(
  model: Module, args: TrainingArguments, data: TaskData,
  extra: { eval?: boolean; computeLoss?: (model: Module, inputs: Record<string, unknown>) => Tensor } = {},
): TrainerOptions {
  return {
    model,
    args,
    dataCollator: data.collator,
    ...(data.trainDataset ? { trainDataset: data.trainDataset } : {}),
    ...(extra.eval !== false && data.evalDataset ? { evalDataset: data.evalDataset } : {}),
    ...(data.computeMetrics ? { computeMetrics: data.computeMetrics } : {}),
    ...(extra.computeLoss ? { computeLoss: extra.computeLoss } : {}),
  };
}

/** A Trainer over a task's prepared data. */
export function taskTrainer(model: Module, args: TrainingArguments, data: TaskData, extra: Parameters<typeof trainerOptions>[3] = {}): Trainer {
  return new Trainer(trainerOptions(model, args, data, extra));
}

/** trainer.evaluate(), or the task's own evaluation (QA span metrics, causal-LM perplexity). */
export async function evaluateTask(trainer: Trainer, data: TaskData): Promise<Record<string, unknown>> {
  return data.task.evaluate ? data.task.evaluate(trainer, data) : trainer.evaluate();
}

/** A JSON file's object, or {} when it is missing or unreadable (it is then rewritten whole). */
function readJsonObject(path: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return {};
  }
}

/** metrics.json: merges into what the Trainer wrote (if anything), HF names, sorted keys. */
export function writeMetrics(dir: string, metrics: Record<string, unknown>): Record<string, unknown> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "metrics.json");
  const all = { ...readJsonObject(path), ...metrics };
  const sorted = Object.fromEntries(Object.keys(all).sort().map((k) => [k, all[k]]));
  atomicWriteFile(path, JSON.stringify(sorted, null, 2) + "\n");
  return sorted;
}

/** Formats a metrics dict as aligned lines for people (eval_accuracy 74.54%, train_runtime 1 min 42 s …). */
export function metricLines(m: Record<string, unknown>): string {
  return metricTable(m);
}

/**
 * After the command's last metrics: merges `info` (the task, a measured baseline) into the run's
 * run_info.json and renders report.html again from the run dir, so the report shows them.
 */
export function finishRunReport(dir: string, info: Record<string, unknown> = {}): void {
  const path = join(dir, "run_info.json");
  atomicWriteFile(path, JSON.stringify({ ...readJsonObject(path), ...info }, null, 2) + "\n");
  writeRunReport(dir, { defaultArgs: new TrainingArguments().toDict() });
}

/** The run's summary card as aligned terminal lines (model, method, trainable parameters, final metric, wall time …). */
export function summaryLines(dir: string): string {
  const items = runSummary(loadRun(dir));
  const w = Math.max(0, ...items.map((i) => i.label.length));
  return items.map((i) => `  ${i.label.padEnd(w)}  ${i.text}${i.detail ? `  (${i.detail})` : ""}`).join("\n");
}
