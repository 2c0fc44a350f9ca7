// Config labels: num_labels / id2label / label2id / problem_type read from config.json, and the overrides of fromPretrained.

import { ConfigError } from "../tensor/errors.js";
import type { BaseConfig, ProblemType } from "./hf_config_types.js";
import type { Reader } from "./hf_config_reader.js";

export const PROBLEM_TYPES: readonly ProblemType[] = ["regression", "single_label_classification", "multi_label_classification"];

/** The label fields of a config (HF's rules: id2label wins over num_labels). */
export function readLabels(r: Reader): Pick<BaseConfig, "numLabels" | "id2label" | "label2id" | "problemType"> {
  const id2labelRaw = r.object("id2label");
  let id2label: Record<number, string> = {};
  if (id2labelRaw) {
    for (const [k, v] of Object.entries(id2labelRaw)) {
      if (!/^\d+$/.test(k) || typeof v !== "string") {
        throw new ConfigError(`${r.source}: field 'id2label' must map integer ids to label strings, got ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
      }
      id2label[Number(k)] = v;
    }
  }
  // HF: num_labels is len(id2label) when id2label is given, else num_labels (default 2).
  const numLabels = id2labelRaw ? Object.keys(id2label).length : r.posInt("num_labels", 2);
  if (!id2labelRaw) id2label = defaultId2Label(numLabels);
  const label2idRaw = r.object("label2id");
  const label2id: Record<string, number> = {};
  if (label2idRaw) {
    for (const [k, v] of Object.entries(label2idRaw)) {
      if (!Number.isInteger(v)) throw new ConfigError(`${r.source}: field 'label2id' must map labels to integer ids, got ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
      label2id[k] = v as number;
    }
  } else {
    for (const [id, l] of Object.entries(id2label)) label2id[l] = Number(id);
  }
  const pt = r.json.problem_type;
  if (pt !== undefined && pt !== null && !PROBLEM_TYPES.includes(pt as ProblemType)) {
    throw new ConfigError(`${r.source}: field 'problem_type' must be one of ${PROBLEM_TYPES.join(", ")}, got ${JSON.stringify(pt)}`);
  }
  return { numLabels, id2label, label2id, problemType: (pt as ProblemType | undefined) ?? null };
}

export function defaultId2Label(n: number): Record<number, string> {
  const out: Record<number, string> = {};
  for (let i = 0; i < n; i++) out[i] = `LABEL_${i}`;
  return out;
}

/** Label/problem-type overrides as accepted by fromPretrained (HF kwargs num_labels, id2label, …). */
export interface LabelOptions {
  numLabels?: number;
  id2label?: Record<number, string>;
  label2id?: Record<string, number>;
  problemType?: ProblemType;
}

export function applyLabelOptions<C extends BaseConfig>(config: C, opts: LabelOptions): C {
  const c = { ...config };
  if (opts.problemType !== undefined) {
    if (!PROBLEM_TYPES.includes(opts.problemType)) throw new ConfigError(`problemType must be one of ${PROBLEM_TYPES.join(", ")}, got ${JSON.stringify(opts.problemType)}`);
    c.problemType = opts.problemType;
  }
  if (opts.id2label) {
    c.id2label = { ...opts.id2label };
    c.numLabels = Object.keys(opts.id2label).length;
    c.label2id = opts.label2id ?? Object.fromEntries(Object.entries(opts.id2label).map(([k, v]) => [v, Number(k)]));
  }
  if (opts.numLabels !== undefined) {
    if (!Number.isInteger(opts.numLabels) || opts.numLabels <= 0) throw new ConfigError(`numLabels must be a positive integer, got ${opts.numLabels}`);
    if (opts.id2label && Object.keys(opts.id2label).length !== opts.numLabels) {
      throw new ConfigError(`numLabels (${opts.numLabels}) does not match id2label (${Object.keys(opts.id2label).length} labels)`);
    }
    if (!opts.id2label && opts.numLabels !== c.numLabels) {
      c.numLabels = opts.numLabels;
      c.id2label = defaultId2Label(opts.numLabels);
      c.label2id = Object.fromEntries(Object.entries(c.id2label).map(([k, v]) => [v, Number(k)]));
    }
  }
  if (opts.label2id && !opts.id2label) c.label2id = { ...opts.label2id };
  return c;
}
