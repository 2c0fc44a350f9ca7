// The CLI's single point of contact with the Trainer layer (src/train) and the Distiller
// (src/distill): building TrainingArguments from HF snake_case options, running train /
// evaluate / predict, and writing metrics.json.

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "./errors.js";
import type { Opts } from "./resolve.js";
import type { OptSpec } from "./options.js";
import { atomicWriteFile } from "../io/fs.js";
import { Module } from "../nn/module.js";
import type { ModelInputs, ModelOutput } from "../models/modeling_utils.js";
import type { TaskData } from "./pipeline.js";

/** A view of a model that returns only the loss: evaluating a causal LM keeps no [T, V] logits. */
class LossOnly extends Module {
  constructor(private readonly inner: Module & { forward(i: ModelInputs): ModelOutput }) {
    super();
    this.registerModule("inner", inner);
  }
  forward(inputs: ModelInputs): ModelOutput {
    return { loss: this.inner.forward(inputs).loss };
  }
}

/**
 * trainer.evaluate() plus what it cannot do alone: causal-LM evaluation through a loss-only view
 * (perplexity = exp(eval_loss), as run_clm), and QA's exact match / F1 from the start/end logits
 * (QA batches carry start/end positions, not labels, so compute_metrics needs the predictions).
 */
export async function evaluateTask(trainer: AnyTrainer, data: TaskData): Promise<Record<string, unknown>> {
  if (data.task === "causal-lm") {
    const model = trainer.model;
    trainer.model = new LossOnly(model);
    try {
      return withPerplexity("causal-lm", await trainer.evaluate());
    } finally {
      trainer.model = model;
    }
  }
  const m: Record<string, unknown> = await trainer.evaluate();
  if (data.task === "qa" && data.computeMetrics && data.evalDataset && m.eval_exact_match === undefined) {
    const p = await trainer.predict(data.evalDataset, { metricKeyPrefix: "eval" });
    for (const [k, v] of Object.entries(data.computeMetrics({ predictions: p.predictions, labelIds: undefined }))) m[`eval_${k}`] = v;
  }
  return m;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export type AnyTrainer = any;

const TRAIN_MODULE = "../train/index.js";
const DISTILL_MODULE = "../distill/index.js";

export async function trainModule(): Promise<Record<string, any>> {
  try {
    return (await import(TRAIN_MODULE)) as Record<string, any>;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" && String((e as Error).message).includes("train")) {
      throw new CliError("the Trainer (src/train) is not available in this build", 1);
    }
    throw e;
  }
}

export async function distillModule(): Promise<Record<string, any>> {
  return (await import(DISTILL_MODULE)) as Record<string, any>;
}

/** The snake_case TrainingArguments dict from resolved options (only fields the Trainer knows). */
export function trainingDict(opts: Opts, trainingSpecs: OptSpec[], overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of trainingSpecs) {
    const v = opts[s.name];
    if (v === undefined) continue;
    out[s.name] = v;
  }
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) out[k] = v;
  if (out.resume_from_checkpoint === "true") out.resume_from_checkpoint = true;
  return out;
}

export async function makeTrainingArguments(dict: Record<string, unknown>): Promise<any> {
  const mod = await trainModule();
  const TA = mod.TrainingArguments;
  return TA.fromDict ? TA.fromDict(dict) : new TA(dict);
}

/** The collator as the Trainer takes it. */
export function collatorFn(c: { call(f: unknown[]): unknown }): any {
  return c;
}

/** metrics.json: merges into what the Trainer wrote (if anything), HF names, sorted keys. */
export function writeMetrics(dir: string, metrics: Record<string, unknown>): Record<string, unknown> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "metrics.json");
  let prev: Record<string, unknown> = {};
  if (existsSync(path)) {
    try {
      prev = JSON.parse(readFileSync(path, "utf8"));
    } catch {
      prev = {};
    }
  }
  const all = { ...prev, ...metrics };
  const sorted = Object.fromEntries(Object.keys(all).sort().map((k) => [k, all[k]]));
  atomicWriteFile(path, JSON.stringify(sorted, null, 2) + "\n");
  return sorted;
}

/** Formats a metrics dict as aligned lines (eval_loss 0.6931 …). */
export function metricLines(m: Record<string, unknown>): string {
  const keys = Object.keys(m).sort();
  const w = Math.max(...keys.map((k) => k.length));
  return keys.map((k) => `  ${k.padEnd(w)}  ${typeof m[k] === "number" ? fmtNum(m[k] as number) : JSON.stringify(m[k])}`).join("\n");
}

function fmtNum(x: number): string {
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 1e-3 ? x.toFixed(4) : x.toExponential(3);
}

/** run_clm's perplexity = exp(eval_loss), added for causal-LM evaluations. */
export function withPerplexity(task: string, m: Record<string, unknown>): Record<string, unknown> {
  if (task !== "causal-lm" || typeof m.eval_loss !== "number") return m;
  return { ...m, perplexity: Math.exp(m.eval_loss as number) };
}
