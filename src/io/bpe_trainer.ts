// A byte-level BPE vocabulary trainer (GPT-2 style: the text's UTF-8 bytes as 256 printable
// characters, words split by GPT-2's pre-tokenizer regex), writing a Hugging Face tokenizer.json
// (model BPE, pre_tokenizer/decoder ByteLevel, a `$A </s>` template). Byte-level means every string
// round-trips exactly through encode/decode, with no unknown token. Deterministic: the most frequent
// pair is merged first, ties broken by the smaller (left id, right id), i.e. the earlier-made symbols.

import { ConfigError } from "../tensor/errors.js";

/** GPT-2's pre-tokenizer split (what ByteLevel's use_regex applies). */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** The byte → printable character table of GPT-2's byte-level BPE. */
export function byteLevelAlphabet(): string[] {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const table = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = keep.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  return table;
}

export interface BpeTrainOptions {
  /** Total vocabulary size, special tokens included (≥ 256 + specials). */
  vocabSize: number;
  /** Special tokens, given the first ids in this order (e.g. ["</s>", "<unk>", "<pad>"]). */
  specialTokens: string[];
  /** Appended by the post-processor to every sequence (null: none). */
  eosToken?: string | null;
  /** Pairs seen fewer times are not merged (default 2). */
  minFrequency?: number;
}

export interface BpeTrainResult {
  tokenizerJson: Record<string, unknown>;
  vocab: Map<string, number>;
  merges: [string, string][];
}

const KEY = 1 << 16;

/** Trains byte-level BPE on texts; the result's tokenizerJson is a complete tokenizer.json object. */
export function trainByteLevelBpe(texts: Iterable<string>, o: BpeTrainOptions): BpeTrainResult {
  const alphabet = byteLevelAlphabet();
  const nSpecial = o.specialTokens.length;
  if (!Number.isInteger(o.vocabSize) || o.vocabSize < 256 + nSpecial || o.vocabSize >= KEY) {
    throw new ConfigError(`bpe vocab_size: expected an integer in [${256 + nSpecial}, ${KEY - 1}], got ${o.vocabSize}`);
  }
  if (o.eosToken && !o.specialTokens.includes(o.eosToken)) throw new ConfigError(`bpe eos_token '${o.eosToken}' is not among special_tokens`);
  const minFrequency = o.minFrequency ?? 2;
  const enc = new TextEncoder();

  // word counts (the byte-level form of each pre-token)
  const counts = new Map<string, number>();
  for (const t of texts) for (const m of t.matchAll(GPT2_SPLIT)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  const words = [...counts.keys()].sort();
  const freq = words.map((w) => counts.get(w)!);
  // symbols: ids 0..255 = bytes, then merged symbols; vocab ids are shifted by nSpecial at the end
  const symbols: string[] = alphabet.slice();
  const seqs: number[][] = words.map((w) => Array.from(enc.encode(w)));

  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const add = (a: number, b: number, w: number, c: number) => {
    const k = a * KEY + b;
    pairCount.set(k, (pairCount.get(k) ?? 0) + c);
    let s = pairWords.get(k);
    if (!s) pairWords.set(k, (s = new Set()));
    s.add(w);
  };
  seqs.forEach((s, w) => { for (let i = 0; i + 1 < s.length; i++) add(s[i], s[i + 1], w, freq[w]); });

  const merges: [string, string][] = [];
  const target = o.vocabSize - nSpecial;
  while (symbols.length < target) {
    let best = -1, bestCount = 0;
    for (const [k, c] of pairCount) if (c > bestCount || (c === bestCount && c > 0 && k < best)) { best = k; bestCount = c; }
    if (best < 0 || bestCount < minFrequency) break;
    const a = Math.floor(best / KEY), b = best % KEY, id = symbols.length;
    symbols.push(symbols[a] + symbols[b]);
    merges.push([symbols[a], symbols[b]]);
    for (const w of pairWords.get(best)!) {
      const s = seqs[w], c = freq[w];
      for (let i = 0; i + 1 < s.length; i++) pairCount.set(s[i] * KEY + s[i + 1], pairCount.get(s[i] * KEY + s[i + 1])! - c);
      const out: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) { out.push(id); i++; } else out.push(s[i]);
      }
      seqs[w] = out;
      for (let i = 0; i + 1 < out.length; i++) add(out[i], out[i + 1], w, c);
    }
    pairCount.delete(best);
    pairWords.delete(best);
  }

  const vocab = new Map<string, number>();
  o.specialTokens.forEach((t, i) => vocab.set(t, i));
  symbols.forEach((s, i) => vocab.set(s, i + nSpecial));
  return { tokenizerJson: tokenizerJsonOf(vocab, merges, o), vocab, merges };
}

function tokenizerJsonOf(vocab: Map<string, number>, merges: [string, string][], o: BpeTrainOptions): Record<string, unknown> {
  const eos = o.eosToken ?? null;
  const seq = (id: "A" | "B") => ({ Sequence: { id, type_id: 0 } });
  const eosPiece = eos ? [{ SpecialToken: { id: eos, type_id: 0 } }] : [];
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: o.specialTokens.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: "TemplateProcessing",
      single: [seq("A"), ...eosPiece],
      pair: [seq("A"), ...eosPiece, seq("B"), ...eosPiece],
      special_tokens: eos ? { [eos]: { id: eos, ids: [vocab.get(eos)!], tokens: [eos] } } : {},
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab: Object.fromEntries(vocab), merges: merges.map(([a, b]) => [a, b]),
    },
  };
}
