// Classification results from eval_predictions.json: the confusion matrix (counts and row
// shares), per-class precision/recall/F1, and the reliability diagram (confidence vs accuracy).

import { esc, htmlTable } from "./html.js";
import { formatCount, formatPercent } from "./format.js";
import { chartFrame, svgOf } from "./chart_frame.js";
import type { EvalPredictions } from "./run_data.js";

/** counts[t][p]: rows with true label t predicted as p, over classes 0..n-1. */
export function confusionMatrix(labels: number[], predictions: number[], n: number): number[][] {
  const m = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  labels.forEach((t, i) => {
    const p = predictions[i];
    if (t >= 0 && t < n && p >= 0 && p < n) m[t][p]++;
  });
  return m;
}

export interface ClassScores { precision: number; recall: number; f1: number; support: number }

/** Per-class precision, recall, F1 and support from a confusion matrix (0 where undefined, as sklearn's zero_division=0). */
export function classScores(m: number[][]): ClassScores[] {
  return m.map((row, c) => {
    const tp = row[c], support = row.reduce((s, v) => s + v, 0), predicted = m.reduce((s, r) => s + r[c], 0);
    const precision = predicted ? tp / predicted : 0, recall = support ? tp / support : 0;
    return { precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, support };
  });
}

export interface ReliabilityBin { lo: number; hi: number; count: number; confidence: number; accuracy: number }

/** Equal-width confidence bins over [0, 1]: mean confidence and accuracy of each non-empty bin, and the ECE. */
export function reliability(confidence: number[], correct: boolean[], bins = 10): { bins: ReliabilityBin[]; ece: number } {
  const acc = Array.from({ length: bins }, () => ({ n: 0, conf: 0, ok: 0 }));
  confidence.forEach((c, i) => {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(c * bins)));
    acc[b].n++;
    acc[b].conf += c;
    if (correct[i]) acc[b].ok++;
  });
  const total = confidence.length || 1;
  let ece = 0;
  const out: ReliabilityBin[] = [];
  acc.forEach((a, b) => {
    if (!a.n) return;
    const bin = { lo: b / bins, hi: (b + 1) / bins, count: a.n, confidence: a.conf / a.n, accuracy: a.ok / a.n };
    ece += (a.n / total) * Math.abs(bin.accuracy - bin.confidence);
    out.push(bin);
  });
  return { bins: out, ece };
}

function names(p: EvalPredictions, n: number): string[] {
  return Array.from({ length: n }, (_, i) => p.label_names?.[i] ?? String(i));
}

function confusionTable(m: number[][], labels: string[]): string {
  const head = ["true ↓ / predicted →", ...labels.map(esc)];
  const rows = m.map((row, t) => {
    const total = row.reduce((s, v) => s + v, 0);
    return [`<b>${esc(labels[t])}</b>`, ...row.map((v, p) => {
      const share = total ? v / total : 0;
      const bg = t === p ? `rgba(26,127,55,${(0.12 + 0.6 * share).toFixed(2)})` : `rgba(209,36,47,${(0.6 * share).toFixed(2)})`;
      return `<span class="cell" data-count="${v}" style="display:block;background:${bg};padding:2px">${formatCount(v)}<small>${formatPercent(share, 3)}</small></span>`;
    })];
  });
  return htmlTable(head, rows, "confusion");
}

function reliabilitySvg(r: { bins: ReliabilityBin[] }): string {
  const f = chartFrame({ x: [0, 1], y: [0, 1], xLabel: "confidence (predicted class probability)", yLabel: "accuracy", fixedX: true, fixedY: true, metric: "accuracy", width: 360, height: 280 });
  const body: string[] = [`<line x1="${f.sx(0)}" y1="${f.sy(0)}" x2="${f.sx(1)}" y2="${f.sy(1)}" stroke="#9aa3af" stroke-dasharray="4 3"/>`];
  for (const b of r.bins) {
    const x = f.sx(b.lo) + 1, w = f.sx(b.hi) - f.sx(b.lo) - 2;
    body.push(`<rect x="${x.toFixed(1)}" y="${f.sy(b.accuracy).toFixed(1)}" width="${w.toFixed(1)}" height="${(f.sy(0) - f.sy(b.accuracy)).toFixed(1)}" fill="#1f6feb" fill-opacity="0.55"><title>${b.lo.toFixed(1)}–${b.hi.toFixed(1)}: ${b.count} rows, accuracy ${formatPercent(b.accuracy, 3)}, mean confidence ${formatPercent(b.confidence, 3)}</title></rect>`);
    body.push(`<circle class="pt" cx="${f.sx(b.confidence).toFixed(1)}" cy="${f.sy(b.accuracy).toFixed(1)}" r="3" fill="#d1242f"/>`);
  }
  return svgOf(f, body, "reliability");
}

/** The classification section body (confusion matrix, per-class table, reliability diagram); "" without predictions. */
export function classificationResults(p: EvalPredictions): string {
  const labels = (p.labels ?? []) as number[], preds = (p.predictions ?? []) as number[];
  if (!labels.length) return "";
  const n = Math.max(p.label_names?.length ?? 0, ...labels.map((v) => v + 1), ...preds.map((v) => v + 1));
  const m = confusionMatrix(labels, preds, n);
  const ln = names(p, n);
  const scores = classScores(m);
  const perClass = htmlTable(["class", "precision", "recall", "F1", "support"].map((h, i) => (i ? `<span class="num">${h}</span>` : h)),
    scores.map((s, c) => [esc(ln[c]), formatPercent(s.precision, 3), formatPercent(s.recall, 3), formatPercent(s.f1, 3), formatCount(s.support)]), "per-class");
  let rel = "";
  if (p.confidence && p.confidence.length === labels.length) {
    const r = reliability(p.confidence, labels.map((t, i) => t === preds[i]));
    rel = `<figure class="plot" id="plot-reliability"><figcaption>Reliability diagram (expected calibration error ${formatPercent(r.ece, 3)})</figcaption>${reliabilitySvg(r)}</figure>`;
  }
  return `<p class="note">${formatCount(labels.length)} eval rows${p.step !== undefined ? ` at step ${formatCount(p.step)}` : ""}; each cell: count and share of its true class's row.</p>
<div class="plots" style="align-items:flex-start"><div><h3>Confusion matrix</h3>${confusionTable(m, ln)}<h3>Per class</h3>${perClass}</div>${rel}</div>`;
}
