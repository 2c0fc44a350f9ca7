// What the train/eval/predict/distill commands share: loading the tokenizer and the model with
// the task's head, reading and preprocessing the data files, the collator and the metrics of a
// task, and the PEFT config built from the --peft flags.

import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "./errors.js";
import { Opts, isExplicit, optionalFile, requireFile } from "./resolve.js";
import type { CliTask, PeftMethodName } from "./options.js";
import { AutoTokenizer, PreTrainedTokenizer } from "../io/tokenizer.js";
import { loadConfigFile } from "../io/hf_config.js";
import { readSafetensorsHeader } from "../io/safetensors.js";
import {
  AutoModelForCausalLM, AutoModelForQuestionAnswering, AutoModelForSequenceClassification, AutoModelForTokenClassification,
} from "../models/auto.js";
import type { PreTrainedModel } from "../models/modeling_utils.js";
import { Dataset, Row, loadDataset, trainTestSplit } from "../data/datasets.js";
import { DataCollatorForCausalLM, DataCollatorForTokenClassification, DataCollatorWithPadding, Features } from "../data/collate.js";
import { preprocessSeqCls, buildLabel2Id, invertLabelMap } from "../data/tasks/seq_cls.js";
import { preprocessTokenCls, tokenPredictionsToTags, bioLabelList } from "../data/tasks/token_cls.js";
import { prepareQaEvalFeatures, prepareQaTrainFeatures, postprocessQaPredictions, QaFeature } from "../data/tasks/qa.js";
import { preprocessInstructions, packTexts } from "../data/tasks/causal_lm.js";
import { accuracy, argmax, f1Score, seqevalScores, squadScores } from "../data/metrics.js";
import {
  IA3Config, LoraConfig, PeftConfig, PeftModel, PrefixTuningConfig, PromptTuningConfig, getPeftModel, loadPeftConfig,
} from "../peft/index.js";
import type { TaskType } from "../peft/index.js";

export const TASK_TYPE: Record<CliTask, TaskType> = {
  "seq-cls": "SEQ_CLS",
  "token-cls": "TOKEN_CLS",
  qa: "QUESTION_ANS",
  "causal-lm": "CAUSAL_LM",
};
const FROM_TASK_TYPE: Record<string, CliTask> = { SEQ_CLS: "seq-cls", TOKEN_CLS: "token-cls", QUESTION_ANS: "qa", CAUSAL_LM: "causal-lm" };

/** A stage line: what the run is doing now (the Trainer draws its own progress bar). */
export function stage(msg: string): void {
  process.stdout.write(`==> ${msg}\n`);
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
  if (!existsSync(join(tdir, "tokenizer.json"))) {
    throw new CliError(`no tokenizer.json in ${tdir}; pass --tokenizer_name with a folder holding the tokenizer files`);
  }
  return AutoTokenizer.fromPretrained(tdir);
}

/** The task: --task, else the adapter's task_type, else from the model's architecture. */
export function resolveTask(opts: Opts, dir: string): CliTask {
  if (opts.task) return opts.task as CliTask;
  if (opts.adapter) {
    const adapter = String(opts.adapter);
    if (existsSync(join(adapter, "adapter_config.json"))) {
      const tt = loadPeftConfig(adapter, () => {}).taskType;
      if (tt && FROM_TASK_TYPE[tt]) return FROM_TASK_TYPE[tt];
    }
  }
  const cfg = loadConfigFile(dir) as unknown as { architectures?: string[] | null };
  const arch = (cfg.architectures ?? []).join(",");
  if (/SequenceClassification/.test(arch)) return "seq-cls";
  if (/TokenClassification/.test(arch)) return "token-cls";
  if (/QuestionAnswering/.test(arch)) return "qa";
  if (/CausalLM|LMHead/.test(arch)) return "causal-lm";
  throw new CliError(`cannot tell the task of ${dir} (architectures: ${arch || "none"}); pass --task (seq-cls, token-cls, qa, causal-lm)`);
}

export interface LabelInfo {
  numLabels?: number;
  id2label?: Record<number, string>;
  label2id?: Record<string, number>;
}

export async function loadModel(task: CliTask, dir: string, labels: LabelInfo = {}): Promise<PreTrainedModel> {
  const quiet = { log: (_: string) => {} };
  const withLabels = { ...quiet, ...(labels.numLabels ? { numLabels: labels.numLabels } : {}), ...(labels.id2label ? { id2label: labels.id2label } : {}), ...(labels.label2id ? { label2id: labels.label2id } : {}) };
  switch (task) {
    case "seq-cls": return AutoModelForSequenceClassification.fromPretrained(dir, withLabels);
    case "token-cls": return AutoModelForTokenClassification.fromPretrained(dir, withLabels);
    case "qa": return AutoModelForQuestionAnswering.fromPretrained(dir, quiet);
    case "causal-lm": return AutoModelForCausalLM.fromPretrained(dir, quiet);
  }
}

/** The PEFT config of --peft and its fields (null for full fine-tuning). */
export function buildPeftConfig(opts: Opts, task: CliTask, baseModel: string): PeftConfig | null {
  const method = (opts.peft ?? "lora") as PeftMethodName;
  const common = { taskType: TASK_TYPE[task], baseModelNameOrPath: baseModel };
  const list = (v: unknown): string | string[] | null => (v === undefined || v === null ? null : v === "all-linear" ? "all-linear" : (v as string[]));
  const mts = opts.modules_to_save ? (opts.modules_to_save as string[]) : null;
  switch (method) {
    case "none":
      return null;
    case "lora": {
      const init = opts.init_lora_weights;
      return new LoraConfig({
        ...common,
        r: opts.lora_r as number,
        loraAlpha: opts.lora_alpha as number,
        loraDropout: (opts.lora_dropout as number) ?? 0,
        targetModules: list(opts.target_modules),
        modulesToSave: mts,
        ...(opts.bias ? { bias: opts.bias as "none" | "all" | "lora_only" } : {}),
        useRslora: opts.use_rslora === true,
        useDora: opts.use_dora === true,
        ...(init !== undefined ? { initLoraWeights: init === "true" ? true : init === "false" ? false : (init as "gaussian" | "pissa") } : {}),
      });
    }
    case "ia3":
      return new IA3Config({ ...common, targetModules: list(opts.target_modules), feedforwardModules: list(opts.feedforward_modules), modulesToSave: mts });
    case "prompt":
      return new PromptTuningConfig({
        ...common,
        numVirtualTokens: opts.num_virtual_tokens as number,
        ...(opts.prompt_tuning_init ? { promptTuningInit: opts.prompt_tuning_init as "RANDOM" | "TEXT" | "SAMPLE_VOCAB" } : {}),
        ...(opts.prompt_tuning_init_text ? { promptTuningInitText: String(opts.prompt_tuning_init_text), tokenizerNameOrPath: baseModel } : {}),
      });
    case "prefix":
      return new PrefixTuningConfig({
        ...common,
        numVirtualTokens: opts.num_virtual_tokens as number,
        prefixProjection: opts.prefix_projection === true,
        ...(opts.encoder_hidden_size ? { encoderHiddenSize: opts.encoder_hidden_size as number } : {}),
      });
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

export interface TaskData {
  task: CliTask;
  tokenizer: PreTrainedTokenizer;
  labels: LabelInfo;
  trainRows?: Dataset<Row>;
  evalRows?: Dataset<Row>;
  trainDataset?: Dataset<Features>;
  evalDataset?: Dataset<Features>;
  collator: { call(features: Features[]): unknown };
  /** HF compute_metrics: (predictions, label ids) → metrics without the eval_ prefix. */
  computeMetrics?: (p: { predictions: unknown; labelIds: unknown }) => Record<string, number>;
  /** Turns raw predictions into printable rows (predict). */
  decode?: (predictions: unknown) => Row[];
}

/** Nested number arrays from a Tensor, an array of Tensors/arrays or a typed array. */
export function nested(x: unknown): number[][] {
  if (x === null || x === undefined) return [];
  const t = x as { toArray?: () => unknown };
  if (typeof t.toArray === "function" && !Array.isArray(x)) return t.toArray() as number[][];
  if (Array.isArray(x)) return x.map((r) => (typeof (r as { toArray?: () => unknown }).toArray === "function" ? (r as { toArray: () => number[] }).toArray() : ArrayBuffer.isView(r) ? Array.from(r as Float32Array) : (r as number[])));
  throw new CliError(`unexpected prediction format (${typeof x})`);
}

/** Loads and preprocesses --train_file/--validation_file for a task. */
export async function prepareData(task: CliTask, tokenizer: PreTrainedTokenizer, opts: Opts, need: { train: boolean; eval: boolean; evalFile?: string; modelDir?: string }): Promise<TaskData> {
  let maxLength = opts.max_length as number | undefined;
  // the default max_length never exceeds what the model can position
  if (need.modelDir && !isExplicit(opts, "max_length") && maxLength !== undefined) {
    const mpe = (loadConfigFile(need.modelDir) as unknown as { maxPositionEmbeddings?: number }).maxPositionEmbeddings;
    if (mpe && mpe < maxLength) maxLength = mpe;
  }
  let trainRows: Dataset<Row> | undefined;
  let evalRows: Dataset<Row> | undefined;
  if (need.train && opts.tasks !== undefined) trainRows = await multitaskRows(opts, task);
  else if (need.train) trainRows = await readRows(requireFile(opts, "train_file", "training file"), opts, opts.max_train_samples as number | undefined);
  const evalName = need.evalFile ?? "validation_file";
  const evalPath = need.eval ? optionalFile(opts, evalName, "evaluation file") : null;
  if (evalPath) evalRows = await readRows(evalPath, opts, opts.max_eval_samples as number | undefined);
  else if (need.eval && opts.validation_split_percentage && trainRows) {
    const pct = Number(opts.validation_split_percentage);
    const { train, test } = trainTestSplit(trainRows, { testSize: pct / 100, seed: 0 });
    trainRows = train;
    evalRows = opts.max_eval_samples ? test.select([...Array(Math.min(test.length, opts.max_eval_samples as number)).keys()]) : test;
  } else if (need.eval && !need.train) {
    throw new CliError(`--${evalName} is required (labelled rows to evaluate)`);
  }
  const data: TaskData = { task, tokenizer, labels: {}, trainRows, evalRows, collator: new DataCollatorWithPadding(tokenizer) };
  switch (task) {
    case "seq-cls": {
      const labelCol = (opts.label_column as string) ?? "label";
      const all = [...(trainRows ? trainRows.column(labelCol) : []), ...(evalRows && evalRows.columns.includes(labelCol) ? evalRows.column(labelCol) : [])];
      const intLabels = all.every((v) => typeof v === "number" && Number.isInteger(v) && v >= 0);
      let label2id: Record<string, number> | undefined;
      let numLabels = opts.num_labels as number | undefined;
      if (all.length > 0 && !intLabels) label2id = buildLabel2Id(all);
      if (!numLabels) numLabels = label2id ? Object.keys(label2id).length : all.length > 0 ? Math.max(1, ...(all as number[])) + 1 : 2;
      const id2label = label2id ? invertLabelMap(label2id) : undefined;
      data.labels = { numLabels, ...(label2id ? { label2id, id2label } : {}) };
      const pre = (ds: Dataset<Row>) => preprocessSeqCls(ds, tokenizer, {
        textColumn: opts.text_column as string | undefined, textPairColumn: opts.text_pair_column as string | undefined,
        labelColumn: opts.label_column as string | undefined, maxLength, ...(label2id ? { label2id } : {}),
      });
      if (trainRows) data.trainDataset = pre(trainRows);
      if (evalRows) data.evalDataset = pre(evalRows);
      data.computeMetrics = ({ predictions, labelIds }) => {
        const pred = argmax(nested(predictions));
        const gold = (Array.isArray(labelIds) ? labelIds : nested(labelIds)) as number[];
        const out: Record<string, number> = { accuracy: accuracy(gold.map(Number), pred) };
        if (numLabels === 2) out.f1 = f1Score(gold.map(Number), pred);
        return out;
      };
      data.decode = (predictions) => argmax(nested(predictions)).map((k, i) => ({ index: i, label: id2label ? id2label[k] : k }));
      break;
    }
    case "token-cls": {
      const tagCol = (opts.label_column as string) ?? "tags";
      const tagRows = [...(trainRows ?? []), ...(evalRows ?? [])].map((r) => r[tagCol]).filter(Array.isArray) as string[][];
      const labelList = bioLabelList(tagRows);
      const label2id = Object.fromEntries(labelList.map((l, i) => [l, i]));
      data.labels = { numLabels: labelList.length, label2id, id2label: invertLabelMap(label2id) };
      const pre = (ds: Dataset<Row>) => preprocessTokenCls(ds, tokenizer, { labelList, maxLength, tagsColumn: opts.label_column as string | undefined, tokensColumn: opts.text_column as string | undefined }).dataset
        .map((f) => {
          const { wordIds: _w, ...rest } = f;
          return rest as Features;
        });
      if (trainRows) data.trainDataset = pre(trainRows);
      if (evalRows) data.evalDataset = pre(evalRows);
      data.collator = new DataCollatorForTokenClassification(tokenizer);
      data.computeMetrics = ({ predictions, labelIds }) => {
        const logits = predictions as unknown;
        const rows = nested3(logits).map((seq) => seq.map((v) => argmaxRow(v)));
        const gold = nested(labelIds);
        const { yTrue, yPred } = tokenPredictionsToTags(rows, gold, labelList);
        const s = seqevalScores(yTrue, yPred);
        return { precision: s.precision, recall: s.recall, f1: s.f1, accuracy: s.accuracy };
      };
      break;
    }
    case "qa": {
      const docStride = (opts.doc_stride as number) ?? 32;
      const ml = maxLength ?? 128;
      if (trainRows) data.trainDataset = stripQa(prepareQaTrainFeatures(trainRows, tokenizer, { maxLength: ml, docStride }), true);
      if (evalRows) {
        // eval features carry start/end positions too, so the Trainer reports eval_loss; offsets stay here
        const evalFeats = prepareQaEvalFeatures(evalRows, tokenizer, { maxLength: ml, docStride });
        const trainLike = prepareQaTrainFeatures(evalRows, tokenizer, { maxLength: ml, docStride });
        data.evalDataset = stripQa(trainLike, true);
        const rows = evalRows;
        data.computeMetrics = ({ predictions }) => {
          const [start, end] = qaLogits(predictions);
          const { predictions: preds } = postprocessQaPredictions(rows, evalFeats, start, end);
          const refs = rows.toArray().map((r, i) => ({ id: String(r.id ?? i), answers: (r.answers?.text ?? []) as string[] }));
          const s = squadScores(preds, refs);
          return { exact_match: s.exactMatch, f1: s.f1 };
        };
        data.decode = (predictions) => {
          const [start, end] = qaLogits(predictions);
          const { predictions: preds } = postprocessQaPredictions(rows, evalFeats, start, end);
          return Object.entries(preds).map(([id, answer]) => ({ id, answer }));
        };
      }
      break;
    }
    case "causal-lm": {
      const pre = (ds: Dataset<Row>): Dataset<Features> => {
        const cols = ds.columns;
        if (cols.includes("instruction") || cols.includes("messages")) {
          return preprocessInstructions(ds, tokenizer, { maxLength: maxLength ?? 256 });
        }
        const textCol = (opts.text_column as string) ?? "text";
        if (!cols.includes(textCol)) throw new CliError(`causal-lm data needs 'instruction'/'output', 'messages' or a '${textCol}' column (found: ${cols.join(", ")}); set --text_column`);
        return packTexts(ds, tokenizer, { blockSize: maxLength ?? 128, textColumn: textCol });
      };
      if (trainRows) data.trainDataset = pre(trainRows);
      if (evalRows) data.evalDataset = pre(evalRows);
      if (data.trainDataset && data.trainDataset.length === 0) throw new CliError(`--train_file: no training sequences (texts shorter than --max_length ${maxLength}?)`);
      data.collator = new DataCollatorForCausalLM(tokenizer);
      break;
    }
  }
  return data;
}

function stripQa(ds: Dataset<QaFeature>, keepPositions: boolean): Dataset<Features> {
  return ds.map((f) => {
    const out: Features = { inputIds: f.inputIds, attentionMask: f.attentionMask, tokenTypeIds: f.tokenTypeIds };
    if (keepPositions) {
      out.startPositions = f.startPositions;
      out.endPositions = f.endPositions;
    }
    return out;
  });
}

function argmaxRow(v: number[]): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** [B][T][C] arrays from a Tensor or a list of per-batch arrays. */
function nested3(x: unknown): number[][][] {
  const t = x as { toArray?: () => unknown };
  if (typeof t?.toArray === "function" && !Array.isArray(x)) return t.toArray() as number[][][];
  if (Array.isArray(x)) return x.map((r) => (typeof (r as { toArray?: () => unknown }).toArray === "function" ? (r as { toArray: () => number[][] }).toArray() : (r as number[][])));
  throw new CliError(`unexpected token-classification prediction format (${typeof x})`);
}

/** QA predictions as [startLogits rows, endLogits rows] (a pair, or an object with startLogits/endLogits). */
function qaLogits(p: unknown): [number[][], number[][]] {
  // the Trainer's format: one [startLogits, endLogits] pair per feature
  if (Array.isArray(p) && p.every((x) => Array.isArray(x) && x.length === 2 && Array.isArray(x[0]))) {
    return [p.map((x) => (x as number[][])[0]), p.map((x) => (x as number[][])[1])];
  }
  if (Array.isArray(p) && p.length === 2) return [nested(p[0]), nested(p[1])];
  const o = p as { startLogits?: unknown; endLogits?: unknown };
  if (o && o.startLogits !== undefined) return [nested(o.startLogits), nested(o.endLogits)];
  throw new CliError("question answering: the predictions hold no start/end logits");
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

/** Base model for --model_name_or_path with the task head, and the adapter (if --adapter) on top. */
export async function loadModelWithAdapter(opts: Opts, labels: LabelInfo = {}): Promise<{ dir: string; task: CliTask; base: PreTrainedModel; model: PreTrainedModel | PeftModel }> {
  const dir = modelDir(opts);
  const task = resolveTask(opts, dir);
  const adapter = optionalFile(opts, "adapter", "adapter folder");
  const fromAdapter = adapter ? adapterNumLabels(adapter) : undefined;
  const numLabels = (opts.num_labels as number | undefined) ?? fromAdapter ?? labels.numLabels;
  const base = await loadModel(task, dir, { ...labels, ...(numLabels ? { numLabels } : {}) });
  const model = await loadAdapter(base, opts);
  model.eval();
  return { dir, task, base, model };
}

/**
 * Multi-task training rows (config key `tasks`, causal-lm): each task is a file; rows of a
 * labelled file become instructions {instruction, input: text, output: label name}, rows of an
 * instruction file are used as they are. The mixture is shuffled with the seed.
 */
export async function multitaskRows(opts: Opts, task: CliTask): Promise<Dataset<Row>> {
  const tasks = opts.tasks;
  if (task !== "causal-lm") throw new CliError(`'tasks' (multi-task training) needs task: causal-lm, got ${task}`);
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
