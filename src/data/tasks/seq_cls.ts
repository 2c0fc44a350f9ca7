// Sequence classification preprocessing: single sentences or pairs, with single-label,
// multi-label (multi-hot float vectors) or regression (float) labels.

import { ConfigError } from "../../tensor/errors.js";
import { Dataset, Row } from "../datasets.js";
import type { Features } from "../collate.js";
import type { TaskTokenizer } from "./types.js";
import type { ProblemType } from "../../io/hf_config.js";

/** label → id over the distinct values, sorted (numbers numerically, strings lexically), as HF's run_glue does. */
export function buildLabel2Id(values: Iterable<unknown>): Record<string, number> {
  const flat: unknown[] = [];
  for (const v of values) if (Array.isArray(v)) flat.push(...v); else flat.push(v);
  const uniq = [...new Set(flat.map((v) => String(v)))];
  const allNum = uniq.every((u) => u !== "" && Number.isFinite(Number(u)));
  uniq.sort(allNum ? (a, b) => Number(a) - Number(b) : undefined);
  return Object.fromEntries(uniq.map((u, i) => [u, i]));
}

export function invertLabelMap(label2id: Record<string, number>): Record<number, string> {
  return Object.fromEntries(Object.entries(label2id).map(([k, v]) => [v, k]));
}

export interface SeqClsOptions {
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  problemType?: ProblemType;
  /** Maps label values (as strings) to ids. Default: integer labels are used as is; others get buildLabel2Id. */
  label2id?: Record<string, number>;
  /** Number of classes: integer class ids must lie below it; multi-label vectors have this length. */
  numLabels?: number;
  maxLength?: number;
  /** Default true when maxLength is set. */
  truncation?: boolean;
  /** Where the rows come from (a file name), for messages. */
  source?: string;
  /** The label column must be present (training and evaluation rows; not prediction rows). */
  requireLabels?: boolean;
}

/** The columns of a sequence-classification dataset: text, optional pair, label (undefined when absent). */
export interface SeqClsColumns {
  textCol: string;
  pairCol?: string;
  labelCol?: string;
}

/**
 * Resolves the text/pair/label columns against the dataset's columns (defaults: sentence, text or
 * sentence1 + sentence2; label, labels or score). A named column that is missing, a missing text
 * column, or (requireLabels) a missing label column is a ConfigError naming the source and the columns found.
 */
export function seqClsColumns(columns: readonly string[], opts: Pick<SeqClsOptions, "textColumn" | "textPairColumn" | "labelColumn" | "requireLabels">, source = "dataset"): SeqClsColumns {
  const found = `columns found: ${columns.join(", ") || "none"}`;
  const has = (c: string) => columns.includes(c);
  const textCol = opts.textColumn ?? ["sentence", "text", "sentence1"].find(has);
  if (textCol === undefined) throw new ConfigError(`${source}: no text column (sentence, text or sentence1; ${found}); pass --text_column`);
  if (!has(textCol)) throw new ConfigError(`${source}: text column '${textCol}' not found (${found})`);
  const pairCol = opts.textPairColumn ?? (textCol === "sentence1" && has("sentence2") ? "sentence2" : undefined);
  if (pairCol !== undefined && !has(pairCol)) throw new ConfigError(`${source}: text pair column '${pairCol}' not found (${found})`);
  const labelCol = opts.labelColumn ?? ["label", "labels", "score"].find(has);
  if (opts.requireLabels && (labelCol === undefined || !has(labelCol))) {
    throw new ConfigError(`${source}: label column '${labelCol ?? opts.labelColumn ?? "label"}' not found (${found}); pass --label_column`);
  }
  return { textCol, ...(pairCol !== undefined ? { pairCol } : {}), ...(labelCol !== undefined && has(labelCol) ? { labelCol } : {}) };
}

/** Encodes one label value for the problem type; `where` names the row in messages ("train.tsv row 3"). */
export function encodeLabel(value: unknown, problemType: ProblemType, label2id: Record<string, number> | null, numLabels: number | null, where: string): number | number[] {
  if (problemType === "regression") {
    const x = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
    if (!Number.isFinite(x)) throw new ConfigError(`${where}: regression label ${JSON.stringify(value)} is not a number`);
    return x;
  }
  const toId = (v: unknown): number => {
    if (label2id) {
      const id = label2id[String(v)];
      if (id === undefined) throw new ConfigError(`${where}: label ${JSON.stringify(v)} is not one of the ${Object.keys(label2id).length} labels (${labelList(Object.keys(label2id))})`);
      return id;
    }
    if (typeof v === "number" && Number.isInteger(v) && v >= 0) {
      if (numLabels !== null && v >= numLabels) throw new ConfigError(`${where}: label ${v} is not a class id below num_labels ${numLabels}`);
      return v;
    }
    if (typeof v === "number" && Number.isFinite(v)) {
      throw new ConfigError(`${where}: label ${v} is not a class (a float label on a classification task); for a numeric target use problem_type regression (--problem_type regression)`);
    }
    throw new ConfigError(`${where}: label ${JSON.stringify(v)} is not a class id; pass label2id`);
  };
  if (problemType === "single_label_classification") {
    if (Array.isArray(value)) throw new ConfigError(`${where}: label ${JSON.stringify(value)} is a list; for several labels per row use problem_type multi_label_classification`);
    return toId(value);
  }
  // multi-label: a list of labels → multi-hot; a 0/1 vector of length numLabels is kept as floats
  if (!Array.isArray(value)) throw new ConfigError(`${where}: multi-label label must be an array, got ${JSON.stringify(value)}`);
  const n = numLabels ?? (label2id ? Object.keys(label2id).length : null);
  if (n === null) throw new ConfigError(`${where}: multi-label needs numLabels or label2id`);
  if (!label2id && value.length === n && value.every((v) => v === 0 || v === 1)) return value.map(Number);
  const hot = new Array<number>(n).fill(0);
  for (const v of value) {
    const id = toId(v);
    if (id >= n) throw new ConfigError(`${where}: label id ${id} >= numLabels ${n}`);
    hot[id] = 1;
  }
  return hot;
}

/** The first labels of a label set, for messages. */
function labelList(names: string[]): string {
  return names.length > 10 ? `${names.slice(0, 10).join(", ")}, …` : names.join(", ");
}

/**
 * Tokenizes a text (or text pair) column and encodes labels. Rows become
 * {inputIds, attentionMask, tokenTypeIds, labels}; padding is left to the collator.
 */
export function preprocessSeqCls(ds: Dataset<Row>, tokenizer: TaskTokenizer, opts: SeqClsOptions = {}): Dataset<Features> {
  const source = opts.source ?? "preprocessSeqCls";
  const { textCol, pairCol, labelCol } = seqClsColumns(ds.columns, opts, source);
  const problemType = opts.problemType ?? "single_label_classification";
  let label2id = opts.label2id ?? null;
  if (labelCol !== undefined && !label2id && problemType !== "regression") {
    const vals = ds.column(labelCol);
    const flat = vals.flatMap((v) => (Array.isArray(v) ? v : [v]));
    const ids = flat.every((v) => typeof v === "number" && Number.isInteger(v) && v >= 0);
    // float labels are not classes: encodeLabel rejects them (suggesting regression)
    const floats = flat.some((v) => typeof v === "number" && !Number.isInteger(v));
    const zeroOne = problemType === "multi_label_classification" && vals.every((v) => Array.isArray(v) && v.every((x) => x === 0 || x === 1)) && opts.numLabels !== undefined;
    if (!ids && !floats && !zeroOne) label2id = buildLabel2Id(vals);
  }
  const truncation = opts.truncation ?? opts.maxLength !== undefined;
  return ds.map((row, i) => {
    const text = row[textCol];
    if (typeof text !== "string") throw new ConfigError(`${source} row ${i}: column '${textCol}' is not a string (got ${JSON.stringify(text)})`);
    const enc = tokenizer.call([text], {
      textPair: pairCol ? [String(row[pairCol])] : undefined,
      truncation: truncation ? "longest_first" : false,
      maxLength: opts.maxLength,
    });
    const f: Features = { inputIds: enc.inputIds[0], attentionMask: enc.attentionMask[0], tokenTypeIds: enc.tokenTypeIds[0] };
    if (labelCol !== undefined) f.labels = encodeLabel(row[labelCol], problemType, label2id, opts.numLabels ?? null, `${source} row ${i}`);
    return f;
  });
}
