// The curves of one run as chart figures: loss (train + eval, log option), learning rate, grad
// norm with max_grad_norm drawn, ε, every eval metric; epoch markers on each.

import type { RunData } from "./run_data.js";
import { epochSteps, plotsFromLogHistory } from "./series.js";
import { lineChart } from "./line_chart.js";
import { formatNumber } from "./format.js";

export function runCurves(run: RunData): string[] {
  const epochs = epochSteps(run.logHistory);
  const clip = typeof run.args.max_grad_norm === "number" && run.args.max_grad_norm > 0 ? run.args.max_grad_norm : null;
  return plotsFromLogHistory(run.logHistory).map((p) => lineChart(p, {
    epochs,
    logOption: p.id === "loss",
    ...(p.id === "grad_norm" && clip !== null ? { hlines: [{ y: clip, label: `max_grad_norm ${formatNumber(clip)}` }] } : {}),
  }));
}
