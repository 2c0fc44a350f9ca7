// Extractive question answering (SQuAD format), following transformers' run_qa.py:
// question + context are encoded as a pair; a context longer than maxLength is cut into
// overlapping windows (docStride tokens of overlap); each window gets the answer's start/end
// token positions, or the CLS index when the answer is not fully inside it (or there is none).
// Postprocessing takes the n-best start/end logits per window, keeps valid spans inside the
// context, maps them back to character offsets and picks the best text per example.

import { ConfigError } from "../../tensor/errors.js";
import { Dataset, Row } from "../datasets.js";
import type { TaskTokenizer } from "./types.js";

export interface QaOptions {
  maxLength?: number;
  docStride?: number;
  questionColumn?: string;
  contextColumn?: string;
  answersColumn?: string;
  idColumn?: string;
}

export interface QaFeature {
  inputIds: number[];
  attentionMask: number[];
  tokenTypeIds: number[];
  /** Train features: the answer's token positions (CLS index when absent from the window). */
  startPositions?: number;
  endPositions?: number;
  /** Index of the source example (row) and its id. */
  exampleIndex: number;
  exampleId: string;
  /** Character span in the context for context tokens; null elsewhere (question, specials). */
  offsetMapping: ([number, number] | null)[];
  /** Position of the CLS token (the no-answer target and null score). */
  clsIndex: number;
  [extra: string]: unknown;
}

interface Window {
  ids: number[];
  typeIds: number[];
  offsets: ([number, number] | null)[];
  /** Token index range of the context inside the window (inclusive). */
  ctxStart: number;
  ctxEnd: number;
  clsIndex: number;
}

/**
 * Encodes question + context once, then slides a window over the context tokens:
 * window = prefix (specials, question, separators) + context slice + suffix specials. This is
 * what the Rust tokenizer's truncation="only_second" with return_overflowing_tokens/stride yields.
 */
export function qaWindows(tokenizer: TaskTokenizer, question: string, context: string, maxLength: number, docStride: number): Window[] {
  const enc = tokenizer.encodeWithOffsets(question, { textPair: context, addSpecialTokens: true });
  const seq = enc.sequenceIds;
  const first = seq.indexOf(1);
  const last = seq.lastIndexOf(1);
  const n = enc.ids.length;
  // an empty context has no tokens: the window is the prefix/suffix only
  const pre = first < 0 ? n : first;
  const post = first < 0 ? n : last + 1;
  const fixed = pre + (n - post);
  const avail = maxLength - fixed;
  if (avail <= 0) throw new ConfigError(`qa: question of ${pre} tokens (with specials) leaves no room for the context in maxLength ${maxLength}`);
  if (docStride >= avail) throw new ConfigError(`qa: docStride ${docStride} must be smaller than the context room per window (${avail} tokens at maxLength ${maxLength})`);
  const ctxLen = post - pre;
  const cls = tokenizer.clsTokenId ?? null;
  const windows: Window[] = [];
  for (let s = 0; ; s += avail - docStride) {
    const e = Math.min(ctxLen, s + avail);
    const idx = [...range(0, pre), ...range(pre + s, pre + e), ...range(post, n)];
    const ids = idx.map((k) => enc.ids[k]);
    const offsets = idx.map((k) => (seq[k] === 1 ? ([enc.offsets[k][0], enc.offsets[k][1]] as [number, number]) : null));
    const clsIndex = cls !== null && ids.indexOf(cls) >= 0 ? ids.indexOf(cls) : 0;
    windows.push({ ids, typeIds: idx.map((k) => enc.typeIds[k]), offsets, ctxStart: pre, ctxEnd: pre + (e - s) - 1, clsIndex });
    if (e >= ctxLen) break;
  }
  return windows;
}

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i < b; i++) out.push(i);
  return out;
}

function columnsOf(opts: QaOptions) {
  return {
    q: opts.questionColumn ?? "question",
    c: opts.contextColumn ?? "context",
    a: opts.answersColumn ?? "answers",
    id: opts.idColumn ?? "id",
  };
}

/** Token positions of the first answer inside a window, or [clsIndex, clsIndex]. */
export function answerTokenPositions(w: Window, startChar: number | null, endChar: number | null): [number, number] {
  if (startChar === null || endChar === null || w.ctxEnd < w.ctxStart) return [w.clsIndex, w.clsIndex];
  const off = w.offsets;
  if (!(off[w.ctxStart]![0] <= startChar && off[w.ctxEnd]![1] >= endChar)) return [w.clsIndex, w.clsIndex];
  let s = w.ctxStart;
  while (s <= w.ctxEnd && off[s]![0] <= startChar) s++;
  let e = w.ctxEnd;
  while (e >= w.ctxStart && off[e]![1] >= endChar) e--;
  return [s - 1, e + 1];
}

function preprocess(ds: Dataset<Row>, tokenizer: TaskTokenizer, opts: QaOptions, train: boolean): Dataset<QaFeature> {
  const maxLength = opts.maxLength ?? 384;
  const docStride = opts.docStride ?? 128;
  const col = columnsOf(opts);
  return ds.flatMap((row, i) => {
    const question = String(row[col.q] ?? "").replace(/^\s+/, ""); // run_qa strips the question's left whitespace
    const context = row[col.c];
    if (typeof context !== "string") throw new ConfigError(`qa: row ${i} has no string '${col.c}' column`);
    let startChar: number | null = null, endChar: number | null = null;
    if (train) {
      const ans = row[col.a];
      if (!ans || !Array.isArray(ans.text) || !Array.isArray(ans.answerStart ?? ans.answer_start)) {
        throw new ConfigError(`qa: row ${i} column '${col.a}' must be {text: string[], answerStart: number[]}`);
      }
      const starts = ans.answerStart ?? ans.answer_start;
      if (ans.text.length > 0) {
        startChar = starts[0];
        endChar = startChar! + ans.text[0].length;
      }
    }
    return qaWindows(tokenizer, question, context, maxLength, docStride).map((w) => {
      const f: QaFeature = {
        inputIds: w.ids,
        attentionMask: w.ids.map(() => 1),
        tokenTypeIds: w.typeIds,
        exampleIndex: i,
        exampleId: String(row[col.id] ?? i),
        offsetMapping: w.offsets,
        clsIndex: w.clsIndex,
      };
      if (train) [f.startPositions, f.endPositions] = answerTokenPositions(w, startChar, endChar);
      return f;
    });
  });
}

/** Training features (with startPositions/endPositions) — one or more windows per example. */
export function prepareQaTrainFeatures(ds: Dataset<Row>, tokenizer: TaskTokenizer, opts: QaOptions = {}): Dataset<QaFeature> {
  return preprocess(ds, tokenizer, opts, true);
}

/** Evaluation features (exampleId + offsetMapping kept for postprocessing). */
export function prepareQaEvalFeatures(ds: Dataset<Row>, tokenizer: TaskTokenizer, opts: QaOptions = {}): Dataset<QaFeature> {
  return preprocess(ds, tokenizer, opts, false);
}

export interface QaPostprocessOptions {
  nBestSize?: number;
  maxAnswerLength?: number;
  /** SQuAD v2: allow "" when the null (CLS) score beats the best span by more than nullScoreDiffThreshold. */
  versionTwoWithNegative?: boolean;
  nullScoreDiffThreshold?: number;
  contextColumn?: string;
  idColumn?: string;
}

export interface QaCandidate {
  text: string;
  score: number;
  startLogit: number;
  endLogit: number;
  /** Character offsets in the context (-1 for the null answer). */
  start: number;
  end: number;
}

function topIndices(x: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[b] - x[a] || a - b).slice(0, k);
}

/**
 * postprocess_qa_predictions: per example, gather candidates over its windows from the top
 * nBestSize start × end logits; a span is valid when both ends are context tokens, end ≥ start,
 * and length ≤ maxAnswerLength. The prediction is the best span's context text.
 */
export function postprocessQaPredictions(
  examples: Dataset<Row>,
  features: Dataset<QaFeature> | QaFeature[],
  startLogits: ArrayLike<number>[],
  endLogits: ArrayLike<number>[],
  opts: QaPostprocessOptions = {},
): { predictions: Record<string, string>; nbest: Record<string, QaCandidate[]> } {
  const feats = Array.isArray(features) ? features : features.toArray();
  if (startLogits.length !== feats.length || endLogits.length !== feats.length) {
    throw new ConfigError(`postprocessQaPredictions: ${feats.length} features but ${startLogits.length} start / ${endLogits.length} end logit rows`);
  }
  const nBest = opts.nBestSize ?? 20;
  const maxLen = opts.maxAnswerLength ?? 30;
  const ctxCol = opts.contextColumn ?? "context";
  const idCol = opts.idColumn ?? "id";
  const byExample = new Map<number, number[]>();
  feats.forEach((f, k) => {
    const l = byExample.get(f.exampleIndex) ?? [];
    l.push(k);
    byExample.set(f.exampleIndex, l);
  });
  const predictions: Record<string, string> = {};
  const nbestOut: Record<string, QaCandidate[]> = {};
  for (let i = 0; i < examples.length; i++) {
    const ex = examples.get(i);
    const id = String(ex[idCol] ?? i);
    const context: string = ex[ctxCol];
    let minNull: number | null = null;
    let nullCand: QaCandidate | null = null;
    const cands: QaCandidate[] = [];
    for (const k of byExample.get(i) ?? []) {
      const sl = startLogits[k], el = endLogits[k];
      const off = feats[k].offsetMapping;
      if (sl.length < off.length || el.length < off.length) throw new ConfigError(`postprocessQaPredictions: feature ${k} has ${off.length} tokens but ${sl.length}/${el.length} logits`);
      const clsIdx = feats[k].clsIndex ?? 0;
      const nullScore = sl[clsIdx] + el[clsIdx];
      if (minNull === null || nullScore < minNull) {
        minNull = nullScore;
        nullCand = { text: "", score: nullScore, startLogit: sl[clsIdx], endLogit: el[clsIdx], start: -1, end: -1 };
      }
      const starts = topIndices(Array.from({ length: off.length }, (_, t) => sl[t]), nBest);
      const ends = topIndices(Array.from({ length: off.length }, (_, t) => el[t]), nBest);
      for (const s of starts) {
        for (const e of ends) {
          const os = off[s], oe = off[e];
          if (!os || !oe) continue;
          if (e < s || e - s + 1 > maxLen) continue;
          cands.push({ text: context.slice(os[0], oe[1]), score: sl[s] + el[e], startLogit: sl[s], endLogit: el[e], start: os[0], end: oe[1] });
        }
      }
    }
    cands.sort((a, b) => b.score - a.score);
    let top = cands.slice(0, nBest);
    if (opts.versionTwoWithNegative && nullCand) {
      top = [...top, nullCand].sort((a, b) => b.score - a.score).slice(0, nBest);
      if (!top.includes(nullCand)) top.push(nullCand);
    }
    if (top.length === 0) top = [{ text: "", score: 0, startLogit: 0, endLogit: 0, start: -1, end: -1 }];
    nbestOut[id] = top;
    if (!opts.versionTwoWithNegative) {
      predictions[id] = top[0].text;
    } else {
      const best = top.find((c) => c.start >= 0);
      const thr = opts.nullScoreDiffThreshold ?? 0;
      predictions[id] = !best || (nullCand !== null && nullCand.score - best.score > thr) ? "" : best.text;
    }
  }
  return { predictions, nbest: nbestOut };
}
