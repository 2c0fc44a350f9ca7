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
  /** Multi-label: number of classes (default the size of label2id). */
  numLabels?: number;
  maxLength?: number;
  /** Default true when maxLength is set. */
  truncation?: boolean;
}

/** Encodes one label value for the problem type. */
export function encodeLabel(value: unknown, problemType: ProblemType, label2id: Record<string, number> | null, numLabels: number | null, where: string): number | number[] {
  if (problemType === "regression") {
    const x = typeof value === "number" ? value : Number(value);
    if (!Number.isFinite(x)) throw new ConfigError(`${where}: regression label ${JSON.stringify(value)} is not a number`);
    return x;
  }
  const toId = (v: unknown): number => {
    if (label2id) {
      const id = label2id[String(v)];
      if (id === undefined) throw new ConfigError(`${where}: label ${JSON.stringify(v)} is not in label2id (${Object.keys(label2id).join(", ")})`);
      return id;
    }
    if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
    throw new ConfigError(`${where}: label ${JSON.stringify(v)} is not a class id; pass label2id`);
  };
  if (problemType === "single_label_classification") return toId(value);
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

/**
 * Tokenizes a text (or text pair) column and encodes labels. Rows become
 * {inputIds, attentionMask, tokenTypeIds, labels}; padding is left to the collator.
 */
export function preprocessSeqCls(ds: Dataset<Row>, tokenizer: TaskTokenizer, opts: SeqClsOptions = {}): Dataset<Features> {
  const cols = ds.columns;
  const textCol = opts.textColumn ?? (cols.includes("sentence") ? "sentence" : cols.includes("text") ? "text" : cols.includes("sentence1") ? "sentence1" : undefined);
  if (!textCol || !cols.includes(textCol)) throw new ConfigError(`preprocessSeqCls: text column '${textCol ?? "?"}' not found (columns: ${cols.join(", ")})`);
  const pairCol = opts.textPairColumn ?? (textCol === "sentence1" && cols.includes("sentence2") ? "sentence2" : undefined);
  if (pairCol && !cols.includes(pairCol)) throw new ConfigError(`preprocessSeqCls: pair column '${pairCol}' not found (columns: ${cols.join(", ")})`);
  const labelCol = opts.labelColumn ?? (cols.includes("label") ? "label" : cols.includes("labels") ? "labels" : cols.includes("score") ? "score" : undefined);
  const hasLabels = labelCol !== undefined && cols.includes(labelCol);
  const problemType = opts.problemType ?? "single_label_classification";
  let label2id = opts.label2id ?? null;
  if (hasLabels && !label2id && problemType !== "regression") {
    const vals = ds.column(labelCol!);
    const flat = vals.flatMap((v) => (Array.isArray(v) ? v : [v]));
    const intIds = flat.every((v) => typeof v === "number" && Number.isInteger(v) && v >= 0);
    const zeroOne = problemType === "multi_label_classification" && vals.every((v) => Array.isArray(v) && v.every((x) => x === 0 || x === 1)) && opts.numLabels !== undefined;
    if (!intIds && !zeroOne) label2id = buildLabel2Id(vals);
  }
  const truncation = opts.truncation ?? opts.maxLength !== undefined;
  return ds.map((row, i) => {
    const text = row[textCol];
    if (typeof text !== "string") throw new ConfigError(`preprocessSeqCls: row ${i} column '${textCol}' is not a string`);
    const enc = tokenizer.call([text], {
      textPair: pairCol ? [String(row[pairCol])] : undefined,
      truncation: truncation ? "longest_first" : false,
      maxLength: opts.maxLength,
    });
    const f: Features = { inputIds: enc.inputIds[0], attentionMask: enc.attentionMask[0], tokenTypeIds: enc.tokenTypeIds[0] };
    if (hasLabels) f.labels = encodeLabel(row[labelCol!], problemType, label2id, opts.numLabels ?? null, `preprocessSeqCls row ${i}`);
    return f;
  });
}
