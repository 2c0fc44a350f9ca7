// Corpus BLEU exactly as sacrebleu's defaults (BLEU(): 13a tokeniser, mixed case, smooth "exp",
// max n-gram order 4, effective order off): per-segment clipped n-gram matches against the
// references' maximum counts, the closest reference length (shorter wins a tie), sums over the
// corpus, then the brevity penalty and the geometric mean of the precisions.

import { pyRstrip, pySplit, tokenize13a } from "./text_13a.js";
import { nrefsField, referencesPerPrediction, SIGNATURE_VERSION, type References } from "./references.js";

export interface BleuResult {
  /** BLEU in [0, 100]. */
  score: number;
  /** Modified n-gram precisions in percent, orders 1–4 (smoothed as sacrebleu's "exp"). */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  /** Hypothesis and effective reference lengths in tokens, over the corpus. */
  sysLen: number;
  refLen: number;
  /** Matched and total hypothesis n-grams per order (sacrebleu's counts/totals). */
  counts: number[];
  totals: number[];
  /** sacrebleu-style signature, e.g. nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:… */
  signature: string;
}

const MAX_ORDER = 4;
/** sacrebleu's my_log(0): a floor instead of −∞. */
const LOG_ZERO = -9999999999;

/** Word n-gram counts (orders 1..MAX_ORDER) of a tokenised line, keyed by the words joined with "\n". */
function wordNgrams(line: string): { counts: Map<string, number>; len: number } {
  const words = pySplit(line);
  const counts = new Map<string, number>();
  for (let n = 1; n <= MAX_ORDER; n++) {
    for (let i = 0; i + n <= words.length; i++) {
      // tokens never contain "\n" (it is whitespace), so the key is unambiguous; the order is the key's line count
      const key = words.slice(i, i + n).join("\n");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return { counts, len: words.length };
}

function closestRefLen(hypLen: number, refLens: number[]): number {
  let bestDiff = -1, best = -1;
  for (const r of refLens) {
    const d = Math.abs(hypLen - r);
    if (bestDiff === -1 || d < bestDiff) { bestDiff = d; best = r; }
    else if (d === bestDiff && r < best) best = r;
  }
  return best;
}

/** sacrebleu's BLEU.compute_bleu for smooth "exp", effective order off. */
function scoreFromStats(counts: number[], totals: number[], sysLen: number, refLen: number): { score: number; precisions: number[]; bp: number } {
  let bp = 1;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0;
  const precisions = new Array<number>(MAX_ORDER).fill(0);
  if (!counts.some((c) => c !== 0)) return { score: 0, precisions, bp };
  let smooth = 1;
  for (let n = 0; n < MAX_ORDER; n++) {
    if (totals[n] === 0) break;
    if (counts[n] === 0) {
      smooth *= 2;
      precisions[n] = 100 / (smooth * totals[n]);
    } else {
      precisions[n] = (100 * counts[n]) / totals[n];
    }
  }
  let logSum = 0;
  for (const p of precisions) logSum += p === 0 ? LOG_ZERO : Math.log(p);
  return { score: bp * Math.exp(logSum / MAX_ORDER), precisions, bp };
}

/**
 * Corpus BLEU of `predictions` against `references` (see References for the accepted shapes),
 * equal to `sacrebleu.corpus_bleu(predictions, streams)` with default settings.
 */
export function bleu(predictions: string[], references: References): BleuResult {
  const refs = referencesPerPrediction("bleu", predictions, references);
  const counts = new Array<number>(MAX_ORDER).fill(0), totals = new Array<number>(MAX_ORDER).fill(0);
  let sysLen = 0, refLen = 0;
  predictions.forEach((pred, i) => {
    const refMax = new Map<string, number>();
    const refLens: number[] = [];
    for (const r of refs[i]) {
      const { counts: c, len } = wordNgrams(tokenize13a(pyRstrip(r)));
      refLens.push(len);
      for (const [k, v] of c) if (v > (refMax.get(k) ?? 0)) refMax.set(k, v);
    }
    const hyp = wordNgrams(tokenize13a(pyRstrip(pred)));
    sysLen += hyp.len;
    refLen += closestRefLen(hyp.len, refLens);
    for (const [k, v] of hyp.counts) {
      const n = k.split("\n").length - 1;
      totals[n] += v;
      const m = refMax.get(k);
      if (m !== undefined) counts[n] += Math.min(v, m);
    }
  });
  const { score, precisions, bp } = scoreFromStats(counts, totals, sysLen, refLen);
  const signature = `nrefs:${nrefsField(refs)}|case:mixed|eff:no|tok:13a|smooth:exp|version:${SIGNATURE_VERSION}`;
  return { score, precisions, bp, sysLen, refLen, counts, totals, signature };
}
