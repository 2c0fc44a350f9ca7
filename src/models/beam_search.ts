// Beam search with the semantics (and option names) of transformers' generate(num_beams > 1):
// the vectorised _beam_search of transformers 5.x, step for step. Per batch item it keeps
// `numBeams` running beams and `numBeams` finished hypotheses; each step takes the top
// 2·numBeams (more with several EOS ids) continuations over all beams, sends those that hit EOS
// or the length limit (and are among the first numBeams) to the finished set, scored
// logprob / generated_len^length_penalty, and keeps the best numBeams others running. Stopping:
// early_stopping true → when every item has numBeams finished hypotheses; false → when the best
// running beam, scored at the current length, cannot beat the worst finished one; "never" → the
// same with the best possible length (max length when length_penalty > 0). Scores are float32 as
// in PyTorch (Math.fround after each operation) so that near-ties break the same way.
//
// The search knows nothing about the model: a BeamSearchModel gives next-token logits for the
// current sequences and a cache handle, and reorders that cache by beam index. Decoder-only
// models (generate.ts) and encoder–decoders plug in the same way.

import { ConfigError, ShapeError } from "../tensor/errors.js";

export interface BeamSearchModel<C> {
  /**
   * Next-token logits for every row of `sequences` ([batch·numBeams] rows, beam-major per batch
   * item: row b·numBeams + k is beam k of item b), given the cache the previous call returned
   * (undefined on the first call, when the rows are the prompts). Returns [rows·V] logits.
   */
  step(sequences: number[][], cache: C | undefined): { logits: Float32Array; vocabSize: number; cache: C };
  /** The cache whose row r is row beamIdx[r] of `cache` (HF's _reorder_cache / Cache.reorder_cache). */
  reorderCache(cache: C, beamIdx: number[]): C;
}

export interface BeamSearchOptions {
  numBeams: number;
  /** Tokens to add at most. */
  maxNewTokens: number;
  /** EOS cannot be chosen before this many new tokens (HF min_new_tokens). */
  minNewTokens?: number;
  /** Finished hypotheses are scored sum(logprob) / generated_len^lengthPenalty (HF default 1). */
  lengthPenalty?: number;
  /** HF early_stopping: false (default, a heuristic), true, or "never". */
  earlyStopping?: boolean | "never";
  /** Bans any token that would repeat an n-gram of this size already in the row (0 = off). */
  noRepeatNgramSize?: number;
  /** HF repetition_penalty applied to the log-probs of tokens already in the row (1 = off). */
  repetitionPenalty?: number;
  /** Best hypotheses to return per item (≤ numBeams, default 1). */
  numReturnSequences?: number;
  eosTokenIds: number[];
  /** Fills rows after their end: HF's `pad_token_id or eos_token_id[0]`, or −1 without EOS. */
  padTokenId?: number;
  /** Processors applied after the ones above to a row's log-probs (forced BOS/EOS), given the tokens generated so far. */
  processLogProbs?: (logProbs: Float32Array, generated: number) => void;
}

const NEG = -1e9;
const f = Math.fround;

/** In-place float32 log-softmax of one row (PyTorch's: x − max − log Σ exp(x − max)). */
function logSoftmaxRow(x: Float32Array, off: number, V: number, out: Float32Array): void {
  let mx = -Infinity;
  for (let i = 0; i < V; i++) if (x[off + i] > mx) mx = x[off + i];
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(x[off + i] - mx);
  const lz = Math.log(z);
  for (let i = 0; i < V; i++) out[i] = f(f(x[off + i] - mx) - lz);
}

/** Tokens that would complete an n-gram already present in `row` (HF NoRepeatNGramLogitsProcessor). */
export function bannedNgramTokens(row: number[], n: number): number[] {
  const L = row.length;
  if (n <= 0 || L < n) return [];
  const banned: number[] = [];
  for (let s = 0; s + n <= L; s++) {
    let match = true;
    for (let j = 0; j < n - 1 && match; j++) match = row[s + j] === row[L - n + 1 + j];
    if (match) banned.push(row[s + n - 1]);
  }
  return banned;
}

/** The HF logits processors beam search uses, applied to one row's log-probs. */
function processRow(lp: Float32Array, row: number[], generated: number, o: Required<Pick<BeamSearchOptions, "minNewTokens" | "noRepeatNgramSize" | "repetitionPenalty" | "eosTokenIds">>): void {
  const V = lp.length;
  if (o.repetitionPenalty !== 1) {
    for (const id of new Set(row)) {
      if (id < 0 || id >= V) continue;
      lp[id] = lp[id] < 0 ? f(lp[id] * o.repetitionPenalty) : f(lp[id] / o.repetitionPenalty);
    }
  }
  if (o.noRepeatNgramSize > 0) for (const t of bannedNgramTokens(row, o.noRepeatNgramSize)) lp[t] = -Infinity;
  if (generated < o.minNewTokens) for (const e of o.eosTokenIds) if (e >= 0 && e < V) lp[e] = -Infinity;
}

/** Indices of the k largest values, largest first; equal values keep their index order. */
function topK(values: ArrayLike<number>, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (idx.length === k && !(v > values[idx[k - 1]])) continue;
    let p = idx.length === k ? k - 1 : idx.length;
    while (p > 0 && values[idx[p - 1]] < v) p--;
    idx.splice(p, 0, i);
    if (idx.length > k) idx.pop();
  }
  return idx;
}

interface Hyp {
  seq: number[];
  score: number;
  finished: boolean;
}

function checkOptions(o: BeamSearchOptions): void {
  const intAtLeast = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new ConfigError(`beam search: ${name} must be an integer ≥ ${min}, got ${v}`);
  };
  intAtLeast("numBeams", o.numBeams, 1);
  intAtLeast("maxNewTokens", o.maxNewTokens, 1);
  intAtLeast("minNewTokens", o.minNewTokens ?? 0, 0);
  intAtLeast("noRepeatNgramSize", o.noRepeatNgramSize ?? 0, 0);
  intAtLeast("numReturnSequences", o.numReturnSequences ?? 1, 1);
  if ((o.numReturnSequences ?? 1) > o.numBeams) throw new ConfigError(`beam search: numReturnSequences (${o.numReturnSequences}) must be ≤ numBeams (${o.numBeams})`);
  if (!(o.earlyStopping === undefined || typeof o.earlyStopping === "boolean" || o.earlyStopping === "never")) {
    throw new ConfigError(`beam search: earlyStopping must be true, false or "never", got ${JSON.stringify(o.earlyStopping)}`);
  }
  if (!Number.isFinite(o.lengthPenalty ?? 1)) throw new ConfigError(`beam search: lengthPenalty must be a finite number, got ${o.lengthPenalty}`);
  if (!((o.repetitionPenalty ?? 1) > 0)) throw new ConfigError(`beam search: repetitionPenalty must be > 0, got ${o.repetitionPenalty}`);
}

/**
 * Beam search from `prompts` (one row per batch item, all the same length: left-pad first).
 * Returns numReturnSequences rows per item (item-major), each the prompt plus its tokens, padded
 * to the longest returned hypothesis as HF does.
 */
export function beamSearch<C>(model: BeamSearchModel<C>, prompts: number[][], opts: BeamSearchOptions): number[][] {
  checkOptions(opts);
  if (prompts.length === 0 || prompts.some((p) => p.length === 0 || p.length !== prompts[0].length)) {
    throw new ShapeError("beam search: prompts must be non-empty rows of one length (left-pad a ragged batch)");
  }
  const B = prompts.length, nb = opts.numBeams;
  const P = prompts[0].length;
  const maxLen = P + opts.maxNewTokens;
  const lp = opts.lengthPenalty ?? 1;
  const early = opts.earlyStopping ?? false;
  const eos = opts.eosTokenIds;
  const proc = { minNewTokens: opts.minNewTokens ?? 0, noRepeatNgramSize: opts.noRepeatNgramSize ?? 0, repetitionPenalty: opts.repetitionPenalty ?? 1, eosTokenIds: eos };
  const fill = eos.length === 0 ? -1 : opts.padTokenId ? opts.padTokenId : eos[0];
  const keep = Math.max(2, 1 + eos.length) * nb;
  const lenPen = (n: number) => f(n ** lp);
  // running[b][k] (best first) and finished[b][k]; only the first beam of each item starts live
  const running: Hyp[][] = prompts.map((p) => Array.from({ length: nb }, (_, k) => ({ seq: p.slice(), score: k === 0 ? 0 : NEG, finished: false })));
  const finished: Hyp[][] = prompts.map((p) => Array.from({ length: nb }, () => ({ seq: p.slice(), score: NEG, finished: false })));
  const improvable = new Array<boolean>(B).fill(true);
  let cache: C | undefined;
  for (let cur = P; ; cur++) {
    const rows = running.flatMap((r) => r.map((h) => h.seq));
    const out = model.step(rows, cache);
    const V = out.vocabSize;
    if (keep > nb * V) throw new ConfigError(`beam search: ${nb} beams keep ${keep} candidates a step, more than the ${nb * V} there are (vocabulary ${V})`);
    cache = out.cache;
    const lpRow = new Float32Array(V);
    const allHit: boolean[] = [];
    const srcBeam: number[] = [];
    for (let b = 0; b < B; b++) {
      // accumulated scores of every (beam, token), flattened beam-major as HF's [num_beams·V]
      const acc = new Float32Array(nb * V);
      for (let k = 0; k < nb; k++) {
        const r = b * nb + k;
        logSoftmaxRow(out.logits, r * V, V, lpRow);
        processRow(lpRow, rows[r], cur - P, proc);
        opts.processLogProbs?.(lpRow, cur - P);
        const s = running[b][k].score;
        for (let v = 0; v < V; v++) acc[k * V + v] = f(lpRow[v] + s);
      }
      const top = topK(acc, keep);
      const cand = top.map((i) => {
        const beam = Math.floor(i / V), tok = i % V;
        const hit = cur + 1 >= maxLen || eos.includes(tok);
        allHit.push(hit);
        return { beam, seq: [...running[b][beam].seq, tok], score: acc[i], hit };
      });
      // e. the best numBeams candidates that did not finish keep running
      const runScores = cand.map((c) => f(c.score + (c.hit ? NEG : 0)));
      const next = topK(runScores, nb).map((j) => ({ beam: cand[j].beam, hyp: { seq: cand[j].seq, score: runScores[j], finished: false } }));
      // f. finished candidates among the first numBeams join the finished set when good enough
      const full = early === true && finished[b].every((h) => h.finished);
      const merged: Hyp[] = [...finished[b]];
      cand.forEach((c, j) => {
        const done = c.hit && j < nb;
        let s = f(c.score / lenPen(cur + 1 - P));
        if (full) s = f(s + NEG);
        if (!improvable[b]) s = f(s + NEG);
        if (!done) s = f(s + NEG);
        merged.push({ seq: c.seq, score: s, finished: done });
      });
      finished[b] = topK(merged.map((h) => h.score), nb).map((j) => merged[j]);
      running[b] = next.map((x) => x.hyp);
      for (const x of next) srcBeam.push(b * nb + x.beam);
    }
    // g. the cache follows the beams it came from
    cache = model.reorderCache(cache, srcBeam);
    const curLen = cur + 1;
    for (let b = 0; b < B; b++) {
      const bestLen = early === "never" && lp > 0 ? maxLen - P : curLen - P;
      const bestPossible = f(running[b][0].score / lenPen(bestLen));
      const minFinished = Math.min(...finished[b].map((h) => h.score));
      improvable[b] = improvable[b] && finished[b].some((h) => bestPossible > (h.finished ? minFinished : NEG));
    }
    const allDone = early === true && finished.every((fs) => fs.every((h) => h.finished));
    if (!improvable.some(Boolean) || allDone || allHit.every(Boolean)) break;
  }
  const nr = opts.numReturnSequences ?? 1;
  const chosen = finished.flatMap((fs) => fs.slice(0, nr).map((h) => h.seq));
  const width = Math.max(...chosen.map((s) => s.length));
  return chosen.map((s) => [...s, ...new Array<number>(width - s.length).fill(fill)]);
}
