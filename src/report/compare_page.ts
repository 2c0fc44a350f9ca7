// The compare page of several runs: their curves overlaid (one colour per run), and their
// summaries and final metrics side by side.

import type { RunData } from "./run_data.js";
import { esc, htmlTable, pageShell, section } from "./html.js";
import { formatMetric } from "./format.js";
import { runSummary } from "./summary.js";
import { evalMetricKeys, epochSteps, pointsOf, type Plot } from "./series.js";
import { lineChart } from "./line_chart.js";
import { COLORS } from "./chart_frame.js";
import { HOVER_SCRIPT } from "./hover_script.js";

/** Unique short labels for the runs (their names, numbered when two share one). */
export function runLabels(runs: RunData[]): string[] {
  const seen = new Map<string, number>();
  return runs.map((r) => {
    const n = (seen.get(r.name) ?? 0) + 1;
    seen.set(r.name, n);
    return n > 1 ? `${r.name} (${n})` : r.name;
  });
}

/** One plot per curve kind; one series per run (and per train/eval for the loss). */
export function comparePlots(runs: RunData[], labels: string[]): { plot: Plot; colors: string[] }[] {
  const out: { plot: Plot; colors: string[] }[] = [];
  const overlay = (id: string, title: string, keys: { key: string; suffix: string; dashed?: boolean }[]) => {
    const series: Plot["series"] = [], colors: string[] = [];
    runs.forEach((r, i) => {
      for (const k of keys) {
        const points = pointsOf(r.logHistory, k.key);
        if (!points.length) continue;
        series.push({ name: `${labels[i]}${k.suffix}`, points, ...(k.dashed ? { dashed: true } : {}) });
        colors.push(COLORS[i % COLORS.length]);
      }
    });
    if (series.length) out.push({ plot: { id, title, series, metric: id }, colors });
  };
  overlay("loss", "Loss (solid: train, dashed: eval)", [{ key: "loss", suffix: " train" }, { key: "eval_loss", suffix: " eval", dashed: true }]);
  overlay("learning_rate", "Learning rate", [{ key: "learning_rate", suffix: "" }]);
  overlay("grad_norm", "Gradient norm (before clipping)", [{ key: "grad_norm", suffix: "" }]);
  const keys = new Set(runs.flatMap((r) => evalMetricKeys(r.logHistory)));
  for (const k of [...keys].sort()) overlay(k, k, [{ key: k, suffix: "" }]);
  return out;
}

export function renderComparePage(runs: RunData[], o: { title?: string } = {}): string {
  const labels = runLabels(runs);
  const title = o.title ?? `Compare ${runs.length} runs: ${labels.join(", ")}`;
  const sums = runs.map(runSummary);
  const itemKeys: { key: string; label: string }[] = [];
  for (const s of sums) for (const it of s) if (!itemKeys.some((k) => k.key === it.key)) itemKeys.push({ key: it.key, label: it.label });
  const head = ["", ...labels.map((l, i) => `<span style="color:${COLORS[i % COLORS.length]}">■</span> ${esc(l)}`)];
  const summaryRows = itemKeys.map(({ key, label }) => [esc(label), ...sums.map((s) => {
    const it = s.find((x) => x.key === key);
    return it ? `${esc(it.text)}${it.detail ? ` <small class="note">${esc(it.detail)}</small>` : ""}` : "–";
  })]);
  const mkeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const metricRows = mkeys.map((k) => [esc(k), ...runs.map((r) => (k in r.metrics ? esc(formatMetric(k, r.metrics[k])) : "–"))]);
  // the arguments that differ between the runs (the reason for comparing them)
  const argKeys = [...new Set(runs.flatMap((r) => Object.keys(r.args)))].sort()
    .filter((k) => k !== "output_dir" && k !== "logging_dir" && new Set(runs.map((r) => JSON.stringify(r.args[k]))).size > 1);
  const argRows = argKeys.map((k) => [esc(k), ...runs.map((r) => (k in r.args ? esc(typeof r.args[k] === "object" ? JSON.stringify(r.args[k]) : String(r.args[k])) : "–"))]);
  const epochs = runs.length ? epochSteps(runs[0].logHistory) : [];
  const plots = comparePlots(runs, labels).map(({ plot, colors }) => lineChart(plot, { colors, logOption: plot.id === "loss", ...(runs.length === 1 ? { epochs } : {}) }));
  const body = [
    `<h1>${esc(title)}</h1><div class="sub">${runs.map((r) => esc(r.dir)).join(" · ")}</div>`,
    section("summaries", "Summaries", htmlTable(head, summaryRows, "compare-summary")),
    section("curves", "Curves", `<div class="plots">${plots.join("\n")}</div>`),
    section("final-metrics", "Final metrics", htmlTable(head.map((h, i) => (i ? h : "metric")), metricRows, "compare-metrics")),
    section("arguments", "Arguments that differ", argRows.length ? htmlTable(head.map((h, i) => (i ? h : "argument")), argRows, "compare-args") : `<p class="note">The runs' arguments are the same (output_dir aside).</p>`),
  ];
  return pageShell(title, body.join("\n"), HOVER_SCRIPT);
}
