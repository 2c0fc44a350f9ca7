// Reads a tokenizer folder into (tokenizer.json object, tokenizer_config object).
// Three layouts are understood:
//   1. tokenizer.json (+ tokenizer_config.json, special_tokens_map.json, chat_template.jinja)
//   2. BERT vocab.txt only: a WordPiece tokenizer.json is built the way transformers'
//      BertConverter does (BertNormalizer, BertPreTokenizer, [CLS] $A [SEP] template).
//   3. GPT-2 vocab.json + merges.txt: a byte-level BPE tokenizer.json as GPT2Converter builds it.

import { getFiles } from "../platform/files.js";
import { ConfigError, FormatError } from "../tensor/errors.js";
import { optionalFile } from "./hub.js";
import { readJsonFileChecked } from "./json.js";
import { validateTokenizerJson } from "./tokenizer_validate.js";

export type Json = any;

export function readJsonFile(path: string, what: string): Json {
  return readJsonFileChecked(path, what);
}

/** A special-token entry in tokenizer_config may be a string or an AddedToken dict. */
export function tokenContent(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string") return (v as { content: string }).content;
  return null;
}

export const SPECIAL_KEYS = ["unk_token", "sep_token", "pad_token", "cls_token", "mask_token", "bos_token", "eos_token"] as const;

function bertTokenizerJson(dir: string, vocabPath: string, config: Json): Json {
  const lines = getFiles().readText(vocabPath).split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  const vocab: Record<string, number> = {};
  lines.forEach((l, i) => {
    const tok = l.replace(/\r$/, "");
    // own-key checks and definitions: a vocabulary line "constructor" or "__proto__" is a token like any other
    if (!Object.hasOwn(vocab, tok)) Object.defineProperty(vocab, tok, { value: i, enumerable: true, writable: true, configurable: true });
  });
  const special = (key: string, dflt: string) => tokenContent(config[key]) ?? dflt;
  const unk = special("unk_token", "[UNK]"), sep = special("sep_token", "[SEP]"), cls = special("cls_token", "[CLS]");
  const pad = special("pad_token", "[PAD]"), mask = special("mask_token", "[MASK]");
  for (const [name, tok] of [["unk_token", unk], ["sep_token", sep], ["cls_token", cls]] as const) {
    if (!Object.hasOwn(vocab, tok)) throw new FormatError(`${vocabPath}: ${name} '${tok}' is not in the vocabulary`);
  }
  const addedSet = new Set([pad, unk, cls, sep, mask].filter((t) => Object.hasOwn(vocab, t)));
  const added_tokens = [...addedSet].map((t) => ({
    id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  })).sort((a, b) => a.id - b.id);
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens,
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: config.tokenize_chinese_chars ?? true,
      strip_accents: config.strip_accents ?? null,
      lowercase: config.do_lower_case ?? true,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: sep, type_id: 0 } }],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } }, { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: {
        [cls]: { id: cls, ids: [vocab[cls]], tokens: [cls] },
        [sep]: { id: sep, ids: [vocab[sep]], tokens: [sep] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: unk, continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
    _source: `${dir} (vocab.txt)`,
  };
}

function gpt2TokenizerJson(dir: string, vocabPath: string, mergesPath: string, config: Json): Json {
  const vocab = readJsonFile(vocabPath, "GPT-2 vocab");
  if (!vocab || typeof vocab !== "object" || Array.isArray(vocab)) throw new FormatError(`${vocabPath}: expected an object token → id`);
  for (const [k, v] of Object.entries(vocab)) {
    if (!Number.isInteger(v) || (v as number) < 0) throw new FormatError(`${vocabPath}: id of '${k}' must be an integer >= 0, found ${JSON.stringify(v)}`);
  }
  const merges: [string, string][] = [];
  getFiles().readText(mergesPath).split("\n").forEach((line, i) => {
    const l = line.replace(/\r$/, "");
    if (l === "" || (i === 0 && l.startsWith("#version"))) return;
    const parts = l.split(" ");
    if (parts.length !== 2) throw new FormatError(`${mergesPath}: line ${i + 1} should hold two tokens separated by one space, found ${JSON.stringify(l)}`);
    merges.push([parts[0], parts[1]]);
  });
  const specials = new Set<string>();
  for (const key of ["bos_token", "eos_token", "unk_token", "pad_token"]) {
    const t = tokenContent(config[key]);
    if (t !== null && Object.hasOwn(vocab, t)) specials.add(t);
  }
  if (Object.hasOwn(vocab, "<|endoftext|>")) specials.add("<|endoftext|>");
  const added_tokens = [...specials].map((t) => ({
    id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true,
  })).sort((a, b) => a.id - b.id);
  const addPrefix = config.add_prefix_space ?? false;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens,
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: addPrefix, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
    },
    _source: `${dir} (vocab.json + merges.txt)`,
  };
}

export interface TokenizerFiles {
  tokenizerJson: Json;
  config: Json;
  /** Which layout was found (for messages). */
  source: "tokenizer.json" | "vocab.txt" | "vocab.json+merges.txt";
}

/** Loads the tokenizer files of `dir` (already resolved). */
export function readTokenizerFiles(dir: string): TokenizerFiles {
  const cfgPath = optionalFile(dir, "tokenizer_config.json");
  const config: Json = cfgPath ? readJsonFile(cfgPath, "tokenizer_config.json") : {};
  if (!config || typeof config !== "object" || Array.isArray(config)) throw new FormatError(`${cfgPath}: expected a JSON object`);
  const stmPath = optionalFile(dir, "special_tokens_map.json");
  if (stmPath) {
    const stm = readJsonFile(stmPath, "special_tokens_map.json");
    if (!stm || typeof stm !== "object" || Array.isArray(stm)) throw new FormatError(`${stmPath}: expected a JSON object of special tokens`);
    for (const k of [...SPECIAL_KEYS, "additional_special_tokens"]) {
      if (config[k] === undefined && stm[k] !== undefined) config[k] = stm[k];
    }
  }
  const jinja = optionalFile(dir, "chat_template.jinja");
  if (jinja && config.chat_template === undefined) config.chat_template = getFiles().readText(jinja);
  const tjPath = optionalFile(dir, "tokenizer.json");
  if (tjPath) {
    const tj = validateTokenizerJson(readJsonFile(tjPath, "tokenizer.json"), tjPath);
    tj._source = tjPath;
    return { tokenizerJson: tj, config, source: "tokenizer.json" };
  }
  const vocabTxt = optionalFile(dir, "vocab.txt");
  if (vocabTxt) return { tokenizerJson: bertTokenizerJson(dir, vocabTxt, config), config, source: "vocab.txt" };
  const vocabJson = optionalFile(dir, "vocab.json"), merges = optionalFile(dir, "merges.txt");
  if (vocabJson && merges) return { tokenizerJson: gpt2TokenizerJson(dir, vocabJson, merges, config), config, source: "vocab.json+merges.txt" };
  throw new ConfigError(`no tokenizer found in ${dir}: expected tokenizer.json, or vocab.txt (WordPiece), or vocab.json + merges.txt (byte-level BPE)`);
}
