// PreTrainedTokenizer: the transformers tokenizer API over @huggingface/tokenizers.
//
// The library supplies the normalizers, pre-tokenizers, models (WordPiece, BPE, Unigram) and
// decoders. It has no offsets, word ids, truncation or padding, so those parts live here:
//   * the encode pipeline (added-token split → normalize → pre-tokenize → model) is driven from
//     tokenizer_pipeline.ts, calling the library's components one piece at a time so every
//     token can be traced back to a character span of the original text;
//   * post-processing (TemplateProcessing / BertProcessing / RobertaProcessing / ByteLevel) is
//     re-implemented from the tokenizer.json description in tokenizer_post.ts, so type ids,
//     special-token masks and sequence ids come out with the ids;
//   * truncation follows the Rust `tokenizers` rules (longest_first balancing, only_first,
//     only_second), padding follows transformers (padding side, pad id, mask 0): tokenizer_batch.ts;
//   * decode applies transformers' `clean_up_tokenization_spaces` (default false, as in v5)
//     on the whole string, after the library's decoder.
// Special tokens and tokenizer_config settings: tokenizer_config.ts; chat templates: chat_template.ts.
// Offsets are UTF-16 indices into the JS string (text.slice(start, end) is the token's span).

import { readGgufHeader } from "./gguf_reader.js";
import { ggufTokenizerJson } from "./gguf_tokenizer.js";
import { Tokenizer as HFTokenizer } from "@huggingface/tokenizers";
import { ConfigError, FormatError, PeftError } from "../tensor/errors.js";
import { resolveModelDir, ResolveOptions } from "./hub.js";
import { atomicWriteFile } from "./fs.js";
import { join } from "../platform/paths.js";
import { Json, readTokenizerFiles } from "./tokenizer_files.js";
import { Llama2cTokenizer } from "./llama2c.js";
import { getFiles } from "../platform/files.js";
import type {
  BatchEncoding, CallOptions, ChatMessage, ChatTemplateOptions, DecodeOptions, EncodeOptions, EncodingWithOffsets, Seq,
} from "./tokenizer_types.js";
import { EncodePipeline } from "./tokenizer_pipeline.js";
import { numSpecialTokens, parsePostProcessor, postProcess, PostSpec } from "./tokenizer_post.js";
import { padEncodings, truncatePair } from "./tokenizer_batch.js";
import { configForSave, readSettings, resolveSpecialTokens } from "./tokenizer_config.js";
import { pickChatTemplate, renderChatTemplate } from "./chat_template.js";
import { validateTokenizerJson } from "./tokenizer_validate.js";

export { Llama2cTokenizer };
export type {
  ChatMessage, EncodeOptions, EncodingWithOffsets, PaddingStrategy, TruncationStrategy, CallOptions, BatchEncoding, DecodeOptions,
  ChatTemplateOptions,
} from "./tokenizer_types.js";

function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(" .", ".").replaceAll(" ?", "?").replaceAll(" !", "!").replaceAll(" ,", ",")
    .replaceAll(" ' ", "'").replaceAll(" n't", "n't").replaceAll(" 'm", "'m").replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve").replaceAll(" 're", "'re");
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

  private readonly pipeline: EncodePipeline;
  private readonly specialIds: Set<number>;
  private readonly post: PostSpec | null;
  private readonly idToToken: (string | undefined)[];

  constructor(tokenizerJson: Json, config: Json = {}, dir: string | null = null) {
    this.dir = dir;
    this.tokenizerJson = tokenizerJson;
    this.config = config;
    const file = String(tokenizerJson?._source ?? (dir ? join(dir, "tokenizer.json") : "tokenizer.json"));
    validateTokenizerJson(tokenizerJson, file);
    const { _source, ...clean } = tokenizerJson;
    void _source;
    try {
      // The library's Tokenizer reads chat_template etc. only as metadata; give it a copy.
      this.backend = new HFTokenizer(clean, { ...config });
      this.post = parsePostProcessor(tokenizerJson.post_processor);
      this.pipeline = new EncodePipeline(tokenizerJson, config, this.backend, !!this.post?.trimOffsets);
    } catch (e) {
      // what validateTokenizerJson does not check is reported by the library without a file name
      if (e instanceof PeftError) throw e;
      throw new FormatError(`${file}: the tokenizer library rejects it: ${(e as Error)?.message ?? String(e)}`);
    }
    this.specialIds = new Set(this.pipeline.added.filter((a) => a.special).map((a) => a.id));

    const vocab = this.backend.get_vocab(true);
    this.idToToken = [];
    for (const [tok, id] of vocab) this.idToToken[id] = tok;

    const sp = resolveSpecialTokens(config, (t) => this.backend.token_to_id(t), tokenizerJson.model?.unk_token);
    [this.padToken, this.padTokenId] = sp.named.pad;
    [this.bosToken, this.bosTokenId] = sp.named.bos;
    [this.eosToken, this.eosTokenId] = sp.named.eos;
    [this.unkToken, this.unkTokenId] = sp.named.unk;
    [this.clsToken, this.clsTokenId] = sp.named.cls;
    [this.sepToken, this.sepTokenId] = sp.named.sep;
    [this.maskToken, this.maskTokenId] = sp.named.mask;
    for (const id of sp.additionalIds) this.specialIds.add(id);
    for (const id of [this.padTokenId, this.bosTokenId, this.eosTokenId, this.unkTokenId, this.clsTokenId, this.sepTokenId, this.maskTokenId]) {
      if (id !== null && this.pipeline.addedByContent.has(this.idToToken[id] ?? "")) this.specialIds.add(id);
    }
    ({ paddingSide: this.paddingSide, truncationSide: this.truncationSide, modelMaxLength: this.modelMaxLength } = readSettings(config));
    this.chatTemplate = pickChatTemplate(config.chat_template);
  }

  /**
   * Loads tokenizer.json (+ config files), a vocab.txt-only BERT folder, a GPT-2 vocab.json + merges.txt
   * folder or a Marian folder (source.spm/target.spm + vocab.json, no tokenizer.json: a MarianTokenizer).
   */
  static async fromPretrained(dirOrId: string, opts: TokenizerLoadOptions = {}): Promise<PreTrainedTokenizer> {
    if (opts.ggufFile === undefined && !(dirOrId.endsWith(".bin") && getFiles().exists(dirOrId))) {
      const dir = resolveModelDir(dirOrId, opts);
      if (isMarianDir(dir)) {
        // loaded on demand: marian_tokenizer.ts extends this class, so it cannot be imported statically here
        const { MarianTokenizer } = await import("./marian_tokenizer.js");
        return MarianTokenizer.fromDir(dir);
      }
    }
    return PreTrainedTokenizer.fromPretrainedSync(dirOrId, opts);
  }

  static fromPretrainedSync(dirOrId: string, opts: TokenizerLoadOptions = {}): PreTrainedTokenizer {
    if (opts.ggufFile !== undefined) return PreTrainedTokenizer.fromGguf(join(dirOrId, opts.ggufFile));
    if (dirOrId.endsWith(".bin") && getFiles().exists(dirOrId) && getFiles().stat(dirOrId).isFile) return PreTrainedTokenizer.fromLlama2c(dirOrId);
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

  /** The tokenizer described by a GGUF file's tokenizer.ggml.* metadata (see gguf_tokenizer.ts). */
  static fromGguf(path: string): PreTrainedTokenizer {
    const { tokenizerJson, config } = ggufTokenizerJson(readGgufHeader(path).metadata, path);
    return new PreTrainedTokenizer(tokenizerJson, config, null);
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
    return this.encodeText(text).tokens;
  }

  /** One text's tokens before special tokens (the tokenizer.json pipeline; MarianTokenizer uses SentencePiece). */
  protected encodeText(text: string): Seq {
    return this.pipeline.encodeSequence(text);
  }

  encodeWithOffsets(text: string, opts: EncodeOptions = {}): EncodingWithOffsets {
    const a = this.encodeText(text);
    const b = opts.textPair !== undefined && opts.textPair !== null ? this.encodeText(opts.textPair) : null;
    return postProcess(this.post, a, b, opts.addSpecialTokens ?? true);
  }

  /** Number of special tokens the post-processor adds (for a pair when `pair`). */
  numSpecialTokensToAdd(pair = false): number {
    return numSpecialTokens(this.post, pair);
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
      let a = split ? this.pipeline.encodeWords(first[i] as string[]) : this.encodeText(first[i] as string);
      let b = pairs ? (split ? this.pipeline.encodeWords(pairs[i] as string[]) : this.encodeText(pairs[i] as string)) : null;
      if (trunc && maxLength !== undefined) [a, b] = truncatePair(a, b, maxLength - (addSpecial ? this.numSpecialTokensToAdd(b !== null) : 0), trunc, this.truncationSide);
      encs.push(postProcess(this.post, a, b, addSpecial));
    }
    let padTo: number | null = null;
    if (opts.padding === true || opts.padding === "longest") padTo = encs.reduce((m, e) => Math.max(m, e.ids.length), 0);
    else if (opts.padding === "max_length") padTo = maxLength!;
    if (padTo !== null && opts.padToMultipleOf && padTo % opts.padToMultipleOf !== 0) padTo += opts.padToMultipleOf - (padTo % opts.padToMultipleOf);
    if (padTo !== null && encs.some((e) => e.ids.length < padTo!) && this.padTokenId === null) {
      throw new ConfigError("call(): padding requested but the tokenizer has no pad token; set tokenizer.padTokenId (e.g. to eosTokenId)");
    }
    return padEncodings(encs, { padTo, side: this.paddingSide, padTokenId: this.padTokenId ?? 0, padTokenTypeId: this.padTokenTypeId });
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
    const text = renderChatTemplate(opts.chatTemplate ?? this.chatTemplate, messages, {
      bos_token: this.bosToken, eos_token: this.eosToken, unk_token: this.unkToken, pad_token: this.padToken,
      sep_token: this.sepToken, cls_token: this.clsToken, mask_token: this.maskToken,
    }, opts, this.dir);
    return opts.tokenize ? this.encode(text, { addSpecialTokens: false }) : text;
  }

  // ------------------------------------------------------------------ saving

  /** Writes tokenizer.json and tokenizer_config.json (atomically) into dir. */
  savePretrained(dir: string): void {
    const { _source, ...tj } = this.tokenizerJson;
    void _source;
    const cfg = configForSave(this.config, this);
    atomicWriteFile(join(dir, "tokenizer.json"), JSON.stringify(tj, null, 2) + "\n");
    atomicWriteFile(join(dir, "tokenizer_config.json"), JSON.stringify(cfg, null, 2) + "\n");
  }
}

/** A Marian tokenizer folder: SentencePiece source.spm + vocab.json and no tokenizer.json. */
export function isMarianDir(dir: string): boolean {
  const f = getFiles();
  return !f.exists(join(dir, "tokenizer.json")) && f.exists(join(dir, "source.spm")) && f.exists(join(dir, "vocab.json"));
}

/** Hub resolution plus transformers' `gguf_file`: the tokenizer in `dir/ggufFile`'s metadata. */
export type TokenizerLoadOptions = ResolveOptions & { ggufFile?: string };

export const AutoTokenizer = {
  fromPretrained: (dirOrId: string, opts?: TokenizerLoadOptions): Promise<PreTrainedTokenizer> => PreTrainedTokenizer.fromPretrained(dirOrId, opts),
};
