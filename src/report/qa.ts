// Extractive QA results: exact match / F1 and a histogram of predicted vs reference answer lengths (words).

import { chartFrame, legend, svgOf } from "./chart_frame.js";
import { formatNumber } from "./format.js";
import type { EvalPredictions } from "./run_data.js";

/** Counts of values per whole-number bin 0..max (the last bin holds everything ≥ max). */
export function histogram(values: number[], max: number): number[] {
  const h = new Array<number>(max + 1).fill(0);
  for (const v of values) h[Math.min(max, Math.max(0, Math.round(v)))]++;
  return h;
}

export function qaResults(p: EvalPredictions, metrics: Record<string, unknown>): string {
  const em = metrics.eval_exact_match, f1 = metrics.eval_f1;
  const head = `<p>${em !== undefined ? `exact match <b>${typeof em === "number" ? formatNumber(em, 4) : String(em)}</b>` : ""}${f1 !== undefined ? ` · F1 <b>${typeof f1 === "number" ? formatNumber(f1, 4) : String(f1)}</b>` : ""} <span class="note">(SQuAD scores, 0–100)</span></p>`;
  const pred = p.predicted_lengths ?? [], ref = p.reference_lengths ?? [];
  if (!pred.length) return head;
  const max = Math.min(30, Math.max(1, ...pred, ...ref));
  const hp = histogram(pred, max), hr = histogram(ref, max);
  const top = Math.max(...hp, ...hr, 1);
  const f = chartFrame({ x: [0, max + 1], y: [0, top], xLabel: `answer length (words; last bin ≥ ${max})`, yLabel: "answers", integerX: true });
  const body: string[] = [];
  const bw = (f.sx(1) - f.sx(0)) / 2 - 1;
  [hr, hp].forEach((h, k) => {
    body.push(`<g class="series" data-series="${k ? "predicted" : "reference"}">`);
    h.forEach((c, i) => body.push(`<rect class="pt" x="${(f.sx(i) + k * bw + 1).toFixed(1)}" y="${f.sy(c).toFixed(1)}" width="${bw.toFixed(1)}" height="${(f.sy(0) - f.sy(c)).toFixed(1)}" fill="${k ? "#1f6feb" : "#9aa3af"}"><title>${i} words: ${c}</title></rect>`));
    body.push(`</g>`);
  });
  return `${head}<figure class="plot" id="plot-answer-lengths"><figcaption>Answer lengths</figcaption>${legend([{ name: "reference", color: "#9aa3af" }, { name: "predicted", color: "#1f6feb" }])}${svgOf(f, body, "hist")}</figure>`;
}
