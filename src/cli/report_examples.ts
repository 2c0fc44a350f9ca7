// Extra run files for the report that need the CLI's view of the data: a task's own eval record
// (QA answer lengths) and, only with --log_examples, the worst-error rows WITH their text
// (examples.json; private data stays out of every output unless asked for), and, also only with
// --log_examples, a causal LM's sampled generations (generations.json).

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { atomicWriteFile } from "../io/fs.js";
import type { Dataset, Row } from "../data/datasets.js";
import type { PreTrainedTokenizer } from "../io/tokenizer.js";
import type { PreTrainedModel } from "../models/modeling_utils.js";
import { generate } from "../models/generate.js";
import { noGrad } from "../tensor/autograd.js";
import type { PeftModel } from "../peft/index.js";

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

/** Rows whose openings are continued, the opening's tokens, the new tokens (greedy). */
export const SAMPLED = { rows: 3, promptTokens: 16, newTokens: 24 };

/**
 * generations.json for a causal-LM run made with --log_examples: the first rows' text (their string
 * columns joined), cut to its first SAMPLED.promptTokens tokens, and the model's greedy continuation.
 * The report shows them only for such runs (their text is the user's data).
 */
export function writeSampledGenerations(dir: string, model: PreTrainedModel | PeftModel, tokenizer: PreTrainedTokenizer, rows: Dataset<Row>): number {
  const out: { prompt: string; generation: string }[] = [];
  model.eval();
  noGrad(() => {
    for (let i = 0; i < Math.min(SAMPLED.rows, rows.length); i++) {
      const text = Object.values(rows.get(i)).filter((v): v is string => typeof v === "string").join("\n");
      const ids = tokenizer.encode(text).slice(0, SAMPLED.promptTokens);
      if (ids.length === 0) continue;
      const eos = tokenizer.eosTokenId;
      const [seq] = generate(model as PreTrainedModel, [ids], { maxNewTokens: SAMPLED.newTokens, ...(eos !== null ? { eosTokenId: eos, padTokenId: tokenizer.padTokenId ?? eos } : {}) });
      out.push({ prompt: tokenizer.decode(ids, { skipSpecialTokens: true }), generation: tokenizer.decode(seq.slice(ids.length), { skipSpecialTokens: true }) });
    }
  });
  atomicWriteFile(join(dir, "generations.json"), JSON.stringify(out, null, 2) + "\n");
  return out.length;
}
