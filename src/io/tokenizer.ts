// PreTrainedTokenizer: the transformers tokenizer API over @huggingface/tokenizers.
//
// The library supplies the normalizers, pre-tokenizers, models (WordPiece, BPE, Unigram) and
// decoders. It has no offsets, word ids, truncation or padding, so those parts live here:
//   * the encode pipeline (added-token split → normalize → pre-tokenize → model) is driven from
//     here, calling the library's components one piece at a time so every token can be traced
//     back to a character span of the original text;
//   * post-processing (TemplateProcessing / BertProcessing / RobertaProcessing / ByteLevel) is
//     re-implemented from the tokenizer.json description, so type ids, special-token masks and
//     sequence ids come out with the ids;
//   * truncation follows the Rust `tokenizers` rules (longest_first balancing, only_first,
//     only_second), padding follows transformers (padding side, pad id, mask 0);
//   * decode applies transformers' `clean_up_tokenization_spaces` (default false, as in v5)
//     on the whole string, after the library's decoder.
// Offsets are UTF-16 indices into the JS string (text.slice(start, end) is the token's span).

import { Tokenizer as HFTokenizer } from "@huggingface/tokenizers";
import { Template } from "@huggingface/jinja";
import { ConfigError } from "../tensor/errors.js";
import { resolveModelDir, ResolveOptions } from "./hub.js";
import { atomicWriteFile } from "./fs.js";
import { join } from "node:path";
import { Json, readTokenizerFiles, tokenContent } from "./tokenizer_files.js";
import { Llama2cTokenizer } from "./llama2c.js";
import { statSync } from "node:fs";

export { Llama2cTokenizer };

export interface ChatMessage {
  role: string;
  content: string;
}

export interface EncodeOptions {
  textPair?: string;
  addSpecialTokens?: boolean;
}

export interface EncodingWithOffsets {
  ids: number[];
  tokens: string[];
  /** [start, end) UTF-16 offsets into the text of the token's sequence; [0, 0] for added special tokens. */
  offsets: [number, number][];
  typeIds: number[];
  /** Index of the pre-tokenized word within its sequence; null for special tokens. */
  wordIds: (number | null)[];
  /** 0 for the first text, 1 for the pair; null for special tokens. */
  sequenceIds: (number | null)[];
  /** 1 for special tokens added by the post-processor. */
  specialMask: number[];
}

export type PaddingStrategy = boolean | "longest" | "max_length" | "do_not_pad";
export type TruncationStrategy = boolean | "longest_first" | "only_first" | "only_second" | "do_not_truncate";

export interface CallOptions {
  textPair?: string | string[] | string[][];
  padding?: PaddingStrategy;
  truncation?: TruncationStrategy;
  maxLength?: number;
  addSpecialTokens?: boolean;
  /** texts (and textPair) are lists of words (string[] per example). */
  isSplitIntoWords?: boolean;
  /** Pad to a multiple of this length. */
  padToMultipleOf?: number;
}

export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds: number[][];
  wordIds: (number | null)[][];
  offsets: [number, number][][];
  sequenceIds: (number | null)[][];
  specialTokensMask: number[][];
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
  cleanUpTokenizationSpaces?: boolean;
}

export interface ChatTemplateOptions {
  addGenerationPrompt?: boolean;
  tokenize?: boolean;
  chatTemplate?: string;
  /** Extra variables for the template. */
  extra?: Record<string, unknown>;
}

/** transformers' VERY_LARGE_INTEGER: "no limit" for model_max_length. */
const NO_LIMIT = 1e30;

/** One sequence before post-processing. */
interface Seq {
  ids: number[];
  tokens: string[];
  offsets: [number, number][];
  wordIds: (number | null)[];
}

interface AddedTok {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
}

type TemplatePiece = { kind: "special"; name: string; typeId: number } | { kind: "seq"; seq: "A" | "B"; typeId: number };

interface PostSpec {
  single: TemplatePiece[];
  pair: TemplatePiece[];
  specials: Map<string, { ids: number[]; tokens: string[] }>;
  trimOffsets: boolean;
}

function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(" .", ".").replaceAll(" ?", "?").replaceAll(" !", "!").replaceAll(" ,", ",")
    .replaceAll(" ' ", "'").replaceAll(" n't", "n't").replaceAll(" 'm", "'m").replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve").replaceAll(" 're", "'re");
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

function collectTypes(cfg: Json, out: Json[] = []): Json[] {
  if (!cfg || typeof cfg !== "object") return out;
  out.push(cfg);
  for (const key of ["pretokenizers", "processors", "normalizers", "decoders"]) {
    if (Array.isArray(cfg[key])) for (const c of cfg[key]) collectTypes(c, out);
  }
  return out;
}

function isWs(c: string): boolean {
  return /\s/u.test(c);
}

export class PreTrainedTokenizer {
  /** The folder it was loaded from (null when built from objects). */
  readonly dir: string | null;
  readonly tokenizerJson: Json;
  readonly config: Json;
  readonly backend: HFTokenizer;

  padTokenId: number | null;
  bosTokenId: number | null;
  eosTokenId: number | null;
  unkTokenId: number | null;
  clsTokenId: number | null;
  sepTokenId: number | null;
  maskTokenId: number | null;
  padToken: string | null;
  bosToken: string | null;
  eosToken: string | null;
  unkToken: string | null;
  clsToken: string | null;
  sepToken: string | null;
  maskToken: string | null;
  paddingSide: "right" | "left";
  truncationSide: "right" | "left";
  modelMaxLength: number;
  chatTemplate: string | null;
  /** Type id used for padding positions. */
  padTokenTypeId = 0;

  private readonly added: AddedTok[];
  private readonly addedByContent = new Map<string, AddedTok>();
  private readonly rawSplitter: Map<string, string[]>;
  private readonly normSplitter: Map<string, string[]>;
  private readonly specialIds: Set<number>;
  private readonly post: PostSpec | null;
  private readonly byteLevel: boolean;
  private readonly metaspace: string | null;
  private readonly modelType: string;
  private readonly subwordPrefix: string;
  private readonly wordSuffix: string;
  private readonly byteFallback: boolean;
  private readonly normCache = new Map<string, string>();
  private readonly idToToken: (string | undefined)[];

  constructor(tokenizerJson: Json, config: Json = {}, dir: string | null = null) {
    this.dir = dir;
    this.tokenizerJson = tokenizerJson;
    this.config = config;
    const { _source, ...clean } = tokenizerJson;
    void _source;
    // The library's Tokenizer reads chat_template etc. only as metadata; give it a copy.
    this.backend = new HFTokenizer(clean, { ...config });

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
    this.specialIds = new Set(this.added.filter((a) => a.special).map((a) => a.id));

    const model = tokenizerJson.model ?? {};
    this.modelType = model.type ?? (model.merges ? "BPE" : Array.isArray(model.vocab) ? "Unigram" : "WordPiece");
    this.subwordPrefix = model.continuing_subword_prefix ?? (this.modelType === "WordPiece" ? "##" : "");
    this.wordSuffix = model.end_of_word_suffix ?? "";
    this.byteFallback = !!model.byte_fallback;
    const pre = collectTypes(tokenizerJson.pre_tokenizer);
    this.byteLevel = pre.some((p) => p.type === "ByteLevel");
    const ms = pre.find((p) => p.type === "Metaspace");
    this.metaspace = ms ? (ms.replacement ?? "▁") : null;
    this.post = this.parsePost(tokenizerJson.post_processor);

    const vocab = this.backend.get_vocab(true);
    this.idToToken = [];
    for (const [tok, id] of vocab) this.idToToken[id] = tok;

    const special = (key: string): [string | null, number | null] => {
      const tok = tokenContent(config[key]);
      if (tok === null) return [null, null];
      const id = this.backend.token_to_id(tok);
      return [tok, id === undefined ? null : id];
    };
    [this.padToken, this.padTokenId] = special("pad_token");
    [this.bosToken, this.bosTokenId] = special("bos_token");
    [this.eosToken, this.eosTokenId] = special("eos_token");
    [this.unkToken, this.unkTokenId] = special("unk_token");
    [this.clsToken, this.clsTokenId] = special("cls_token");
    [this.sepToken, this.sepTokenId] = special("sep_token");
    [this.maskToken, this.maskTokenId] = special("mask_token");
    if (this.unkTokenId === null && typeof model.unk_token === "string") {
      const id = this.backend.token_to_id(model.unk_token);
      if (id !== undefined) [this.unkToken, this.unkTokenId] = [model.unk_token, id];
    }
    for (const t of config.additional_special_tokens ?? []) {
      const c = tokenContent(t);
      const id = c === null ? undefined : this.backend.token_to_id(c);
      if (id !== undefined) this.specialIds.add(id);
    }
    for (const id of [this.padTokenId, this.bosTokenId, this.eosTokenId, this.unkTokenId, this.clsTokenId, this.sepTokenId, this.maskTokenId]) {
      if (id !== null && this.addedByContent.has(this.idToToken[id] ?? "")) this.specialIds.add(id);
    }
    this.paddingSide = config.padding_side === "left" ? "left" : "right";
    this.truncationSide = config.truncation_side === "left" ? "left" : "right";
    const mml = Number(config.model_max_length);
    this.modelMaxLength = Number.isFinite(mml) && mml > 0 ? mml : NO_LIMIT;
    this.chatTemplate = PreTrainedTokenizer.pickTemplate(config.chat_template);
  }

  /** Loads tokenizer.json (+ config files), a vocab.txt-only BERT folder or a GPT-2 vocab.json + merges.txt folder. */
  static async fromPretrained(dirOrId: string, opts: ResolveOptions = {}): Promise<PreTrainedTokenizer> {
    return PreTrainedTokenizer.fromPretrainedSync(dirOrId, opts);
  }

  static fromPretrainedSync(dirOrId: string, opts: ResolveOptions = {}): PreTrainedTokenizer {
    if (dirOrId.endsWith(".bin") && statSync(dirOrId, { throwIfNoEntry: false })?.isFile()) return PreTrainedTokenizer.fromLlama2c(dirOrId);
    const dir = resolveModelDir(dirOrId, opts);
    const { tokenizerJson, config } = readTokenizerFiles(dir);
    return new PreTrainedTokenizer(tokenizerJson, config, dir);
  }

  /** An HF-style tokenizer equivalent to a llama2.c tokenizer.bin (see Llama2cTokenizer.toTokenizerJson). */
  static fromLlama2c(binPath: string, vocabSize?: number): PreTrainedTokenizer {
    const l2c = Llama2cTokenizer.fromFile(binPath, vocabSize);
    return new PreTrainedTokenizer(l2c.toTokenizerJson(), {
      bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>", clean_up_tokenization_spaces: false,
    }, null);
  }

  private static pickTemplate(t: unknown): string | null {
    if (typeof t === "string") return t;
    if (Array.isArray(t)) {
      const d = t.find((x) => x && x.name === "default") ?? t[0];
      return d && typeof d.template === "string" ? d.template : null;
    }
    if (t && typeof t === "object" && typeof (t as Json).default === "string") return (t as Json).default;
    return null;
  }

  // ------------------------------------------------------------------ vocabulary

  /** Number of tokens including added tokens (transformers' len(tokenizer)). */
  get vocabSize(): number {
    return this.idToToken.length;
  }

  getVocab(): Map<string, number> {
    return this.backend.get_vocab(true);
  }

  convertIdsToTokens(ids: number[]): string[];
  convertIdsToTokens(id: number): string;
  convertIdsToTokens(ids: number[] | number): string[] | string {
    const one = (id: number): string => {
      const t = this.idToToken[id];
      if (t === undefined) throw new ConfigError(`token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
      return t;
    };
    return Array.isArray(ids) ? ids.map(one) : one(ids);
  }

  /** Unknown tokens map to the unk id (or -1 when the tokenizer has no unk token). */
  convertTokensToIds(tokens: string[]): number[];
  convertTokensToIds(token: string): number;
  convertTokensToIds(tokens: string[] | string): number[] | number {
    const one = (t: string): number => this.backend.token_to_id(t) ?? this.unkTokenId ?? -1;
    return Array.isArray(tokens) ? tokens.map(one) : one(tokens);
  }

  /** Ids of all special tokens (added tokens marked special and the named special tokens). */
  get allSpecialIds(): number[] {
    return [...this.specialIds].sort((a, b) => a - b);
  }

  // ------------------------------------------------------------------ encoding

  encode(text: string, opts: EncodeOptions = {}): number[] {
    return this.encodeWithOffsets(text, opts).ids;
  }

  /** Tokens without special tokens (transformers' tokenize). */
  tokenize(text: string): string[] {
    return this.encodeSequence(text).tokens;
  }

  encodeWithOffsets(text: string, opts: EncodeOptions = {}): EncodingWithOffsets {
    const a = this.encodeSequence(text);
    const b = opts.textPair !== undefined && opts.textPair !== null ? this.encodeSequence(opts.textPair) : null;
    return this.postProcess(a, b, opts.addSpecialTokens ?? true);
  }

  /** Number of special tokens the post-processor adds (for a pair when `pair`). */
  numSpecialTokensToAdd(pair = false): number {
    if (!this.post) return 0;
    let n = 0;
    for (const p of pair ? this.post.pair : this.post.single) if (p.kind === "special") n += this.post.specials.get(p.name)?.ids.length ?? 0;
    return n;
  }

  /**
   * Batch encoding with padding and truncation (transformers' __call__). A single text is a
   * batch of one. With isSplitIntoWords, each example is a list of words.
   */
  call(texts: string | string[] | string[][], opts: CallOptions = {}): BatchEncoding {
    const split = !!opts.isSplitIntoWords;
    const asBatch = <T>(x: unknown): T[] => {
      if (split) {
        if (!Array.isArray(x)) throw new ConfigError("call(): isSplitIntoWords expects string[] (one example) or string[][] (a batch)");
        return (x.length > 0 && Array.isArray(x[0]) ? x : [x]) as T[];
      }
      return (Array.isArray(x) ? x : [x]) as T[];
    };
    const first = asBatch<string | string[]>(texts);
    const pairs = opts.textPair === undefined || opts.textPair === null ? null : asBatch<string | string[]>(opts.textPair);
    if (pairs && pairs.length !== first.length) {
      throw new ConfigError(`call(): ${first.length} texts but ${pairs.length} text pairs; expected the same number`);
    }
    const addSpecial = opts.addSpecialTokens ?? true;
    const trunc = opts.truncation === true ? "longest_first" : opts.truncation === false || opts.truncation === undefined || opts.truncation === "do_not_truncate" ? null : opts.truncation;
    let maxLength = opts.maxLength;
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 0)) throw new ConfigError(`call(): maxLength must be an integer >= 0, got ${maxLength}`);
    if (maxLength === undefined && (trunc || opts.padding === "max_length")) {
      if (this.modelMaxLength >= 1e12) {
        if (opts.padding === "max_length") throw new ConfigError("call(): padding 'max_length' needs maxLength (this tokenizer has no model_max_length)");
      } else maxLength = this.modelMaxLength;
    }
    const encs: EncodingWithOffsets[] = [];
    for (let i = 0; i < first.length; i++) {
      let a = split ? this.encodeWords(first[i] as string[]) : this.encodeSequence(first[i] as string);
      let b = pairs ? (split ? this.encodeWords(pairs[i] as string[]) : this.encodeSequence(pairs[i] as string)) : null;
      if (trunc && maxLength !== undefined) [a, b] = this.truncatePair(a, b, maxLength - (addSpecial ? this.numSpecialTokensToAdd(b !== null) : 0), trunc);
      encs.push(this.postProcess(a, b, addSpecial));
    }
    let padTo: number | null = null;
    if (opts.padding === true || opts.padding === "longest") padTo = Math.max(0, ...encs.map((e) => e.ids.length));
    else if (opts.padding === "max_length") padTo = maxLength!;
    if (padTo !== null && opts.padToMultipleOf && padTo % opts.padToMultipleOf !== 0) padTo += opts.padToMultipleOf - (padTo % opts.padToMultipleOf);
    if (padTo !== null && encs.some((e) => e.ids.length < padTo!) && this.padTokenId === null) {
      throw new ConfigError("call(): padding requested but the tokenizer has no pad token; set tokenizer.padTokenId (e.g. to eosTokenId)");
    }
    const out: BatchEncoding = { inputIds: [], attentionMask: [], tokenTypeIds: [], wordIds: [], offsets: [], sequenceIds: [], specialTokensMask: [] };
    for (const e of encs) {
      const n = padTo !== null ? Math.max(0, padTo - e.ids.length) : 0;
      const pad = <T>(arr: T[], v: T): T[] => {
        if (n === 0) return arr;
        const p = new Array<T>(n).fill(v);
        return this.paddingSide === "left" ? [...p, ...arr] : [...arr, ...p];
      };
      out.inputIds.push(pad(e.ids, this.padTokenId ?? 0));
      out.attentionMask.push(pad(new Array<number>(e.ids.length).fill(1), 0));
      out.tokenTypeIds.push(pad(e.typeIds, this.padTokenTypeId));
      out.wordIds.push(pad<number | null>(e.wordIds, null));
      out.offsets.push(n === 0 ? e.offsets : pad<[number, number]>(e.offsets, [0, 0]).map((o) => [o[0], o[1]] as [number, number]));
      out.sequenceIds.push(pad<number | null>(e.sequenceIds, null));
      out.specialTokensMask.push(pad(e.specialMask, 1));
    }
    return out;
  }

  /** The Rust tokenizers truncation rules; `budget` excludes the special tokens. */
  private truncatePair(a: Seq, b: Seq | null, budget: number, strategy: string): [Seq, Seq | null] {
    const cut = (s: Seq, n: number): Seq => {
      if (s.ids.length <= n) return s;
      const [lo, hi] = this.truncationSide === "left" ? [s.ids.length - n, s.ids.length] : [0, n];
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

  private parsePost(cfg: Json): PostSpec | null {
    if (!cfg) return null;
    const all = collectTypes(cfg);
    const trimOffsets = all.some((p) => p.type === "ByteLevel" && p.trim_offsets);
    const tp = all.find((p) => p.type === "TemplateProcessing" || p.type === "BertProcessing" || p.type === "RobertaProcessing");
    const specials = new Map<string, { ids: number[]; tokens: string[] }>();
    if (!tp) return { single: [{ kind: "seq", seq: "A", typeId: 0 }], pair: [{ kind: "seq", seq: "A", typeId: 0 }, { kind: "seq", seq: "B", typeId: 1 }], specials, trimOffsets };
    if (tp.type === "TemplateProcessing") {
      const conv = (list: Json[]): TemplatePiece[] => list.map((p) => {
        if (p.SpecialToken) return { kind: "special", name: p.SpecialToken.id, typeId: p.SpecialToken.type_id ?? 0 };
        if (p.Sequence) return { kind: "seq", seq: p.Sequence.id === "B" ? "B" : "A", typeId: p.Sequence.type_id ?? 0 };
        throw new ConfigError(`tokenizer.json: unknown TemplateProcessing piece ${JSON.stringify(p)}`);
      });
      for (const [k, v] of Object.entries(tp.special_tokens ?? {})) specials.set(k, { ids: (v as Json).ids, tokens: (v as Json).tokens });
      return { single: conv(tp.single ?? []), pair: conv(tp.pair ?? []), specials, trimOffsets };
    }
    const [sepTok, sepId] = tp.sep, [clsTok, clsId] = tp.cls;
    specials.set(sepTok, { ids: [sepId], tokens: [sepTok] });
    specials.set(clsTok, { ids: [clsId], tokens: [clsTok] });
    const S = (name: string, typeId: number): TemplatePiece => ({ kind: "special", name, typeId });
    const Q = (seq: "A" | "B", typeId: number): TemplatePiece => ({ kind: "seq", seq, typeId });
    if (tp.type === "BertProcessing") {
      return { single: [S(clsTok, 0), Q("A", 0), S(sepTok, 0)], pair: [S(clsTok, 0), Q("A", 0), S(sepTok, 0), Q("B", 1), S(sepTok, 1)], specials, trimOffsets };
    }
    return {
      single: [S(clsTok, 0), Q("A", 0), S(sepTok, 0)],
      pair: [S(clsTok, 0), Q("A", 0), S(sepTok, 0), S(sepTok, 0), Q("B", 0), S(sepTok, 0)],
      specials,
      trimOffsets: trimOffsets || !!tp.trim_offsets,
    };
  }

  private postProcess(a: Seq, b: Seq | null, addSpecial: boolean): EncodingWithOffsets {
    const out: EncodingWithOffsets = { ids: [], tokens: [], offsets: [], typeIds: [], wordIds: [], sequenceIds: [], specialMask: [] };
    const pushSeq = (s: Seq, seqId: number, typeId: number) => {
      for (let i = 0; i < s.ids.length; i++) {
        out.ids.push(s.ids[i]);
        out.tokens.push(s.tokens[i]);
        out.offsets.push(s.offsets[i]);
        out.typeIds.push(typeId);
        out.wordIds.push(s.wordIds[i]);
        out.sequenceIds.push(seqId);
        out.specialMask.push(0);
      }
    };
    if (!addSpecial || !this.post) {
      pushSeq(a, 0, 0);
      if (b) pushSeq(b, 1, 1);
      return out;
    }
    for (const p of b ? this.post.pair : this.post.single) {
      if (p.kind === "seq") {
        if (p.seq === "A") pushSeq(a, 0, p.typeId);
        else if (b) pushSeq(b, 1, p.typeId);
      } else {
        const sp = this.post.specials.get(p.name);
        if (!sp) throw new ConfigError(`tokenizer.json: post-processor template uses special token '${p.name}' that is not in its special_tokens`);
        for (let i = 0; i < sp.ids.length; i++) {
          out.ids.push(sp.ids[i]);
          out.tokens.push(sp.tokens[i]);
          out.offsets.push([0, 0]);
          out.typeIds.push(p.typeId);
          out.wordIds.push(null);
          out.sequenceIds.push(null);
          out.specialMask.push(1);
        }
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ the pipeline

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
  private encodeSequence(text: string, wordBase = 0, offsetBase = 0, forceWordId: number | null = null): Seq {
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
            if (this.post?.trimOffsets) o = this.trimWs(text, o, offsetBase);
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
  private encodeWords(words: string[]): Seq {
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

  // ------------------------------------------------------------------ decoding

  decode(ids: number[], opts: DecodeOptions = {}): string {
    const tokens: string[] = [];
    for (const id of ids) {
      const n = Number(id);
      if (opts.skipSpecialTokens && this.specialIds.has(n)) continue;
      const t = this.idToToken[n];
      if (t !== undefined) tokens.push(t); // unknown ids are skipped, as in the Rust tokenizers
    }
    if (tokens.length === 0) return "";
    const dec = this.backend.decoder as unknown as ((t: string[]) => string) | null;
    let text = dec ? dec(tokens) : tokens.join(" ");
    const clean = opts.cleanUpTokenizationSpaces ?? this.config.clean_up_tokenization_spaces === true;
    if (clean) text = cleanUpTokenization(text);
    return text;
  }

  batchDecode(batch: number[][], opts: DecodeOptions = {}): string[] {
    return batch.map((ids) => this.decode(ids, opts));
  }

  // ------------------------------------------------------------------ chat templates

  applyChatTemplate(messages: ChatMessage[], opts: ChatTemplateOptions & { tokenize: true }): number[];
  applyChatTemplate(messages: ChatMessage[], opts?: ChatTemplateOptions & { tokenize?: false }): string;
  applyChatTemplate(messages: ChatMessage[], opts?: ChatTemplateOptions): string | number[];
  applyChatTemplate(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string | number[] {
    const src = opts.chatTemplate ?? this.chatTemplate;
    if (src === null || src === undefined) {
      throw new ConfigError(`tokenizer${this.dir ? ` in ${this.dir}` : ""} has no chat template (tokenizer_config.json "chat_template" or chat_template.jinja); pass opts.chatTemplate`);
    }
    let tpl: Template;
    try {
      tpl = new Template(src);
    } catch (e) {
      throw new ConfigError(`chat template does not parse: ${(e as Error).message}`);
    }
    const specialMap: Record<string, string | null> = {
      bos_token: this.bosToken, eos_token: this.eosToken, unk_token: this.unkToken, pad_token: this.padToken,
      sep_token: this.sepToken, cls_token: this.clsToken, mask_token: this.maskToken,
    };
    let text: string;
    try {
      text = tpl.render({
        messages,
        add_generation_prompt: opts.addGenerationPrompt ?? false,
        ...Object.fromEntries(Object.entries(specialMap).map(([k, v]) => [k, v ?? ""])),
        ...(opts.extra ?? {}),
      });
    } catch (e) {
      throw new ConfigError(`chat template failed: ${(e as Error).message}`);
    }
    return opts.tokenize ? this.encode(text, { addSpecialTokens: false }) : text;
  }

  // ------------------------------------------------------------------ saving

  /** Writes tokenizer.json and tokenizer_config.json (atomically) into dir. */
  savePretrained(dir: string): void {
    const { _source, ...tj } = this.tokenizerJson;
    void _source;
    const cfg: Json = { ...this.config };
    cfg.padding_side = this.paddingSide;
    cfg.truncation_side = this.truncationSide;
    if (this.modelMaxLength < NO_LIMIT) cfg.model_max_length = this.modelMaxLength;
    if (this.chatTemplate !== null) cfg.chat_template = this.chatTemplate;
    atomicWriteFile(join(dir, "tokenizer.json"), JSON.stringify(tj, null, 2) + "\n");
    atomicWriteFile(join(dir, "tokenizer_config.json"), JSON.stringify(cfg, null, 2) + "\n");
  }
}

export const AutoTokenizer = {
  fromPretrained: (dirOrId: string, opts?: ResolveOptions): Promise<PreTrainedTokenizer> => PreTrainedTokenizer.fromPretrained(dirOrId, opts),
};
