// Extra run files for the report that need the CLI's view of the data: a task's own eval record
// (QA answer lengths) and, only with --log_examples, the worst-error rows WITH their text
// (examples.json; private data stays out of every output unless asked for).

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { atomicWriteFile } from "../io/fs.js";
import type { Dataset, Row } from "../data/datasets.js";

/** Most worst-error rows kept. */
export const WORST_ERRORS = 10;

/** eval_predictions.json from a task's eval record (numbers only). */
export function writeEvalReport(dir: string, rec: Record<string, unknown>, step: number): void {
  atomicWriteFile(join(dir, "eval_predictions.json"), JSON.stringify({ ...rec, step }) + "\n");
}

interface Preds { kind?: string; labels?: number[]; predictions?: number[]; confidence?: number[]; label_names?: string[] }

/**
 * examples.json: the eval rows the model got most wrong (classification: wrong and most confident;
 * regression: largest error), with the rows' text columns. Skipped when eval_predictions.json is
 * missing or its rows do not line up with the eval rows.
 */
export function writeWorstErrors(dir: string, evalRows: Dataset<Row>): number {
  const path = join(dir, "eval_predictions.json");
  if (!existsSync(path)) return 0;
  const p = JSON.parse(readFileSync(path, "utf8")) as Preds;
  const y = p.labels, yhat = p.predictions;
  if (!y || !yhat || y.length !== evalRows.length || (p.kind !== "classification" && p.kind !== "regression")) return 0;
  const name = (v: number) => (p.kind === "classification" ? p.label_names?.[v] ?? String(v) : v);
  const idx = y.map((_, i) => i).filter((i) => p.kind === "regression" || y[i] !== yhat[i]);
  const score = (i: number) => (p.kind === "regression" ? Math.abs(y[i] - yhat[i]) : p.confidence?.[i] ?? 0);
  idx.sort((a, b) => score(b) - score(a));
  const rows = idx.slice(0, WORST_ERRORS).map((i) => {
    const r = evalRows.get(i);
    const text = Object.fromEntries(Object.entries(r).filter(([, v]) => typeof v === "string"));
    return { row: i, ...text, label: name(y[i]), predicted: name(yhat[i]), ...(p.kind === "classification" ? { confidence: p.confidence?.[i] } : { error: yhat[i] - y[i] }) };
  });
  atomicWriteFile(join(dir, "examples.json"), JSON.stringify({ rows }, null, 2) + "\n");
  return rows.length;
}
