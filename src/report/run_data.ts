// What a run directory holds, as the report reads it: HF's metrics.json and trainer_state.json,
// log_history.jsonl, and peft-ts's run_info.json, eval_predictions.json and adapter_delta.json,
// plus adapter_config.json / training_args.json when present. Every file but one of
// trainer_state.json / log_history.jsonl / metrics.json is optional, so old runs still render.

import { getFiles } from "../platform/files.js";
import { basename, join } from "../platform/paths.js";
import { parseJsonText, MAX_JSON_BYTES } from "../io/json.js";
import { FormatError } from "../tensor/errors.js";
import type { LogRecord } from "./series.js";

type Obj = Record<string, unknown>;

/** eval_predictions.json: numbers only (no example text), written by the Trainer's evaluation. */
export interface EvalPredictions {
  /** "classification" (labels, predictions, probabilities), "regression", "token_classification", "qa". */
  kind: string;
  step?: number;
  labels?: number[] | number[][];
  predictions?: number[] | number[][];
  /** Classification: the predicted class's probability per row. */
  confidence?: number[];
  label_names?: string[];
  /** QA: predicted and reference answer lengths (words). */
  predicted_lengths?: number[];
  reference_lengths?: number[];
}

export interface AdapterDeltaModule {
  name: string;
  layer: number | null;
  module: string;
  delta_norm: number;
  weight_norm: number;
  relative_norm: number;
  effective_rank: number;
  singular_values: number[];
}

export interface RunData {
  dir: string;
  /** A short name for the run (run_name, else the folder's name). */
  name: string;
  metrics: Obj;
  state: Obj;
  logHistory: LogRecord[];
  runInfo: Obj;
  /** The training arguments (run_info.json's training_args, else training_args.json). */
  args: Obj;
  adapterConfig: Obj | null;
  evalPredictions: EvalPredictions | null;
  adapterDelta: AdapterDeltaModule[] | null;
  /** generations.json (sampled generations), read only when the run was made with log_examples. */
  generations: Obj[] | null;
  /** examples.json: worst-error rows with text, written only with log_examples. */
  examples: Obj[] | null;
}

/** JSON text as Python's json writes it (NaN, Infinity as bare words): those become null. */
export function parseRunJson(text: string, file: string): unknown {
  try {
    return parseJsonText(text, file);
  } catch (e) {
    if (!/\b(NaN|Infinity)\b/.test(text)) throw e;
    return parseJsonText(text.replace(/-?\bInfinity\b|\bNaN\b/g, "null"), file);
  }
}

function readJson(dir: string, name: string): unknown {
  const path = join(dir, name);
  const f = getFiles();
  if (!f.exists(path)) return undefined;
  const size = f.stat(path).size;
  if (size > MAX_JSON_BYTES) throw new FormatError(`${path}: ${size} bytes, more than the limit of ${MAX_JSON_BYTES} for a run file`);
  return parseRunJson(f.readText(path), path);
}

function objectIn(dir: string, name: string): Obj | undefined {
  const v = readJson(dir, name);
  if (v === undefined) return undefined;
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new FormatError(`${join(dir, name)}: expected a JSON object, got ${Array.isArray(v) ? "an array" : typeof v}`);
  return v as Obj;
}

/** log_history.jsonl: one JSON object per line. */
function readJsonl(dir: string): LogRecord[] | undefined {
  const path = join(dir, "log_history.jsonl");
  if (!getFiles().exists(path)) return undefined;
  return getFiles().readText(path).split("\n").filter((l) => l.trim() !== "").map((l, i) => {
    const v = parseRunJson(l, `${path} line ${i + 1}`);
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new FormatError(`${path} line ${i + 1}: expected a JSON object (one log entry)`);
    return v as LogRecord;
  });
}

/** The newest checkpoint-N folder's file `name`, when the run dir itself has none (training_args.json). */
function fromLastCheckpoint(dir: string, name: string): Obj | undefined {
  const ckpts = getFiles().readdir(dir).filter((n) => /^checkpoint-\d+$/.test(n)).sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));
  for (const c of ckpts.reverse()) {
    const o = objectIn(join(dir, c), name);
    if (o) return o;
  }
  return undefined;
}

function arrayIn<T>(o: Obj | undefined, key: string, file: string): T[] | null {
  if (!o) return null;
  const v = o[key];
  if (!Array.isArray(v)) throw new FormatError(`${file}: expected "${key}" to be an array`);
  return v as T[];
}

/** Reads a run directory; throws a FormatError naming the folder when it holds none of the run files. */
export function loadRun(dir: string): RunData {
  const f = getFiles();
  if (!f.exists(dir) || !f.stat(dir).isDirectory) throw new FormatError(`${dir}: not a folder (expected a run's output_dir with trainer_state.json, metrics.json or log_history.jsonl)`);
  const state = objectIn(dir, "trainer_state.json");
  const metrics = objectIn(dir, "metrics.json");
  const jsonl = readJsonl(dir);
  if (!state && !metrics && !jsonl) throw new FormatError(`${dir}: no trainer_state.json, metrics.json or log_history.jsonl; expected the output_dir of a training run`);
  let logHistory: LogRecord[] = jsonl ?? [];
  if (state && state.log_history !== undefined) {
    if (!Array.isArray(state.log_history)) throw new FormatError(`${join(dir, "trainer_state.json")}: expected "log_history" to be an array`);
    if (state.log_history.length >= logHistory.length) logHistory = state.log_history as LogRecord[];
  }
  const runInfo = objectIn(dir, "run_info.json") ?? {};
  const args = (runInfo.training_args as Obj | undefined) ?? objectIn(dir, "training_args.json") ?? fromLastCheckpoint(dir, "training_args.json") ?? {};
  const adapterConfig = objectIn(dir, "adapter_config.json") ?? (runInfo.adapter_config as Obj | undefined) ?? null;
  const preds = objectIn(dir, "eval_predictions.json");
  const delta = objectIn(dir, "adapter_delta.json");
  const logExamples = args.log_examples === true;
  const gen = logExamples ? readJson(dir, "generations.json") : undefined;
  const ex = logExamples ? objectIn(dir, "examples.json") : undefined;
  const name = typeof args.run_name === "string" && args.run_name ? args.run_name : basename(dir.replace(/\/+$/, "")) || dir;
  return {
    dir, name, metrics: metrics ?? {}, state: state ?? {}, logHistory, runInfo, args, adapterConfig,
    evalPredictions: preds ? (preds as unknown as EvalPredictions) : null,
    adapterDelta: arrayIn<AdapterDeltaModule>(delta, "modules", join(dir, "adapter_delta.json")),
    generations: Array.isArray(gen) ? (gen as Obj[]) : null,
    examples: arrayIn<Obj>(ex, "rows", join(dir, "examples.json")),
  };
}
