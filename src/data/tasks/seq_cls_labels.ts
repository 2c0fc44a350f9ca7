// The label set of a sequence-classification run, decided once from the training split as HF's
// run_glue / run_classification do (or from what the model config or --num_labels already fix),
// never from the evaluation rows when training rows exist: an evaluation label outside the set is
// then an error of the preprocessing (encodeLabel), not a silently added class.

import { ConfigError } from "../../tensor/errors.js";
import type { ProblemType } from "../../io/hf_config.js";
import type { Dataset, Row } from "../datasets.js";
import { buildLabel2Id, invertLabelMap } from "./seq_cls.js";

/** What fixes the label set before the rows are read. */
export interface GivenLabels {
  /** --num_labels (or the count of the model's named labels). */
  numLabels?: number;
  /** The model config's label names (only when they are not HF's default LABEL_i). */
  label2id?: Record<string, number>;
  problemType?: ProblemType;
}

/** The rows the label set is read from, with the file they came from (for messages). */
export interface LabelRows {
  rows: Dataset<Row>;
  source: string;
  labelCol: string;
  /** The rows are evaluation rows (no training split): their names must cover a given num_labels. */
  evaluation?: boolean;
}

export interface SeqClsLabelSet {
  problemType: ProblemType;
  numLabels: number;
  label2id?: Record<string, number>;
  id2label?: Record<number, string>;
}

/** The problem type: given, else regression for one label (HF's inference from num_labels), else single-label. */
export function seqClsProblemType(given: GivenLabels): ProblemType {
  return given.problemType ?? (given.numLabels === 1 ? "regression" : "single_label_classification");
}

/**
 * The label set of `basis` (the training rows; the evaluation rows only when there are none).
 * Regression: num_labels 1 (or given), labels are numbers. Single-label: non-negative integer
 * labels are class ids (num_labels = max + 1, at least 2); names map through the model's label2id
 * when it has one, else through the sorted names; a float label is an error suggesting regression.
 * Multi-label: 0/1 vectors of one length, or lists of names.
 */
export function seqClsLabelSet(basis: LabelRows | undefined, given: GivenLabels = {}): SeqClsLabelSet {
  const problemType = seqClsProblemType(given);
  if (problemType === "regression") return { problemType, numLabels: given.numLabels ?? 1 };
  const values = basis ? basis.rows.column(basis.labelCol) : [];
  const at = (i: number) => `${basis!.source} row ${i}`;
  const named = (label2id: Record<string, number>): SeqClsLabelSet => ({
    problemType, numLabels: given.numLabels ?? Object.keys(label2id).length, label2id, id2label: invertLabelMap(label2id),
  });
  if (values.length === 0) return given.label2id ? named(given.label2id) : { problemType, numLabels: given.numLabels ?? 2 };
  if (problemType === "multi_label_classification") {
    const bad = values.findIndex((v) => !Array.isArray(v));
    if (bad >= 0) throw new ConfigError(`${at(bad)}: multi-label label must be a list, got ${JSON.stringify(values[bad])}`);
    if (given.label2id) return named(given.label2id);
    const L = (values[0] as unknown[]).length;
    const vectors = L >= 2 && values.every((v) => (v as unknown[]).length === L && (v as unknown[]).every((x) => x === 0 || x === 1));
    return vectors ? { problemType, numLabels: given.numLabels ?? L } : checkedCount(named(buildLabel2Id(values)), given, basis!.source);
  }
  // single-label: ids, names, or a mistake (floats, lists, empty cells)
  let maxId = -1;
  let names = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "number" && Number.isInteger(v) && v >= 0) maxId = Math.max(maxId, v);
    else if (typeof v === "number" && Number.isFinite(v) && !Number.isInteger(v)) {
      throw new ConfigError(`${at(i)}: label ${v} is a float, not a class; for a numeric target use problem_type regression (--problem_type regression)`);
    } else if (Array.isArray(v)) {
      throw new ConfigError(`${at(i)}: label ${JSON.stringify(v)} is a list; for several labels per row use problem_type multi_label_classification`);
    } else if (v === undefined || v === null || v === "") {
      throw new ConfigError(`${at(i)}: empty label in column '${basis!.labelCol}'`);
    } else names = true;
  }
  if (!names) return { problemType, numLabels: given.numLabels ?? Math.max(maxId + 1, 2) };
  if (given.label2id) {
    const missing = values.findIndex((v) => given.label2id![String(v)] === undefined);
    if (missing >= 0) {
      throw new ConfigError(`${at(missing)}: label ${JSON.stringify(values[missing])} is not one of the model's labels (${Object.keys(given.label2id).join(", ")}; its config.json label2id)`);
    }
    return named(given.label2id);
  }
  const set = checkedCount(named(buildLabel2Id(values)), given, basis!.source);
  const found = Object.keys(set.label2id!).length;
  if (basis!.evaluation && given.numLabels !== undefined && found < given.numLabels) {
    // sorted names give the training ids only when every class is present
    throw new ConfigError(`${basis!.source}: the rows name ${found} labels (${Object.keys(set.label2id!).join(", ")}) but the model has ${given.numLabels}; without the training rows or the model's label names the ids of the names are unknown`);
  }
  return set;
}

/** A label set read from names may not hold more classes than a given num_labels. */
function checkedCount(set: SeqClsLabelSet, given: GivenLabels, source: string): SeqClsLabelSet {
  const found = Object.keys(set.label2id ?? {}).length;
  if (given.numLabels !== undefined && found > given.numLabels) {
    throw new ConfigError(`${source}: ${found} distinct labels but num_labels is ${given.numLabels}`);
  }
  return set;
}
