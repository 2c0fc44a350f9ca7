// ROUGE-1/2/L F-measures as Google's rouge_score package computes them with its default
// tokenizer (what HF `evaluate`'s "rouge" uses, use_stemmer=False): lowercase, every run of
// characters other than ASCII a–z/0–9 becomes a space (so non-ASCII letters split words and are
// dropped: "Größe" → "gr", "e"), n-gram overlap with clipped counts, LCS for ROUGE-L, F = 2PR/(P+R).
// Several references per prediction: the one with the best F per ROUGE type (score_multi).
// The corpus value is the mean of the per-prediction F-measures, i.e. evaluate's
// use_aggregator=False averaged; evaluate's default aggregator reports the median of 1000 random
// bootstrap resamples of that mean instead, which is not reproducible to the last digit.

import { referencesPerPrediction, type References } from "./references.js";

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

export interface RougeResult {
  /** Mean F-measure over the predictions, in [0, 1] as evaluate reports it. */
  rouge1: number;
  rouge2: number;
  rougeL: number;
  /** Per prediction, the best reference's scores for each type. */
  perPrediction: { rouge1: RougeScore; rouge2: RougeScore; rougeL: RougeScore }[];
}

/** rouge_score's default tokenizer (no stemming). */
export function rougeTokenize(text: string): string[] {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, " ").split(" ").filter((t) => t.length > 0);
}

function score(overlap: number, predCount: number, refCount: number): RougeScore {
  const precision = overlap / Math.max(predCount, 1), recall = overlap / Math.max(refCount, 1);
  return { precision, recall, fmeasure: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 };
}

function ngramScore(ref: string[], pred: string[], n: number): RougeScore {
  const counts = (t: string[]) => {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= t.length; i++) {
      const k = t.slice(i, i + n).join(" ");
      m.set(k, (m.get(k) ?? 0) + 1);
    }
    return m;
  };
  const r = counts(ref), p = counts(pred);
  let overlap = 0, nr = 0, np = 0;
  for (const [k, c] of r) { overlap += Math.min(c, p.get(k) ?? 0); nr += c; }
  for (const c of p.values()) np += c;
  return score(overlap, np, nr);
}

function lcsScore(ref: string[], pred: string[]): RougeScore {
  if (ref.length === 0 || pred.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  let prev = new Array<number>(pred.length + 1).fill(0);
  for (let i = 1; i <= ref.length; i++) {
    const row = new Array<number>(pred.length + 1).fill(0);
    for (let j = 1; j <= pred.length; j++) row[j] = ref[i - 1] === pred[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], row[j - 1]);
    prev = row;
  }
  return score(prev[pred.length], pred.length, ref.length);
}

/** ROUGE-1, ROUGE-2 and ROUGE-L of `predictions` against `references` (shapes as for bleu()). */
export function rouge(predictions: string[], references: References): RougeResult {
  const refs = referencesPerPrediction("rouge", predictions, references);
  const perPrediction = predictions.map((pred, i) => {
    const p = rougeTokenize(pred);
    const all = refs[i].map((r) => {
      const t = rougeTokenize(r);
      return { rouge1: ngramScore(t, p, 1), rouge2: ngramScore(t, p, 2), rougeL: lcsScore(t, p) };
    });
    // the first reference with the highest F, per type (numpy argmax)
    const best = (k: "rouge1" | "rouge2" | "rougeL") => all.reduce((a, s) => (s[k].fmeasure > a[k].fmeasure ? s : a))[k];
    return { rouge1: best("rouge1"), rouge2: best("rouge2"), rougeL: best("rougeL") };
  });
  const mean = (k: "rouge1" | "rouge2" | "rougeL") => perPrediction.reduce((s, x) => s + x[k].fmeasure, 0) / perPrediction.length;
  return { rouge1: mean("rouge1"), rouge2: mean("rouge2"), rougeL: mean("rougeL"), perPrediction };
}
