// Truncation (the Rust `tokenizers` rules: longest_first balancing, only_first, only_second) and
// padding (transformers: padding side, pad id, attention mask 0) of encoded sequences.

import { ConfigError } from "../tensor/errors.js";
import type { BatchEncoding, EncodingWithOffsets, Seq } from "./tokenizer_types.js";

/** The Rust tokenizers truncation rules; `budget` excludes the special tokens; `side` is where tokens are cut. */
export function truncatePair(a: Seq, b: Seq | null, budget: number, strategy: string, side: "right" | "left"): [Seq, Seq | null] {
  const cut = (s: Seq, n: number): Seq => {
    if (s.ids.length <= n) return s;
    const [lo, hi] = side === "left" ? [s.ids.length - n, s.ids.length] : [0, n];
    return { ids: s.ids.slice(lo, hi), tokens: s.tokens.slice(lo, hi), offsets: s.offsets.slice(lo, hi), wordIds: s.wordIds.slice(lo, hi) };
  };
  const la = a.ids.length, lb = b ? b.ids.length : 0;
  if (la + lb <= budget) return [a, b];
  if (budget < 0) throw new ConfigError(`truncation: maxLength is smaller than the number of special tokens the template adds (${budget} tokens left)`);
  if (!b) {
    if (strategy === "only_second") throw new ConfigError("truncation 'only_second' needs a text pair");
    return [cut(a, budget), null];
  }
  if (strategy === "only_first" || strategy === "only_second") {
    const target = strategy === "only_first" ? a : b;
    const other = strategy === "only_first" ? lb : la;
    if (other >= budget) {
      throw new ConfigError(`truncation '${strategy}': the other sequence has ${other} tokens, leaving no room within maxLength (${budget} tokens without special tokens)`);
    }
    const t = cut(target, budget - other);
    return strategy === "only_first" ? [t, b] : [a, t];
  }
  // longest_first: balance the two, the longer one keeps the odd token.
  let n1 = la, n2 = lb;
  const swap = n1 > n2;
  if (swap) [n1, n2] = [n2, n1];
  n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = Math.floor(budget / 2);
    n2 = n1 + (budget % 2);
  }
  if (swap) [n1, n2] = [n2, n1];
  return [cut(a, n1), cut(b, n2)];
}

export interface PadOptions {
  /** Target length (null: no padding). */
  padTo: number | null;
  side: "right" | "left";
  padTokenId: number;
  padTokenTypeId: number;
}

/** Pads every encoding to opts.padTo into a BatchEncoding (attention mask 1 on tokens, 0 on padding). */
export function padEncodings(encs: EncodingWithOffsets[], opts: PadOptions): BatchEncoding {
  const { padTo } = opts;
  const out: BatchEncoding = { inputIds: [], attentionMask: [], tokenTypeIds: [], wordIds: [], offsets: [], sequenceIds: [], specialTokensMask: [] };
  for (const e of encs) {
    const n = padTo !== null ? Math.max(0, padTo - e.ids.length) : 0;
    const pad = <T>(arr: T[], v: T): T[] => {
      if (n === 0) return arr;
      const p = new Array<T>(n).fill(v);
      return opts.side === "left" ? [...p, ...arr] : [...arr, ...p];
    };
    out.inputIds.push(pad(e.ids, opts.padTokenId));
    out.attentionMask.push(pad(new Array<number>(e.ids.length).fill(1), 0));
    out.tokenTypeIds.push(pad(e.typeIds, opts.padTokenTypeId));
    out.wordIds.push(pad<number | null>(e.wordIds, null));
    out.offsets.push(n === 0 ? e.offsets : pad<[number, number]>(e.offsets, [0, 0]).map((o) => [o[0], o[1]] as [number, number]));
    out.sequenceIds.push(pad<number | null>(e.sequenceIds, null));
    out.specialTokensMask.push(pad(e.specialMask, 1));
  }
  return out;
}
