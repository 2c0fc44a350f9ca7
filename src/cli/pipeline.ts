// What the train/eval/predict/distill commands share: loading the tokenizer and the model with
// the task's head, reading and preprocessing the data files, the collator and the metrics of a
// task, and the PEFT config built from the --peft flags.

import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "./errors.js";
import { isMainProcess } from "./launch.js";
import { Opts, isExplicit, optionalFile, requireFile } from "./resolve.js";
import { AutoTokenizer, PreTrainedTokenizer, isMarianDir } from "../io/tokenizer.js";
import { loadConfigFile, type BaseConfig, type ProblemType } from "../io/hf_config.js";
import { readSafetensorsHeader } from "../io/safetensors.js";
import type { PreTrainedModel } from "../models/modeling_utils.js";
import { Dataset, Row, loadDataset, trainTestSplit } from "../data/datasets.js";
import { BitsAndBytesConfig } from "../quant/bnb_config.js";
import { QUANT_OPTS } from "./options.js";
import type { LabelInfo, ModelLoadOptions, PreparedTask, Task, TaskOptions } from "../data/tasks/task.js";
import { getTask, taskForArchitectures, taskForTaskType, taskNames } from "../data/tasks/registry.js";
import "../data/tasks/all.js";
import { PeftConfig, PeftModel, getPeftModel, loadPeftConfig, peftConfigFromCli, peftMethodByCliName } from "../peft/index.js";
import { ConfigError } from "../tensor/errors.js";

/** A stage line: what the run is doing now (the Trainer draws its own progress bar). */
export function stage(msg: string): void {
  // under mpirun only rank 0 reports
  if (isMainProcess()) process.stdout.write(`==> ${msg}\n`);
}

export function modelDir(opts: Opts, name = "model_name_or_path"): string {
  const v = opts[name];
  if (v === undefined || v === null || v === "") throw new CliError(`--${name} is required (a model folder such as models/llama-mini-en)`);
  const dir = String(v);
  if (!existsSync(dir)) throw new CliError(`--${name}: model folder not found: ${dir}`);
  if (!statSync(dir).isDirectory()) throw new CliError(`--${name}: ${dir} is not a folder (expected config.json + model.safetensors)`);
  if (!existsSync(join(dir, "config.json"))) throw new CliError(`--${name}: ${dir} has no config.json; is it a Hugging Face model folder?`);
  return dir;
}

export async function loadTokenizer(opts: Opts, dir: string): Promise<PreTrainedTokenizer> {
  const tdir = opts.tokenizer_name ? String(opts.tokenizer_name) : dir;
  if (!existsSync(join(tdir, "tokenizer.json")) && !isMarianDir(tdir)) {
    throw new CliError(`no tokenizer.json (nor a Marian source.spm + vocab.json) in ${tdir}; pass --tokenizer_name with a folder holding the tokenizer files`);
  }
  return AutoTokenizer.fromPretrained(tdir);
}

/** The task: --task, else the adapter's task_type, else from the model's architecture. */
export function resolveTask(opts: Opts, dir: string): Task {
  if (opts.task) return getTask(String(opts.task));
  if (opts.adapter) {
    const adapter = String(opts.adapter);
    if (existsSync(join(adapter, "adapter_config.json"))) {
      const tt = loadPeftConfig(adapter, () => {}).taskType;
      const t = tt ? taskForTaskType(tt) : undefined;
      if (t) return t;
    }
  }
  const cfg = loadConfigFile(dir) as unknown as { architectures?: string[] | null };
  const archs = cfg.architectures ?? [];
  const t = taskForArchitectures(archs);
  if (t) return t;
  throw new CliError(`cannot tell the task of ${dir} (architectures: ${archs.join(",") || "none"}); pass --task (${taskNames().join(", ")})`);
}

/**
 * The PEFT config of --peft and the flags its method declares (null for full fine-tuning).
 * `totalSteps` is the run's planned optimizer steps, when known (AdaLoRA's budget schedule).
 */
export function buildPeftConfig(opts: Opts, task: Task, baseModel: string, totalSteps?: number): PeftConfig | null {
  const name = String(opts.peft ?? "lora");
  if (name === "none") return null;
  try {
    const method = peftMethodByCliName(name);
    const flags = Object.fromEntries(method.cliFields.map((f) => [f.flag, opts[f.flag]]));
    return peftConfigFromCli(method, flags, { taskType: task.taskType, baseModelNameOrPath: baseModel, ...(totalSteps ? { totalSteps } : {}) });
  } catch (e) {
    // a wrong method option is a usage error
    if (e instanceof ConfigError) throw new CliError(`--peft ${name}: ${e.message}`);
    throw e;
  }
}

/** Wraps the model with --peft (or marks all parameters trainable for --peft none). */
export function applyPeft(model: PreTrainedModel, config: PeftConfig | null, tokenizer?: PreTrainedTokenizer): PreTrainedModel | PeftModel {
  if (!config) {
    for (const p of model.parameters()) p.requiresGrad = true;
    model.train();
    return model;
  }
  const peft = getPeftModel(model, config, "default", { warn: () => {}, ...(tokenizer ? { tokenizer } : {}) } as never);
  peft.train();
  return peft;
}

/** Loads an adapter folder onto a model (frozen, for eval/predict/generate/merge). */
export async function loadAdapter(model: PreTrainedModel, opts: Opts): Promise<PreTrainedModel | PeftModel> {
  const dir = optionalFile(opts, "adapter", "adapter folder");
  if (!dir) return model;
  if (!existsSync(join(dir, "adapter_config.json"))) throw new CliError(`--adapter: ${dir} has no adapter_config.json; is it an adapter folder (the output_dir of 'peft-ts train')?`);
  if (!existsSync(join(dir, "adapter_model.safetensors"))) throw new CliError(`--adapter: ${dir} has no adapter_model.safetensors`);
  return PeftModel.fromPretrained(model, dir, { warn: () => {} });
}

// ------------------------------------------------------------------ data

/** Reads a data file; --filter COLUMN==VALUE keeps matching rows. */
export async function readRows(path: string, opts: Opts, limit?: number): Promise<Dataset<Row>> {
  let ds = await loadDataset(path);
  if (opts.filter) {
    const m = /^([^=!]+)(==|!=)(.*)$/.exec(String(opts.filter));
    if (!m) throw new CliError(`--filter expects COLUMN==VALUE or COLUMN!=VALUE, got '${opts.filter}'`);
    const [, col, op, val] = m;
    if (ds.length > 0 && !ds.columns.includes(col.trim())) throw new CliError(`--filter: no column '${col.trim()}' in ${path} (columns: ${ds.columns.join(", ")})`);
    ds = ds.filter((r) => (String(r[col.trim()]) === val.trim()) === (op === "=="));
  }
  if (limit !== undefined && limit !== null && limit < ds.length) ds = ds.select([...Array(limit).keys()]);
  if (ds.length === 0) throw new CliError(`${path}: no rows${opts.filter ? ` after --filter ${opts.filter}` : ""}`);
  return ds;
}

/** A task's prepared data with the rows it came from. */
export interface TaskData extends PreparedTask {
  task: Task;
  tokenizer: PreTrainedTokenizer;
  trainRows?: Dataset<Row>;
  evalRows?: Dataset<Row>;
}

/** Loads --train_file/--validation_file and preprocesses them with the task's recipe. */
export async function prepareData(task: Task, tokenizer: PreTrainedTokenizer, opts: Opts, need: { train: boolean; eval: boolean; evalFile?: string; modelDir?: string; predict?: boolean }): Promise<TaskData> {
  let maxLength = opts.max_length as number | undefined;
  const config = need.modelDir ? loadConfigFile(need.modelDir) : undefined;
  // the default max_length never exceeds what the model can position
  if (config && !isExplicit(opts, "max_length") && maxLength !== undefined) {
    const mpe = (config as unknown as { maxPositionEmbeddings?: number }).maxPositionEmbeddings;
    if (mpe && mpe < maxLength) maxLength = mpe;
  }
  let trainRows: Dataset<Row> | undefined;
  let evalRows: Dataset<Row> | undefined;
  let trainSource: string | undefined, evalSource: string | undefined;
  if (need.train && opts.tasks !== undefined) trainRows = await multitaskRows(opts, task);
  else if (need.train) {
    trainSource = requireFile(opts, "train_file", "training file");
    trainRows = await readRows(trainSource, opts, opts.max_train_samples as number | undefined);
  }
  const evalName = need.evalFile ?? "validation_file";
  const evalPath = need.eval ? optionalFile(opts, evalName, "evaluation file") : null;
  if (evalPath) {
    evalSource = evalPath;
    evalRows = await readRows(evalPath, opts, opts.max_eval_samples as number | undefined);
  } else if (need.eval && opts.validation_split_percentage && trainRows) {
    const pct = Number(opts.validation_split_percentage);
    const { train, test } = trainTestSplit(trainRows, { testSize: pct / 100, seed: 0 });
    trainRows = train;
    evalRows = opts.max_eval_samples ? test.select([...Array(Math.min(test.length, opts.max_eval_samples as number)).keys()]) : test;
    if (trainSource) evalSource = `${trainSource} (the ${pct}% held out)`;
  } else if (need.eval && !need.train) {
    throw new CliError(`--${evalName} is required (labelled rows to evaluate)`);
  }
  // what fixes the label set before the rows: --num_labels or the adapter's head, the model's label names
  const adapter = opts.adapter ? String(opts.adapter) : undefined;
  const numLabels = (opts.num_labels as number | undefined) ?? (adapter ? adapterNumLabels(adapter) : undefined) ?? (config && namesItsLabels(config) ? config.numLabels : undefined);
  if (opts.problem_type !== undefined && task.taskType !== "SEQ_CLS") throw new CliError(`--problem_type is for sequence classification (seq-cls), not ${task.name}`);
  const problemType = (opts.problem_type as ProblemType | undefined) ?? config?.problemType ?? undefined;
  let prepared: PreparedTask;
  try {
    prepared = task.prepare({ train: trainRows, eval: evalRows }, tokenizer, {
      textColumn: opts.text_column as string | undefined,
      textPairColumn: opts.text_pair_column as string | undefined,
      labelColumn: opts.label_column as string | undefined,
      maxLength,
      docStride: opts.doc_stride as number | undefined,
      ...(numLabels !== undefined ? { numLabels } : {}),
      ...(problemType ? { problemType } : {}),
      ...(config && namesItsLabels(config) ? { modelLabel2id: config.label2id } : {}),
      ...(trainSource ? { trainSource } : {}),
      ...(evalSource ? { evalSource } : {}),
      ...(need.predict ? { evalUnlabelled: true } : {}),
      ...seq2seqOptions(opts, config),
    });
  } catch (e) {
    // a recipe's complaint about the data is a usage error (fix the flags or the file)
    if (e instanceof ConfigError) throw new CliError(e.message);
    throw e;
  }
  return { ...prepared, task, tokenizer, trainRows, evalRows };
}

/** The translation/summarization options of the command line, the model's decoder start (for the collator) and warnings on stderr. */
function seq2seqOptions(opts: Opts, config: BaseConfig | undefined): Partial<TaskOptions> {
  const str = (k: string) => (opts[k] !== undefined && opts[k] !== null ? String(opts[k]) : undefined);
  const num = (k: string) => (opts[k] !== undefined && opts[k] !== null ? Number(opts[k]) : undefined);
  const c = config as unknown as { decoderStartTokenId?: number | null; padTokenId: number | null } | undefined;
  const out: Partial<TaskOptions> = {
    warn: (m) => {
      if (isMainProcess()) process.stderr.write(`peft-ts: warning: ${m}\n`);
    },
  };
  const set = <K extends keyof TaskOptions>(k: K, v: TaskOptions[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set("sourceLang", str("source_lang"));
  set("targetLang", str("target_lang"));
  set("targetColumn", str("summary_column"));
  set("sourcePrefix", str("source_prefix"));
  set("maxSourceLength", num("max_source_length"));
  set("maxTargetLength", num("max_target_length"));
  if (c && c.decoderStartTokenId !== undefined) out.decoderStart = { decoderStartTokenId: c.decoderStartTokenId, padTokenId: c.padTokenId };
  return out;
}

/** Whether a config names its labels (HF's default id2label is LABEL_0 … LABEL_{n-1}, which names nothing). */
export function namesItsLabels(config: BaseConfig): boolean {
  return Object.entries(config.id2label).some(([id, name]) => name !== `LABEL_${id}`);
}

/** Label count saved in an adapter's head (classifier/score weight rows), if any. */
export function adapterNumLabels(adapterDir: string): number | undefined {
  const file = join(adapterDir, "adapter_model.safetensors");
  if (!existsSync(file)) return undefined;
  const { tensors } = readSafetensorsHeader(file);
  for (const [name, e] of tensors) {
    if (/(^|\.)(classifier|score)(\.modules_to_save\.[^.]+)?\.weight$/.test(name) || /(^|\.)(classifier|score)\.(out_proj\.)?weight$/.test(name)) return e.shape[0];
  }
  return undefined;
}

/** The loading options the command line sets (--ignore_mismatched_sizes), besides the labels. */
export function modelLoadOptions(opts: Opts): ModelLoadOptions {
  const quant = quantizationConfigOf(opts);
  return { ...(opts.ignore_mismatched_sizes ? { ignoreMismatchedSizes: true } : {}), ...(quant ? { quantizationConfig: quant } : {}) };
}

/** --load_in_8bit / --load_in_4bit and the bnb_4bit_* flags as a BitsAndBytesConfig (null when neither is set). */
export function quantizationConfigOf(opts: Opts): BitsAndBytesConfig | null {
  if (!opts.load_in_8bit && !opts.load_in_4bit) {
    for (const k of ["bnb_4bit_quant_type", "bnb_4bit_use_double_quant", "bnb_4bit_compute_dtype", "llm_int8_skip_modules"]) {
      if (opts[k] !== undefined) throw new CliError(`--${k} needs --load_in_4bit or --load_in_8bit`);
    }
    return null;
  }
  try {
    return BitsAndBytesConfig.fromDict(Object.fromEntries(QUANT_OPTS.map((o) => [o.name, opts[o.name]]).filter(([, v]) => v !== undefined)), "quantization flags");
  } catch (e) {
    // the library names HF's fields; the command line has them as flags
    throw new CliError((e as Error).message.replace(/^quantization flags: /, "").replace(/(?:field ')?\b(load_in_[48]bit|bnb_4bit_\w+|llm_int8_\w+)\b'?/g, "--$1"));
  }
}

/** Base model for --model_name_or_path with the task head, and the adapter (if --adapter) on top. */
export async function loadModelWithAdapter(opts: Opts, labels: LabelInfo = {}): Promise<{ dir: string; task: Task; base: PreTrainedModel; model: PreTrainedModel | PeftModel }> {
  const dir = modelDir(opts);
  const task = resolveTask(opts, dir);
  const adapter = optionalFile(opts, "adapter", "adapter folder");
  const fromAdapter = adapter ? adapterNumLabels(adapter) : undefined;
  const numLabels = (opts.num_labels as number | undefined) ?? fromAdapter ?? labels.numLabels;
  const problemType = opts.problem_type as ProblemType | undefined;
  const base = await task.loadModel(dir, { ...labels, ...(numLabels ? { numLabels } : {}), ...(problemType ? { problemType } : {}) }, modelLoadOptions(opts));
  const model = await loadAdapter(base, opts);
  model.eval();
  return { dir, task, base, model };
}

/**
 * Multi-task training rows (config key `tasks`, causal-lm): each task is a file; rows of a
 * labelled file become instructions {instruction, input: text, output: label name}, rows of an
 * instruction file are used as they are. The mixture is shuffled with the seed.
 */
export async function multitaskRows(opts: Opts, task: Task): Promise<Dataset<Row>> {
  const tasks = opts.tasks;
  if (!task.instructionRows) throw new CliError(`'tasks' (multi-task training) mixes instruction data and needs a task trained on instructions (${taskNames().filter((n) => getTask(n).instructionRows).join(", ")}), got ${task.name}`);
  if (!Array.isArray(tasks) || tasks.length === 0) throw new CliError("'tasks' must be a list of {train_file, …} entries");
  let all: Row[] = [];
  for (const [k, t] of (tasks as Record<string, unknown>[]).entries()) {
    if (!t || typeof t !== "object") throw new CliError(`tasks[${k}] must be a mapping with train_file`);
    const file = t.train_file;
    if (typeof file !== "string") throw new CliError(`tasks[${k}].train_file is required`);
    if (!existsSync(file)) throw new CliError(`tasks[${k}].train_file: file not found: ${file}`);
    const rows = await readRows(file, { filter: t.filter }, t.max_train_samples as number | undefined);
    const name = String(t.name ?? `task${k}`);
    if (t.instruction !== undefined) {
      const textCol = String(t.text_column ?? "sentence");
      const labelCol = String(t.label_column ?? "label");
      const names = (t.labels ?? {}) as Record<string, string>;
      for (const c of [textCol, labelCol]) if (!rows.columns.includes(c)) throw new CliError(`tasks[${k}] (${name}): no column '${c}' in ${file} (columns: ${rows.columns.join(", ")})`);
      all = all.concat(rows.toArray().map((r) => ({ instruction: String(t.instruction), input: String(r[textCol]).trim(), output: names[String(r[labelCol])] ?? String(r[labelCol]), task: name })));
    } else {
      if (!rows.columns.includes("instruction") && !rows.columns.includes("messages")) throw new CliError(`tasks[${k}] (${name}): ${file} has no instruction/messages column; give 'instruction' + text_column/label_column to turn labelled rows into instructions`);
      all = all.concat(rows.toArray().map((r) => ({ ...r, task: name })));
    }
  }
  return new Dataset(all).shuffle((opts.seed as number | undefined) ?? 0);
}
