// Corpus chrF exactly as sacrebleu's defaults (CHRF(): character n-grams of orders 1–6, no word
// n-grams, beta 2, whitespace removed, mixed case, effective-order averaging rather than eps
// smoothing): per segment the reference with the best sentence F-score is kept, the
// [hypothesis, reference, match] counts per order are summed over the corpus, and the averaged
// precision and recall give F_beta.

import { codePoints, pySplit } from "./text_13a.js";
import { nrefsField, referencesPerPrediction, SIGNATURE_VERSION, type References } from "./references.js";

export interface ChrfResult {
  /** chrF2 in [0, 100]. */
  score: number;
  /** sacrebleu-style signature, e.g. nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:… */
  signature: string;
}

const CHAR_ORDER = 6;
const BETA = 2;

/** Character n-gram counts of orders 1..CHAR_ORDER over the code points, whitespace removed. */
function charNgrams(line: string): Map<string, number>[] {
  const chars = codePoints(pySplit(line).join(""));
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= CHAR_ORDER; n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= chars.length; i++) {
      const g = chars.slice(i, i + n).join("");
      m.set(g, (m.get(g) ?? 0) + 1);
    }
    out.push(m);
  }
  return out;
}

/** [hyp count, ref count, matches] per order, flattened (sacrebleu's _get_match_statistics). */
function matchStats(hyp: Map<string, number>[], ref: Map<string, number>[]): number[] {
  const stats: number[] = [];
  for (let n = 0; n < CHAR_ORDER; n++) {
    let match = 0, hypCount = 0, refCount = 0;
    for (const [g, c] of hyp[n]) {
      hypCount += c;
      const r = ref[n].get(g);
      if (r !== undefined) match += Math.min(c, r);
    }
    for (const c of ref[n].values()) refCount += c;
    stats.push(ref[n].size > 0 ? hypCount : 0, refCount, match);
  }
  return stats;
}

/** sacrebleu's CHRF._compute_f_score with eps_smoothing off. */
function fScore(stats: number[]): number {
  const factor = BETA * BETA;
  let avgPrec = 0, avgRec = 0, eff = 0;
  for (let n = 0; n < CHAR_ORDER; n++) {
    const [nHyp, nRef, nMatch] = stats.slice(3 * n, 3 * n + 3);
    if (nHyp > 0 && nRef > 0) {
      avgPrec += nMatch / nHyp;
      avgRec += nMatch / nRef;
      eff++;
    }
  }
  if (eff === 0) return 0;
  avgPrec /= eff;
  avgRec /= eff;
  if (avgPrec + avgRec === 0) return 0;
  let score = (1 + factor) * avgPrec * avgRec;
  score /= factor * avgPrec + avgRec;
  return 100 * score;
}

/**
 * Corpus chrF of `predictions` against `references` (see References for the accepted shapes),
 * equal to `sacrebleu.corpus_chrf(predictions, streams)` with default settings.
 */
export function chrf(predictions: string[], references: References): ChrfResult {
  const refs = referencesPerPrediction("chrf", predictions, references);
  const total = new Array<number>(3 * CHAR_ORDER).fill(0);
  predictions.forEach((pred, i) => {
    const hyp = charNgrams(pred);
    let best: number[] = [], bestF = -1;
    for (const r of refs[i]) {
      const stats = matchStats(hyp, charNgrams(r));
      const f = fScore(stats);
      if (f > bestF) { bestF = f; best = stats; }
    }
    best.forEach((v, k) => (total[k] += v));
  });
  return { score: fScore(total), signature: `nrefs:${nrefsField(refs)}|case:mixed|eff:yes|nc:${CHAR_ORDER}|nw:0|space:no|version:${SIGNATURE_VERSION}` };
}
