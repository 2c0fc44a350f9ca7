// NER results: entity-level precision/recall/F1 per entity type (seqeval's rules) from the
// token labels and argmax predictions of eval_predictions.json (-100 positions left out).

import { seqevalScores } from "../data/metrics.js";
import { esc, htmlTable } from "./html.js";
import { formatCount, formatPercent } from "./format.js";
import type { EvalPredictions } from "./run_data.js";

/** Tag sentences (gold, predicted) of the positions with a label (≠ -100). */
export function tagSentences(p: EvalPredictions): { gold: string[][]; pred: string[][] } {
  const labels = (p.labels ?? []) as number[][], preds = (p.predictions ?? []) as number[][];
  const name = (i: number) => p.label_names?.[i] ?? String(i);
  const gold: string[][] = [], pred: string[][] = [];
  labels.forEach((row, s) => {
    const g: string[] = [], q: string[] = [];
    row.forEach((t, i) => {
      if (t === -100) return;
      g.push(name(t));
      q.push(name(preds[s]?.[i] ?? 0));
    });
    gold.push(g);
    pred.push(q);
  });
  return { gold, pred };
}

export function tokenClassificationResults(p: EvalPredictions): string {
  if (!Array.isArray(p.labels) || !p.labels.length) return "";
  const { gold, pred } = tagSentences(p);
  const r = seqevalScores(gold, pred);
  const rows = Object.entries(r.perType).map(([t, s]) => [esc(t), formatPercent(s.precision, 3), formatPercent(s.recall, 3), formatPercent(s.f1, 3), formatCount(s.support)]);
  rows.push(["<b>all (micro)</b>", formatPercent(r.precision, 3), formatPercent(r.recall, 3), formatPercent(r.f1, 3), formatCount(Object.values(r.perType).reduce((s, v) => s + v.support, 0))]);
  return `<p class="note">${formatCount(gold.length)} eval sentences; token accuracy ${formatPercent(r.accuracy, 3)}.</p><h3>Per entity type</h3>${htmlTable(["entity", "precision", "recall", "F1", "support"], rows, "per-entity")}`;
}
