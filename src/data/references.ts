// The reference shapes the corpus metrics (BLEU, chrF) accept, normalised to one list of
// references per prediction.

import { ConfigError } from "../tensor/errors.js";

/**
 * References for corpus metrics, in one of three shapes:
 * - `string[]`: one reference per prediction;
 * - `(string | string[])[]`: per prediction, one reference or a list of them (HF `evaluate`'s
 *   shape; the count may vary between predictions);
 * - `{ streams }`: sacrebleu's shape, a list of reference streams each as long as the
 *   predictions (`streams[k][i]` is prediction i's k-th reference; `null` leaves it out).
 */
export type References = (string | string[])[] | { streams: (string | null)[][] };

/** Per prediction, its references; checks the counts and types. */
export function referencesPerPrediction(op: string, predictions: string[], references: References): string[][] {
  if (!Array.isArray(predictions) || predictions.some((p) => typeof p !== "string")) throw new ConfigError(`${op}: predictions must be an array of strings`);
  if (predictions.length === 0) throw new ConfigError(`${op}: no predictions`);
  const n = predictions.length;
  let out: string[][];
  if (Array.isArray(references)) {
    if (references.length !== n) {
      throw new ConfigError(`${op}: ${n} predictions but ${references.length} references; expected one entry (a string or a list of strings) per prediction, or { streams } in sacrebleu's shape`);
    }
    out = references.map((r) => (typeof r === "string" ? [r] : r));
  } else if (references && Array.isArray(references.streams)) {
    const bad = references.streams.findIndex((s) => !Array.isArray(s) || s.length !== n);
    if (bad >= 0) throw new ConfigError(`${op}: reference stream ${bad} does not have ${n} entries (one per prediction)`);
    out = predictions.map((_, i) => references.streams.map((s) => s[i]).filter((x): x is string => x !== null && x !== undefined));
  } else {
    throw new ConfigError(`${op}: references must be an array (one entry per prediction) or { streams: string[][] }`);
  }
  out.forEach((refs, i) => {
    if (!Array.isArray(refs) || refs.some((r) => typeof r !== "string")) throw new ConfigError(`${op}: references for prediction ${i} must be strings`);
    if (refs.length === 0) throw new ConfigError(`${op}: prediction ${i} has no reference`);
  });
  return out;
}

/** sacrebleu's nrefs signature field: the count when every prediction has the same, else "var". */
export function nrefsField(refs: string[][]): string {
  const counts = new Set(refs.map((r) => r.length));
  return counts.size === 1 ? String(refs[0].length) : "var";
}

/** The sacrebleu release whose scores ours equal (the signature's version field names both). */
export const SACREBLEU_VERSION = "2.6.0";
export const SIGNATURE_VERSION = `peft-ts+sacrebleu-${SACREBLEU_VERSION}`;
