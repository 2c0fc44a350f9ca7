// The "Task results" section: what the eval predictions say beyond the metrics, by task
// (classification, regression, NER, QA, causal LM), plus example rows only for log_examples runs.

import type { RunData } from "./run_data.js";
import { esc, htmlTable } from "./html.js";
import { formatNumber } from "./format.js";
import { classificationResults } from "./classification.js";
import { regressionResults } from "./regression.js";
import { tokenClassificationResults } from "./token_classification.js";
import { qaResults } from "./qa.js";

function cell(v: unknown): string {
  return esc(typeof v === "number" ? formatNumber(v) : typeof v === "object" ? JSON.stringify(v) : String(v ?? ""));
}

/** Rows of objects as a table with the union of their keys. */
function rowsTable(rows: Record<string, unknown>[], cls: string): string {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return htmlTable(keys.map(esc), rows.map((r) => keys.map((k) => cell(r[k]))), cls);
}

function causalLmResults(run: RunData): string {
  const loss = run.metrics.eval_loss;
  const ppl = typeof run.metrics.eval_perplexity === "number" ? run.metrics.eval_perplexity : typeof loss === "number" ? Math.exp(loss) : undefined;
  return ppl === undefined ? "" : `<p>eval perplexity <b>${formatNumber(ppl, 4)}</b> <span class="note">(exp of the mean eval loss per token)</span></p>`;
}

function isCausalLm(run: RunData): boolean {
  const t = run.runInfo.task, pt = run.adapterConfig?.task_type;
  return t === "causal-lm" || t === "causal_lm" || pt === "CAUSAL_LM";
}

/** The section body; "" when the run dir has nothing task-specific to show. */
export function taskResults(run: RunData): string {
  const parts: string[] = [];
  const p = run.evalPredictions;
  if (p?.kind === "classification") parts.push(classificationResults(p));
  else if (p?.kind === "regression") parts.push(regressionResults(p));
  else if (p?.kind === "token_classification") parts.push(tokenClassificationResults(p));
  else if (p?.kind === "qa" || typeof run.metrics.eval_exact_match === "number") parts.push(qaResults(p ?? { kind: "qa" }, run.metrics));
  if (isCausalLm(run)) parts.push(causalLmResults(run));
  // raw text appears only for runs made with log_examples (run_data reads these files only then)
  const shown = `<p class="note">Example text is shown because this run was made with log_examples.</p>`;
  if (run.generations?.length) parts.push(`<h3>Sampled generations</h3>${shown}${rowsTable(run.generations, "generations")}`);
  if (run.examples?.length) parts.push(`<h3>Worst errors</h3>${shown}${rowsTable(run.examples, "examples")}`);
  return parts.filter(Boolean).join("\n");
}
