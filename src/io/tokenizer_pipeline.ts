// The encode pipeline: added-token split → normalize → pre-tokenize → model, driven one
// component of @huggingface/tokenizers at a time so that every token can be traced back to a
// character span of the original text (offsets) and to its pre-tokenized word (word ids).
// Offsets are UTF-16 indices into the JS string (text.slice(start, end) is the token's span).

import type { Tokenizer as HFTokenizer } from "@huggingface/tokenizers";
import { ConfigError } from "../tensor/errors.js";
import type { Json } from "./tokenizer_files.js";
import { collectTypes } from "./tokenizer_post.js";
import type { Seq } from "./tokenizer_types.js";

export interface AddedTok {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
}

/** GPT-2's reversible byte ↔ printable-unicode table (the published construction). */
function byteLevelTable(): Map<string, number> {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const set = new Set(printable);
  const map = new Map<string, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (set.has(b)) map.set(String.fromCharCode(b), b);
    else map.set(String.fromCharCode(256 + extra++), b);
  }
  return map;
}
const UNICODE_TO_BYTE = byteLevelTable();

function utf8Len(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) { n += 4; i++; }
    else n += 3;
  }
  return n;
}

/** For each UTF-8 byte of s: the UTF-16 index where its character starts and ends. */
function byteToUnits(s: string): { start: Int32Array; end: Int32Array } {
  const n = utf8Len(s);
  const start = new Int32Array(n), end = new Int32Array(n);
  let b = 0;
  for (let i = 0; i < s.length;) {
    const cp = s.codePointAt(i)!;
    const units = cp > 0xffff ? 2 : 1;
    const bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let k = 0; k < bytes; k++) {
      start[b + k] = i;
      end[b + k] = i + units;
    }
    b += bytes;
    i += units;
  }
  return { start, end };
}

function isWs(c: string): boolean {
  return /\s/u.test(c);
}

/** Added tokens, normalization with alignment, pre-tokenization and the model, for one tokenizer.json. */
export class EncodePipeline {
  readonly added: AddedTok[];
  readonly addedByContent = new Map<string, AddedTok>();
  /** Byte-level BPE (GPT-2 style pre-tokenizer). */
  readonly byteLevel: boolean;
  private readonly rawSplitter: Map<string, string[]>;
  private readonly normSplitter: Map<string, string[]>;
  private readonly metaspace: string | null;
  private readonly modelType: string;
  private readonly subwordPrefix: string;
  private readonly wordSuffix: string;
  private readonly byteFallback: boolean;
  private readonly normCache = new Map<string, string>();

  /** trimOffsets: the post-processor trims whitespace from the offsets (ByteLevel trim_offsets). */
  constructor(tokenizerJson: Json, private readonly config: Json, private readonly backend: HFTokenizer, private readonly trimOffsets: boolean) {
    this.added = (tokenizerJson.added_tokens ?? []).map((t: Json) => ({
      id: t.id, content: t.content, special: !!t.special, lstrip: !!t.lstrip, rstrip: !!t.rstrip, normalized: !!t.normalized,
    }));
    for (const a of this.added) this.addedByContent.set(a.content, a);
    const hasNormalizer = !!tokenizerJson.normalizer;
    this.rawSplitter = this.buildSplitter(this.added.filter((a) => !a.normalized || !hasNormalizer).map((a) => a.content));
    this.normSplitter = this.buildSplitter(
      this.added.filter((a) => a.normalized && hasNormalizer).map((a) => {
        const n = this.normalizeWhole(a.content);
        if (n !== a.content) this.addedByContent.set(n, a);
        return n;
      }),
    );

    const model = tokenizerJson.model ?? {};
    this.modelType = model.type ?? (model.merges ? "BPE" : Array.isArray(model.vocab) ? "Unigram" : "WordPiece");
    this.subwordPrefix = model.continuing_subword_prefix ?? (this.modelType === "WordPiece" ? "##" : "");
    this.wordSuffix = model.end_of_word_suffix ?? "";
    this.byteFallback = !!model.byte_fallback;
    const pre = collectTypes(tokenizerJson.pre_tokenizer);
    this.byteLevel = pre.some((p) => p.type === "ByteLevel");
    const ms = pre.find((p) => p.type === "Metaspace");
    this.metaspace = ms ? (ms.replacement ?? "▁") : null;
  }

  private buildSplitter(contents: string[]): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const c of contents) {
      if (c.length === 0) continue;
      const k = c[0];
      if (!m.has(k)) m.set(k, []);
      m.get(k)!.push(c);
    }
    for (const l of m.values()) l.sort((x, y) => y.length - x.length);
    return m;
  }

  /** Splits text at added-token occurrences (leftmost, longest): [start, end, isAdded][]. */
  private splitAdded(text: string, splitter: Map<string, string[]>): [number, number, boolean][] {
    const out: [number, number, boolean][] = [];
    if (splitter.size === 0) return [[0, text.length, false]];
    let last = 0;
    for (let i = 0; i < text.length;) {
      const cands = splitter.get(text[i]);
      const hit = cands?.find((c) => text.startsWith(c, i));
      if (hit) {
        if (i > last) out.push([last, i, false]);
        out.push([i, i + hit.length, true]);
        i += hit.length;
        last = i;
      } else i++;
    }
    if (last < text.length) out.push([last, text.length, false]);
    // lstrip / rstrip: whitespace next to such added tokens is not tokenized.
    for (let k = 0; k < out.length; k++) {
      if (!out[k][2]) continue;
      const tok = this.addedByContent.get(text.slice(out[k][0], out[k][1]));
      if (tok?.lstrip && k > 0 && !out[k - 1][2]) { while (out[k - 1][1] > out[k - 1][0] && isWs(text[out[k - 1][1] - 1])) out[k - 1][1]--; }
      if (tok?.rstrip && k + 1 < out.length && !out[k + 1][2]) { while (out[k + 1][0] < out[k + 1][1] && isWs(text[out[k + 1][0]])) out[k + 1][0]++; }
    }
    return out.filter(([s, e]) => e > s);
  }

  private normalizeWhole(s: string): string {
    let t = s;
    if (this.config.remove_space === true) t = t.trim().split(/\s+/).join(" ");
    if (this.config.do_lowercase_and_remove_accent) t = t.toLowerCase().normalize("NFD").replace(/\p{Mn}/gu, "");
    return this.backend.normalizer ? this.backend.normalizer(t) : t;
  }

  private normalizeChar(ch: string): string {
    let r = this.normCache.get(ch);
    if (r === undefined) {
      r = this.normalizeWhole(ch);
      if (this.normCache.size < 100000) this.normCache.set(ch, r);
    }
    return r;
  }

  /**
   * Normalizes s and maps every normalized UTF-16 unit back to a [start, end) span of s.
   * Per-character normalization is used for the alignment when it reproduces the whole-string
   * result (true for BERT-style normalizers); otherwise a leading insertion (Prepend) is
   * recognised, and as a last resort every unit maps to the whole of s.
   */
  private normalizeAligned(s: string): { norm: string; start: Int32Array; end: Int32Array } {
    const whole = this.normalizeWhole(s);
    if (!this.backend.normalizer && !this.config.remove_space && !this.config.do_lowercase_and_remove_accent) {
      const start = new Int32Array(s.length), end = new Int32Array(s.length);
      for (let i = 0; i < s.length; i++) { start[i] = i; end[i] = i + 1; }
      return { norm: s, start, end };
    }
    const starts: number[] = [], ends: number[] = [];
    let concat = "";
    for (let i = 0; i < s.length;) {
      const cp = s.codePointAt(i)!;
      const w = cp > 0xffff ? 2 : 1;
      const n = this.normalizeChar(s.slice(i, i + w));
      concat += n;
      for (let k = 0; k < n.length; k++) { starts.push(i); ends.push(i + w); }
      i += w;
    }
    if (concat === whole) return { norm: whole, start: Int32Array.from(starts), end: Int32Array.from(ends) };
    if (whole.endsWith(concat) && whole.length > concat.length) {
      const pre = whole.length - concat.length;
      return { norm: whole, start: Int32Array.from([...new Array(pre).fill(0), ...starts]), end: Int32Array.from([...new Array(pre).fill(0), ...ends]) };
    }
    return { norm: whole, start: new Int32Array(whole.length).fill(0), end: new Int32Array(whole.length).fill(s.length) };
  }

  /** How many UTF-8 bytes of the pre-token's surface a model token covers (null: the whole pre-token). */
  private tokenBytes(tok: string, firstInWord: boolean): number | null {
    const unk = (this.backend.model as Json).unk_token;
    if (this.modelType === "WordPiece" && tok === unk) return null;
    if (this.byteFallback && /^<0x[0-9A-Fa-f]{2}>$/.test(tok)) return 1;
    let t = tok;
    if (!firstInWord && this.subwordPrefix && t.startsWith(this.subwordPrefix)) t = t.slice(this.subwordPrefix.length);
    if (this.wordSuffix && t.endsWith(this.wordSuffix)) t = t.slice(0, t.length - this.wordSuffix.length);
    if (this.byteLevel) {
      let n = 0;
      for (const c of t) n += UNICODE_TO_BYTE.has(c) ? 1 : utf8Len(c);
      return n;
    }
    if (this.metaspace) t = t.replaceAll(this.metaspace, " ");
    return utf8Len(t);
  }

  /** The text a pre-token stands for, in the normalized string's alphabet. */
  private surfaceOf(piece: string): string {
    if (this.byteLevel) {
      const bytes: number[] = [];
      let ok = true;
      for (const c of piece) {
        const b = UNICODE_TO_BYTE.get(c);
        if (b === undefined) { ok = false; break; }
        bytes.push(b);
      }
      if (ok) return new TextDecoder().decode(Uint8Array.from(bytes));
    }
    if (this.metaspace) return piece.replaceAll(this.metaspace, " ");
    return piece;
  }

  /** Encodes one text (no special tokens) with offsets and word ids. */
  encodeSequence(text: string, wordBase = 0, offsetBase = 0, forceWordId: number | null = null): Seq {
    if (typeof text !== "string") throw new ConfigError(`tokenizer: expected a string to encode, got ${typeof text}`);
    const seq: Seq = { ids: [], tokens: [], offsets: [], wordIds: [] };
    let word = wordBase;
    const model = this.backend.model as unknown as (x: string[]) => string[];
    const preTok = this.backend.pre_tokenizer as unknown as ((x: string, o: Json) => string[]) | null;
    const sections = this.splitAdded(text, this.rawSplitter);
    sections.forEach(([s0, s1, isAdded], sectionIndex) => {
      if (isAdded) {
        const tok = this.addedByContent.get(text.slice(s0, s1))!;
        seq.ids.push(tok.id);
        seq.tokens.push(tok.content);
        seq.offsets.push([offsetBase + s0, offsetBase + s1]);
        seq.wordIds.push(forceWordId ?? word++);
        return;
      }
      const { norm, start, end } = this.normalizeAligned(text.slice(s0, s1));
      const toOrig = (a: number, b: number): [number, number] => {
        if (b <= a) {
          const p = a < norm.length ? start[a] : norm.length ? end[norm.length - 1] : 0;
          return [offsetBase + s0 + p, offsetBase + s0 + p];
        }
        return [offsetBase + s0 + start[a], offsetBase + s0 + end[b - 1]];
      };
      for (const [n0, n1, nAdded] of this.splitAdded(norm, this.normSplitter)) {
        const sub = norm.slice(n0, n1);
        if (nAdded) {
          const tok = this.addedByContent.get(sub)!;
          seq.ids.push(tok.id);
          seq.tokens.push(tok.content);
          seq.offsets.push(toOrig(n0, n1));
          seq.wordIds.push(forceWordId ?? word++);
          continue;
        }
        const pieces = preTok ? preTok(sub, { section_index: sectionIndex }) : [sub];
        let cursor = 0;
        for (const piece of pieces) {
          if (piece.length === 0) continue;
          let surface = this.surfaceOf(piece);
          let phantom = 0;
          let pos = sub.indexOf(surface, cursor);
          if (pos < 0 && surface.startsWith(" ")) {
            phantom = 1;
            surface = surface.slice(1);
            pos = sub.indexOf(surface, cursor);
          }
          if (pos < 0) { pos = cursor; surface = ""; phantom = 0; }
          const map = byteToUnits(surface);
          const nBytes = map.start.length;
          const toks = model([piece]);
          const wid = forceWordId ?? word;
          let b = 0;
          toks.forEach((tok, k) => {
            const id = this.backend.token_to_id(tok) ?? (this.backend.model as Json).unk_token_id;
            const len = this.tokenBytes(tok, k === 0);
            let u0: number, u1: number;
            if (len === null) { u0 = 0; u1 = surface.length; b = phantom + nBytes; }
            else {
              const lo = Math.max(0, b - phantom), hi = Math.min(nBytes, b + len - phantom);
              if (hi <= lo) { u0 = u1 = lo < nBytes ? map.start[lo] : surface.length; }
              else { u0 = map.start[lo]; u1 = map.end[hi - 1]; }
              b += len;
            }
            let o = toOrig(n0 + pos + u0, n0 + pos + u1);
            if (this.trimOffsets) o = this.trimWs(text, o, offsetBase);
            seq.ids.push(id);
            seq.tokens.push(tok);
            seq.offsets.push(o);
            seq.wordIds.push(wid);
          });
          if (forceWordId === null) word++;
          cursor = pos + surface.length;
        }
      }
    });
    return seq;
  }

  private trimWs(text: string, [a, b]: [number, number], base: number): [number, number] {
    // offsets are indices into `text` shifted by `base`; trimming looks at the original characters
    let s = a - base, e = b - base;
    while (s < e && isWs(text[s])) s++;
    while (e > s && isWs(text[e - 1])) e--;
    return [s + base, e + base];
  }

  /** Pre-split words: each word is encoded on its own; word ids are word indices, offsets are within each word. */
  encodeWords(words: string[]): Seq {
    const seq: Seq = { ids: [], tokens: [], offsets: [], wordIds: [] };
    words.forEach((w, i) => {
      if (typeof w !== "string") throw new ConfigError(`isSplitIntoWords: word ${i} is not a string`);
      // Byte-level BPE marks word starts with a space (transformers requires add_prefix_space for pre-split input).
      const prefixed = this.byteLevel && !w.startsWith(" ");
      const s = this.encodeSequence(prefixed ? " " + w : w, 0, prefixed ? -1 : 0, i);
      for (let k = 0; k < s.ids.length; k++) {
        seq.ids.push(s.ids[k]);
        seq.tokens.push(s.tokens[k]);
        const [a, b] = s.offsets[k];
        seq.offsets.push([Math.max(0, a), Math.max(0, b)]);
        seq.wordIds.push(i);
      }
    });
    return seq;
  }
}
