// A task is one typed recipe: which head the model gets, how rows become features, which
// collator pads them, how labels are read, which metrics are computed, how predictions are
// decoded and how evaluation runs. The CLI and library users look tasks up by name in
// tasks/registry.ts; adding a task is one file that calls registerTask plus one import line in
// tasks/all.ts.

import type { Module } from "../../nn/module.js";
import type { PreTrainedModel } from "../../models/modeling_utils.js";
import type { TaskType } from "../../peft/index.js";
import type { Dataset, Row } from "../datasets.js";
import type { Features, PaddedBatch } from "../collate.js";
import type { TaskTokenizer } from "./types.js";
import type { ProcessGroup } from "../../dist/process_group.js";
import type { ProblemType } from "../../io/hf_config.js";
import { ConfigError } from "../../tensor/errors.js";
import type { BitsAndBytesConfig } from "../../quant/bnb_config.js";

/** How a task's model is loaded besides its label set (passed on to fromPretrained). */
export interface ModelLoadOptions {
  /** Split the model over this group's ranks (tensor parallelism; `parallelLayout(world, K).tp`). */
  tensorParallel?: ProcessGroup;
  /** HF's ignore_mismatched_sizes: checkpoint tensors of another shape (a head of another size) are newly initialised. */
  ignoreMismatchedSizes?: boolean;
  /** transformers' quantization_config: 8-bit / 4-bit frozen base (models/quantize.ts). */
  quantizationConfig?: BitsAndBytesConfig;
}

/** Class names and ids of a classification head (what the model's config records). */
export interface LabelInfo {
  numLabels?: number;
  id2label?: Record<number, string>;
  label2id?: Record<string, number>;
  /** HF problem_type of a sequence-classification head (regression: MSE on one output). */
  problemType?: ProblemType;
}

/** What a recipe reads besides the rows (HF script argument names, camelCase). */
export interface TaskOptions {
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  /** Truncate (or, for packed text, cut blocks) to this many tokens. */
  maxLength?: number;
  numLabels?: number;
  /** QA: overlap between context windows. */
  docStride?: number;
  /** Sequence classification: HF problem_type (default single_label_classification; regression when numLabels is 1). */
  problemType?: ProblemType;
  /** Label names the model config fixes (its label2id when it is not HF's default LABEL_i). */
  modelLabel2id?: Record<string, number>;
  /** The files the rows come from (for messages; default "training rows" / "evaluation rows"). */
  trainSource?: string;
  evalSource?: string;
  /** The evaluation rows are to be predicted, not scored: they need no labels. */
  evalUnlabelled?: boolean;
  /** Seq2seq (translation/summarization): language keys of `translation` rows, or the source/target columns. */
  sourceLang?: string;
  targetLang?: string;
  /** Seq2seq: the target column (run_summarization's summary_column); the source is textColumn. */
  targetColumn?: string;
  /** Seq2seq: text put before every source (T5's "translate English to German: "). */
  sourcePrefix?: string;
  maxSourceLength?: number;
  maxTargetLength?: number;
  /** Seq2seq: the model's decoder start and pad ids, so the collator makes decoder_input_ids from labels. */
  decoderStart?: { decoderStartTokenId: number | null; padTokenId: number | null };
  /** Where data notices (truncated targets) go; default console.warn. */
  warn?: (msg: string) => void;
}

/** A collator as the Trainer takes it. */
export interface TaskCollator {
  call(features: Features[]): PaddedBatch;
}

/** HF compute_metrics: predictions and label ids in, metrics without the eval_ prefix out. */
export type TaskMetrics = (p: { predictions: unknown; labelIds: unknown }) => Record<string, number>;

/** A task's rows turned into what the Trainer needs. */
export interface PreparedTask {
  labels: LabelInfo;
  trainDataset?: Dataset<Features>;
  evalDataset?: Dataset<Features>;
  collator: TaskCollator;
  computeMetrics?: TaskMetrics;
  /** One output row per prediction (predict); absent for tasks that generate instead. */
  decode?: (predictions: unknown) => Row[];
  /**
   * What the last computeMetrics found, for tasks whose report needs more than the Trainer's
   * eval_predictions.json (QA: answer lengths in words); numbers only, no example text.
   */
  evalReport?: () => Record<string, unknown> | undefined;
}

/** The slice of the Trainer an evaluation hook uses (src/train's Trainer satisfies it). */
export interface TaskEvaluator {
  model: Module;
  evaluate(): Promise<Record<string, number>>;
  predict(dataset: Dataset<Features>, opts: { metricKeyPrefix?: string }): Promise<{ predictions: unknown[] }>;
}

export interface Task {
  /** The registry key and --task value ("seq-cls"). */
  readonly name: string;
  readonly description: string;
  /** PEFT's task_type for adapters trained on this task. */
  readonly taskType: TaskType;
  /** Whether the head has a label set (shown and saved as num_labels / id2label). */
  readonly hasLabelSet: boolean;
  /** Matches config.architectures entries of a checkpoint made for this task. */
  readonly architecture: RegExp;
  /** The model with this task's head (`opts`: tensor parallelism, passed to fromPretrained). */
  loadModel(dir: string, labels: LabelInfo, opts?: ModelLoadOptions): Promise<PreTrainedModel>;
  /** Preprocesses the rows (either may be absent) with the tokenizer. */
  prepare(rows: { train?: Dataset<Row>; eval?: Dataset<Row> }, tokenizer: TaskTokenizer, opts: TaskOptions): PreparedTask;
  /** Evaluation beyond trainer.evaluate() (metrics from decoded predictions, a loss-only view, …). */
  evaluate?(trainer: TaskEvaluator, prepared: PreparedTask): Promise<Record<string, unknown>>;
  /** How the --loss target_alignment term reads logits and labels; absent when it does not apply. */
  readonly alignment?: "rows" | "tokens" | "next-token";
  /** Whether rows are instructions (multi-task mixtures of instruction data train this task). */
  readonly instructionRows?: boolean;
}

/** Each named column must be among the rows' columns: a ConfigError naming the source, the column and the columns found. */
export function requireColumns(columns: readonly string[], names: readonly string[], source: string): void {
  for (const c of names) {
    if (!columns.includes(c)) throw new ConfigError(`${source}: column '${c}' not found (columns found: ${columns.join(", ") || "none"})`);
  }
}

/** The model-loading options of a label set (only the fields that are set), quiet. */
export function headOptions(labels: LabelInfo, opts: ModelLoadOptions = {}): { log: (msg: string) => void } & LabelInfo & ModelLoadOptions {
  return {
    log: () => {},
    ...(opts.tensorParallel ? { tensorParallel: opts.tensorParallel } : {}),
    ...(opts.ignoreMismatchedSizes ? { ignoreMismatchedSizes: true } : {}),
    ...(opts.quantizationConfig ? { quantizationConfig: opts.quantizationConfig } : {}),
    ...(labels.numLabels ? { numLabels: labels.numLabels } : {}),
    ...(labels.id2label ? { id2label: labels.id2label } : {}),
    ...(labels.label2id ? { label2id: labels.label2id } : {}),
    ...(labels.problemType ? { problemType: labels.problemType } : {}),
  };
}
