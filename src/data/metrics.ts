// Evaluation metrics with their published definitions: scikit-learn (accuracy, P/R/F1, MCC),
// scipy (Pearson, Spearman with average ranks), seqeval (entity-level F1, default mode) and the
// official SQuAD v1.1 evaluation script (normalisation, exact match, token F1).

import { ConfigError } from "../tensor/errors.js";

function checkSameLength(op: string, a: ArrayLike<unknown>, b: ArrayLike<unknown>): void {
  if (a.length !== b.length) throw new ConfigError(`${op}: predictions have ${b.length} values, references ${a.length}; expected the same number`);
}

/** Index of the largest value in each row (ties: first), for logits → class ids. */
export function argmax(rows: ArrayLike<number>[]): number[] {
  return rows.map((r) => {
    let best = 0;
    for (let i = 1; i < r.length; i++) if (r[i] > r[best]) best = i;
    return best;
  });
}

export function accuracy(yTrue: ArrayLike<number | string>, yPred: ArrayLike<number | string>): number {
  checkSameLength("accuracy", yTrue, yPred);
  if (yTrue.length === 0) return 0;
  let c = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) c++;
  return c / yTrue.length;
}

export type Average = "binary" | "macro" | "micro" | "weighted";

export interface PrfResult {
  precision: number;
  recall: number;
  f1: number;
}

/**
 * Precision, recall, F1 as sklearn.metrics.precision_recall_fscore_support (zero_division=0):
 * binary scores the positive label (default 1); macro is the unweighted mean over labels present
 * in yTrue ∪ yPred; weighted weights by support; micro pools the counts.
 */
export function precisionRecallF1<L extends number | string>(yTrue: ArrayLike<L>, yPred: ArrayLike<L>, opts: { average?: Average; posLabel?: L; labels?: L[] } = {}): PrfResult {
  checkSameLength("precisionRecallF1", yTrue, yPred);
  const average = opts.average ?? "binary";
  const present = new Set<L>();
  for (let i = 0; i < yTrue.length; i++) {
    present.add(yTrue[i]);
    present.add(yPred[i]);
  }
  let labels: L[];
  if (average === "binary") {
    const pos = opts.posLabel ?? (1 as L);
    if (present.size > 2) throw new ConfigError(`precisionRecallF1: average 'binary' needs at most 2 labels, found ${present.size}; use macro, micro or weighted`);
    labels = [pos];
  } else {
    labels = opts.labels ?? [...present].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
  const tp = new Map<L, number>(), fp = new Map<L, number>(), fn = new Map<L, number>();
  for (const l of labels) { tp.set(l, 0); fp.set(l, 0); fn.set(l, 0); }
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i], p = yPred[i];
    if (t === p) { if (tp.has(t)) tp.set(t, tp.get(t)! + 1); }
    else {
      if (fp.has(p)) fp.set(p, fp.get(p)! + 1);
      if (fn.has(t)) fn.set(t, fn.get(t)! + 1);
    }
  }
  const div = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const f1Of = (p: number, r: number) => (p + r === 0 ? 0 : (2 * p * r) / (p + r));
  if (average === "micro") {
    let T = 0, P = 0, N = 0;
    for (const l of labels) { T += tp.get(l)!; P += fp.get(l)!; N += fn.get(l)!; }
    const p = div(T, T + P), r = div(T, T + N);
    return { precision: p, recall: r, f1: f1Of(p, r) };
  }
  const per = labels.map((l) => {
    const p = div(tp.get(l)!, tp.get(l)! + fp.get(l)!), r = div(tp.get(l)!, tp.get(l)! + fn.get(l)!);
    return { p, r, f: f1Of(p, r), support: tp.get(l)! + fn.get(l)! };
  });
  if (average === "binary") return { precision: per[0].p, recall: per[0].r, f1: per[0].f };
  let wsum = 0;
  const acc = { precision: 0, recall: 0, f1: 0 };
  for (const s of per) {
    const w = average === "weighted" ? s.support : 1;
    acc.precision += w * s.p;
    acc.recall += w * s.r;
    acc.f1 += w * s.f;
    wsum += w;
  }
  if (wsum === 0) return { precision: 0, recall: 0, f1: 0 };
  return { precision: acc.precision / wsum, recall: acc.recall / wsum, f1: acc.f1 / wsum };
}

export function f1Score<L extends number | string>(yTrue: ArrayLike<L>, yPred: ArrayLike<L>, opts: { average?: Average; posLabel?: L } = {}): number {
  return precisionRecallF1(yTrue, yPred, opts).f1;
}

/**
 * Matthews correlation coefficient, multiclass form (sklearn.metrics.matthews_corrcoef):
 * (c·s − Σ p_k t_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²)); 0 when the denominator is 0.
 */
export function matthewsCorrcoef<L extends number | string>(yTrue: ArrayLike<L>, yPred: ArrayLike<L>): number {
  checkSameLength("matthewsCorrcoef", yTrue, yPred);
  const s = yTrue.length;
  const t = new Map<L, number>(), p = new Map<L, number>();
  let c = 0;
  for (let i = 0; i < s; i++) {
    t.set(yTrue[i], (t.get(yTrue[i]) ?? 0) + 1);
    p.set(yPred[i], (p.get(yPred[i]) ?? 0) + 1);
    if (yTrue[i] === yPred[i]) c++;
  }
  let pt = 0, pp = 0, tt = 0;
  for (const [k, v] of p) { pp += v * v; pt += v * (t.get(k) ?? 0); }
  for (const [, v] of t) tt += v * v;
  const den = Math.sqrt((s * s - pp) * (s * s - tt));
  return den === 0 ? 0 : (c * s - pt) / den;
}

/** Pearson correlation coefficient (scipy.stats.pearsonr's statistic); NaN for a constant input. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkSameLength("pearson", x, y);
  const n = x.length;
  if (n < 2) throw new ConfigError(`pearson: needs at least 2 values, got ${n}`);
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
  mx /= n;
  my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i] - mx, b = y[i] - my;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** 1-based ranks; tied values get the average of the ranks they span (scipy.stats.rankdata 'average'). */
export function rankAverage(x: ArrayLike<number>): number[] {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const ranks = new Array<number>(x.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]] === x[idx[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k]] = r;
    i = j + 1;
  }
  return ranks;
}

/** Spearman rank correlation = Pearson of the average ranks. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkSameLength("spearman", x, y);
  return pearson(rankAverage(x), rankAverage(y));
}

// ------------------------------------------------------------------ seqeval

export interface Entity {
  type: string;
  start: number;
  /** Inclusive end token index. */
  end: number;
}

/** seqeval's split: the prefix is the first character, the type what follows the first "-" ("_" if empty). */
function splitTag(tag: string): [string, string] {
  const rest = tag.slice(1);
  const k = rest.indexOf("-");
  const type = k >= 0 ? rest.slice(k + 1) : rest;
  return [tag.slice(0, 1), type === "" ? "_" : type];
}

/**
 * Entity spans of a BIO(ES) tag sequence with seqeval's default (non-strict) rules
 * (seqeval.metrics.sequence_labeling.get_entities): a chunk ends before B/S, O, or a type change,
 * and starts at B/S, or at an I/E that follows O or another type.
 */
export function getEntities(tags: string[]): Entity[] {
  const out: Entity[] = [];
  let prevTag = "O", prevType = "";
  let begin = 0;
  const seq = [...tags, "O"];
  for (let i = 0; i < seq.length; i++) {
    const [tag, type] = splitTag(seq[i]);
    const end = endOfChunk(prevTag, tag, prevType, type);
    if (end) out.push({ type: prevType, start: begin, end: i - 1 });
    if (startOfChunk(prevTag, tag, prevType, type)) begin = i;
    prevTag = tag;
    prevType = type;
  }
  return out;
}

function endOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (prevTag === "E" || prevTag === "S") return true;
  if (prevTag === "B" && (tag === "B" || tag === "S" || tag === "O")) return true;
  if (prevTag === "I" && (tag === "B" || tag === "S" || tag === "O")) return true;
  if (prevTag !== "O" && prevTag !== "." && prevType !== type) return true;
  return false;
}

function startOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (tag === "B" || tag === "S") return true;
  if (prevTag === "E" && (tag === "E" || tag === "I")) return true;
  if (prevTag === "S" && (tag === "E" || tag === "I")) return true;
  if (prevTag === "O" && (tag === "E" || tag === "I")) return true;
  if (tag !== "O" && tag !== "." && prevType !== type) return true;
  return false;
}

export interface SeqevalResult {
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
  perType: Record<string, { precision: number; recall: number; f1: number; support: number }>;
}

/**
 * Entity-level micro precision/recall/F1 over sentences of BIO tags (seqeval.classification_report
 * "micro avg"), plus per-type scores and token accuracy. An entity counts only when type, start
 * and end all match.
 */
export function seqevalScores(yTrue: string[][], yPred: string[][]): SeqevalResult {
  checkSameLength("seqevalScores", yTrue, yPred);
  const key = (s: number, e: Entity) => `${s}:${e.type}:${e.start}:${e.end}`;
  const trueSet = new Set<string>(), predSet = new Set<string>();
  const types = new Set<string>();
  let tokOk = 0, tokN = 0;
  for (let s = 0; s < yTrue.length; s++) {
    if (yTrue[s].length !== yPred[s].length) throw new ConfigError(`seqevalScores: sentence ${s} has ${yTrue[s].length} gold tags but ${yPred[s].length} predicted`);
    for (const e of getEntities(yTrue[s])) { trueSet.add(key(s, e)); types.add(e.type); }
    for (const e of getEntities(yPred[s])) { predSet.add(key(s, e)); types.add(e.type); }
    for (let i = 0; i < yTrue[s].length; i++) { tokN++; if (yTrue[s][i] === yPred[s][i]) tokOk++; }
  }
  const score = (filter: (k: string) => boolean) => {
    let tp = 0, nt = 0, np = 0;
    for (const k of trueSet) if (filter(k)) { nt++; if (predSet.has(k)) tp++; }
    for (const k of predSet) if (filter(k)) np++;
    const p = np === 0 ? 0 : tp / np, r = nt === 0 ? 0 : tp / nt;
    return { precision: p, recall: r, f1: p + r === 0 ? 0 : (2 * p * r) / (p + r), support: nt };
  };
  const all = score(() => true);
  const perType: SeqevalResult["perType"] = {};
  for (const t of [...types].sort()) perType[t] = score((k) => k.split(":")[1] === t);
  return { precision: all.precision, recall: all.recall, f1: all.f1, accuracy: tokN === 0 ? 0 : tokOk / tokN, perType };
}

// ------------------------------------------------------------------ SQuAD

/** The official SQuAD v1.1 normalize_answer: lowercase, drop punctuation, drop articles, collapse whitespace. */
export function normalizeAnswer(s: string): string {
  const lower = s.toLowerCase();
  // string.punctuation (ASCII) as in the official script
  const noPunc = lower.replace(/[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g, "");
  const noArticles = noPunc.replace(/\b(a|an|the)\b/g, " ");
  return noArticles.split(/\s+/).filter((w) => w.length > 0).join(" ");
}

export function squadExactMatch(prediction: string, groundTruth: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(groundTruth) ? 1 : 0;
}

/** Token-level F1 between normalised answers (bag of tokens with multiplicity). */
export function squadF1(prediction: string, groundTruth: string): number {
  const p = normalizeAnswer(prediction).split(" ").filter(Boolean);
  const g = normalizeAnswer(groundTruth).split(" ").filter(Boolean);
  const counts = new Map<string, number>();
  for (const t of g) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of p) {
    const c = counts.get(t) ?? 0;
    if (c > 0) { common++; counts.set(t, c - 1); }
  }
  if (common === 0) return 0;
  const precision = common / p.length, recall = common / g.length;
  return (2 * precision * recall) / (precision + recall);
}

/**
 * SQuAD v1.1 evaluate(): for each question the max over its gold answers, averaged, in percent.
 * A question with no gold answers (SQuAD v2 unanswerable) scores 1 when the prediction is "".
 */
export function squadScores(predictions: Record<string, string>, references: { id: string; answers: string[] }[]): { exactMatch: number; f1: number } {
  if (references.length === 0) return { exactMatch: 0, f1: 0 };
  let em = 0, f1 = 0;
  for (const r of references) {
    const pred = predictions[r.id];
    if (pred === undefined) throw new ConfigError(`squadScores: no prediction for question id '${r.id}'`);
    if (r.answers.length === 0) {
      const ok = normalizeAnswer(pred) === "" ? 1 : 0;
      em += ok;
      f1 += ok;
      continue;
    }
    em += Math.max(...r.answers.map((a) => squadExactMatch(pred, a)));
    f1 += Math.max(...r.answers.map((a) => squadF1(pred, a)));
  }
  return { exactMatch: (100 * em) / references.length, f1: (100 * f1) / references.length };
}

/** exp(mean loss). Pass per-batch losses with their token counts to weight by tokens. */
export function perplexity(losses: number[], weights?: number[]): number {
  if (losses.length === 0) throw new ConfigError("perplexity: no losses");
  if (weights && weights.length !== losses.length) throw new ConfigError(`perplexity: ${losses.length} losses but ${weights.length} weights`);
  let s = 0, w = 0;
  losses.forEach((l, i) => {
    const wi = weights ? weights[i] : 1;
    s += l * wi;
    w += wi;
  });
  return Math.exp(s / w);
}

// ------------------------------------------------------------------ translation (sacrebleu)

export { bleu, type BleuResult } from "./bleu.js";
export { chrf, type ChrfResult } from "./chrf.js";
export { rouge, type RougeResult, type RougeScore } from "./rouge.js";
export type { References } from "./references.js";
