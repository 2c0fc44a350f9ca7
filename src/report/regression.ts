// Regression results: predictions against labels as a scatter with the y = x line, MAE and RMSE.

import { chartFrame, svgOf } from "./chart_frame.js";
import { formatNumber } from "./format.js";
import type { EvalPredictions } from "./run_data.js";

export function regressionResults(p: EvalPredictions): string {
  const y = (p.labels ?? []) as number[], yhat = (p.predictions ?? []) as number[];
  if (!y.length || y.length !== yhat.length) return "";
  const all = y.concat(yhat);
  const lo = all.reduce((m, v) => Math.min(m, v), Infinity), hi = all.reduce((m, v) => Math.max(m, v), -Infinity);
  const f = chartFrame({ x: [lo, hi], y: [lo, hi], xLabel: "label", yLabel: "prediction", width: 380, height: 320 });
  const [a, b] = [lo, hi];
  const body = [`<line x1="${f.sx(a).toFixed(1)}" y1="${f.sy(a).toFixed(1)}" x2="${f.sx(b).toFixed(1)}" y2="${f.sy(b).toFixed(1)}" stroke="#9aa3af" stroke-dasharray="4 3"/>`];
  body.push(`<g class="series" data-series="predictions">`);
  y.forEach((v, i) => body.push(`<circle class="pt" cx="${f.sx(v).toFixed(1)}" cy="${f.sy(yhat[i]).toFixed(1)}" r="2.5" fill="#1f6feb" fill-opacity="0.6"><title>label ${formatNumber(v)}, prediction ${formatNumber(yhat[i])}</title></circle>`));
  body.push(`</g>`);
  const mae = y.reduce((s, v, i) => s + Math.abs(v - yhat[i]), 0) / y.length;
  const rmse = Math.sqrt(y.reduce((s, v, i) => s + (v - yhat[i]) ** 2, 0) / y.length);
  return `<figure class="plot" id="plot-regression"><figcaption>Predictions vs labels (${y.length} eval rows; MAE ${formatNumber(mae, 3)}, RMSE ${formatNumber(rmse, 3)})</figcaption>${svgOf(f, body, "scatter")}</figure>`;
}
