// run_info.json: what a run's report needs that HF's files do not hold (peft-ts's own file, next to
// the HF-compatible trainer_state.json and metrics.json): the model and its parameter count, the
// PEFT method and PEFT's trainable-parameters line, data rows, tokens, backend, CPU or ranks, and
// the training arguments (with log_examples, so the report knows whether text may be shown).

import type { Module } from "../nn/module.js";
import { PeftModel } from "../peft/peft_model.js";
import { getBackend } from "../backend/registry.js";
import { hostInfo } from "../platform/env.js";
import { dirname } from "../platform/paths.js";
import type { TrainingArguments } from "./args.js";

interface ConfigLike { modelType?: string; source?: string; raw?: Record<string, unknown>; architectures?: string[] }

function modelFacts(model: Module): Record<string, unknown> {
  const base = model instanceof PeftModel ? model.baseModel : model;
  const cfg = (base as unknown as { config?: ConfigLike }).config;
  const fromPeft = model instanceof PeftModel ? model.activeConfig.baseModelNameOrPath : null;
  const raw = cfg?.raw?._name_or_path;
  const name = fromPeft || (typeof raw === "string" && raw ? raw : cfg?.source && cfg.source !== "<object>" ? dirname(cfg.source) : null);
  const all = model instanceof PeftModel ? model.getNbTrainableParameters()[1] : model.parameters().reduce((s, p) => s + p.size, 0);
  const trainable = model.parameters().reduce((s, p) => s + (p.requiresGrad ? p.size : 0), 0);
  return {
    model: { name_or_path: name ?? base.constructor.name, model_type: cfg?.modelType ?? null, architecture: base.constructor.name, num_parameters: all - (model instanceof PeftModel ? trainable : 0) },
    trainable_params: trainable,
    ...(model instanceof PeftModel ? { peft: { ...model.activeConfig.toJSON(), trainable_line: model.trainableParametersLine() } } : {}),
  };
}

export interface RunFacts {
  trainRows: number;
  evalRows: number | null;
  /** Tokens in the training batches (padded), 0 when the inputs carry none. */
  trainTokens: number;
  worldSize: number;
  tensorParallelSize: number;
}

/** The run_info.json object; `extra` keys (the CLI's task, a measured baseline) are merged last. */
export function runInfo(model: Module, a: TrainingArguments, f: RunFacts, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...modelFacts(model),
    train_rows: f.trainRows,
    ...(f.evalRows !== null ? { eval_rows: f.evalRows } : {}),
    ...(f.trainTokens > 0 ? { train_tokens: f.trainTokens } : {}),
    backend: getBackend().name,
    world_size: f.worldSize,
    ...(f.tensorParallelSize > 1 ? { tensor_parallel_size: f.tensorParallelSize } : {}),
    cpu: hostInfo().cpu?.() ?? null,
    training_args: a.toDict(),
    ...extra,
  };
}
