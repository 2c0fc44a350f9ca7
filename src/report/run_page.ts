// report.html of one run: the summary card, the curves, task results, what the adapter changed,
// the final metrics and the arguments (non-default first). Self-contained: inline SVG and one
// small inline script, no network.

import type { RunData } from "./run_data.js";
import { esc, htmlTable, pageShell, section } from "./html.js";
import { formatMetric } from "./format.js";
import { runSummary, type SummaryItem } from "./summary.js";
import { runCurves } from "./curves.js";
import { taskResults } from "./task_results.js";
import { adapterDeltaResults } from "./adapter_delta.js";
import { argsSection } from "./args_table.js";
import { HOVER_SCRIPT } from "./hover_script.js";

export interface ReportOptions {
  /** TrainingArguments' defaults (snake_case dict): the arguments section puts the changed ones first. */
  defaultArgs?: Record<string, unknown> | null;
  /** Page title (default: the run's name). */
  title?: string;
}

export function summaryCard(items: SummaryItem[]): string {
  return `<div class="card" id="summary">${items.map((it) => `<div class="item${it.key === "baseline" ? " wide" : ""}" data-key="${esc(it.key)}"><div class="k">${esc(it.label)}</div><div class="v${["baseline", "final"].includes(it.key) ? " headline" : ""}">${esc(it.text)}</div>${it.detail ? `<div class="v"><small>${esc(it.detail)}</small></div>` : ""}</div>`).join("")}</div>`;
}

export function metricsTable(m: Record<string, unknown>): string {
  const keys = Object.keys(m).sort();
  return htmlTable(["metric", "value"], keys.map((k) => [esc(k), `<span title="${esc(String(m[k]))}">${esc(formatMetric(k, m[k]))}</span>`]), "metrics");
}

/** The subtitle: task · model · method, and the folder. */
function subtitle(items: SummaryItem[], dir: string): string {
  const get = (k: string) => items.find((i) => i.key === k)?.text;
  return [get("task"), get("model"), get("method")].filter(Boolean).map(esc).join(" · ") + ` <span class="note">${esc(dir)}</span>`;
}

export function renderRunReport(run: RunData, o: ReportOptions = {}): string {
  const items = runSummary(run);
  const curves = runCurves(run);
  const tasks = taskResults(run);
  const delta = run.adapterDelta?.length ? adapterDeltaResults(run.adapterDelta) : "";
  const body = [
    `<h1>${esc(o.title ?? run.name)}</h1><div class="sub">${subtitle(items, run.dir)}</div>`,
    summaryCard(items),
    section("curves", "Curves", curves.length ? `<div class="plots">${curves.join("\n")}</div>` : `<p class="note">No logged steps.</p>`),
    tasks ? section("task-results", "Task results", tasks) : "",
    delta ? section("adapter-delta", "What the adapter changed", delta) : "",
    section("final-metrics", "Final metrics", metricsTable(run.metrics)),
    section("arguments", "Arguments", argsSection(run.args, o.defaultArgs ?? null)),
  ];
  return pageShell(o.title ?? run.name, body.filter(Boolean).join("\n"), HOVER_SCRIPT);
}
