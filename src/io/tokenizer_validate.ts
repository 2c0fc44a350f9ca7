// Checks a tokenizer.json description before the tokenizer library sees it, so that a malformed
// or unsupported file ends in a FormatError naming the file and the field (the library throws
// plain Errors without a path, and silently falls back to a "legacy" model for unknown model types).
// Absent normalizer / pre_tokenizer / post_processor / decoder mean "none", as in the Rust
// `tokenizers` crate; they are filled in as null.

import { FormatError } from "../tensor/errors.js";
import type { Json } from "./tokenizer_files.js";

/** The component types @huggingface/tokenizers implements, per slot, and the list field of each Sequence. */
const COMPONENTS = {
  normalizer: {
    list: "normalizers",
    types: ["BertNormalizer", "Precompiled", "Sequence", "Replace", "NFC", "NFD", "NFKC", "NFKD", "Strip", "StripAccents", "Lowercase", "Prepend"],
  },
  pre_tokenizer: {
    list: "pretokenizers",
    types: ["BertPreTokenizer", "Sequence", "Whitespace", "WhitespaceSplit", "Metaspace", "ByteLevel", "Split", "Punctuation", "Digits", "Replace", "FixedLength"],
  },
  post_processor: { list: "processors", types: ["TemplateProcessing", "ByteLevel", "BertProcessing", "RobertaProcessing", "Sequence"] },
  decoder: { list: "decoders", types: ["ByteLevel", "WordPiece", "Metaspace", "BPEDecoder", "CTC", "Sequence", "Replace", "Fuse", "Strip", "ByteFallback"] },
} as const;

export const SUPPORTED_TOKENIZER_MODELS = ["BPE", "WordPiece", "Unigram"] as const;

const isObj = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);
const isId = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
};

function checkComponent(file: string, slot: keyof typeof COMPONENTS, cfg: unknown, where: string, depth: number): void {
  const spec = COMPONENTS[slot];
  if (!isObj(cfg)) throw new FormatError(`${file}: ${where} must be an object with a "type" (or null), found ${show(cfg)}`);
  if (typeof cfg.type !== "string" || !(spec.types as readonly string[]).includes(cfg.type)) {
    throw new FormatError(`${file}: ${where}.type ${show(cfg.type)} is not supported; expected one of ${spec.types.join(", ")}`);
  }
  if (cfg.type === "Sequence") {
    const list = cfg[spec.list];
    if (!Array.isArray(list)) throw new FormatError(`${file}: ${where}.${spec.list} must be a list, found ${show(list)}`);
    if (depth > 8) throw new FormatError(`${file}: ${where} nests Sequences deeper than 8`);
    list.forEach((c, i) => checkComponent(file, slot, c, `${where}.${spec.list}[${i}]`, depth + 1));
  }
  if (slot === "post_processor") checkPostProcessor(file, cfg, where);
}

function checkPostProcessor(file: string, cfg: Json, where: string): void {
  if (cfg.type === "TemplateProcessing") {
    for (const key of ["single", "pair"]) {
      const list = cfg[key] ?? [];
      if (!Array.isArray(list)) throw new FormatError(`${file}: ${where}.${key} must be a list of pieces, found ${show(list)}`);
      list.forEach((p: unknown, i: number) => {
        const piece = isObj(p) ? (p.SpecialToken ?? p.Sequence) : undefined;
        if (!isObj(piece) || typeof piece.id !== "string" || (piece.type_id !== undefined && !isId(piece.type_id))) {
          throw new FormatError(`${file}: ${where}.${key}[${i}] must be {"SpecialToken"|"Sequence": {id: string, type_id: integer}}, found ${show(p)}`);
        }
      });
    }
    const sp = cfg.special_tokens ?? {};
    if (!isObj(sp)) throw new FormatError(`${file}: ${where}.special_tokens must be an object, found ${show(sp)}`);
    for (const [k, v] of Object.entries(sp)) {
      const ok = isObj(v) && Array.isArray(v.ids) && Array.isArray(v.tokens) && v.ids.length === v.tokens.length &&
        v.ids.every(isId) && v.tokens.every((t: unknown) => typeof t === "string");
      if (!ok) throw new FormatError(`${file}: ${where}.special_tokens[${show(k)}] must be {ids: [integer], tokens: [string]} of equal length, found ${show(v)}`);
    }
  } else if (cfg.type === "BertProcessing" || cfg.type === "RobertaProcessing") {
    for (const key of ["sep", "cls"]) {
      const v = cfg[key];
      if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== "string" || !isId(v[1])) {
        throw new FormatError(`${file}: ${where}.${key} must be [token, id], found ${show(v)}`);
      }
    }
  }
}

function checkModel(file: string, m: unknown): void {
  if (!isObj(m)) throw new FormatError(`${file}: "model" must be an object, found ${show(m)}`);
  if (!(SUPPORTED_TOKENIZER_MODELS as readonly string[]).includes(m.type)) {
    throw new FormatError(`${file}: model.type ${show(m.type)} is not supported; expected one of ${SUPPORTED_TOKENIZER_MODELS.join(", ")}`);
  }
  if (m.type === "Unigram") {
    if (!Array.isArray(m.vocab) || m.vocab.length === 0) throw new FormatError(`${file}: model.vocab of a Unigram model must be a non-empty list of [piece, score], found ${show(m.vocab)}`);
    m.vocab.forEach((e: unknown, i: number) => {
      if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== "string" || typeof e[1] !== "number" || !Number.isFinite(e[1])) {
        throw new FormatError(`${file}: model.vocab[${i}] must be [piece, score], found ${show(e)}`);
      }
    });
    if (m.unk_id !== undefined && m.unk_id !== null && !(isId(m.unk_id) && m.unk_id < m.vocab.length)) {
      throw new FormatError(`${file}: model.unk_id ${show(m.unk_id)} is not an index into model.vocab (${m.vocab.length} pieces)`);
    }
    return;
  }
  if (!isObj(m.vocab)) throw new FormatError(`${file}: model.vocab of a ${m.type} model must be an object token → id, found ${show(m.vocab)}`);
  for (const [tok, id] of Object.entries(m.vocab)) {
    if (!isId(id)) throw new FormatError(`${file}: model.vocab[${show(tok)}] must be an integer id >= 0, found ${show(id)}`);
  }
  for (const key of ["unk_token", "continuing_subword_prefix", "end_of_word_suffix"]) {
    if (m[key] !== undefined && m[key] !== null && typeof m[key] !== "string") throw new FormatError(`${file}: model.${key} must be a string or null, found ${show(m[key])}`);
  }
  if (m.type === "WordPiece") {
    if (typeof m.unk_token !== "string" || !Object.hasOwn(m.vocab, m.unk_token)) throw new FormatError(`${file}: model.unk_token ${show(m.unk_token)} of the WordPiece model is not in model.vocab`);
    if (m.max_input_chars_per_word !== undefined && !isId(m.max_input_chars_per_word)) {
      throw new FormatError(`${file}: model.max_input_chars_per_word must be an integer >= 0, found ${show(m.max_input_chars_per_word)}`);
    }
  }
  if (m.type === "BPE") {
    if (!Array.isArray(m.merges)) throw new FormatError(`${file}: model.merges of a BPE model must be a list, found ${show(m.merges)}`);
    m.merges.forEach((e: unknown, i: number) => {
      const ok = typeof e === "string" ? e.split(" ").length === 2 : Array.isArray(e) && e.length === 2 && e.every((x) => typeof x === "string");
      if (!ok) throw new FormatError(`${file}: model.merges[${i}] must be "left right" or [left, right], found ${show(e)}`);
    });
  }
}

/** Validates (and normalises absent components to null in) a parsed tokenizer.json; `file` names it in errors. */
export function validateTokenizerJson(tj: unknown, file: string): Json {
  if (!isObj(tj)) throw new FormatError(`${file}: expected a JSON object with a "model" field, found ${show(tj)}`);
  checkModel(file, tj.model);
  for (const slot of Object.keys(COMPONENTS) as (keyof typeof COMPONENTS)[]) {
    if (tj[slot] === undefined) tj[slot] = null;
    if (tj[slot] !== null) checkComponent(file, slot, tj[slot], slot, 0);
  }
  if (tj.added_tokens === undefined || tj.added_tokens === null) tj.added_tokens = [];
  if (!Array.isArray(tj.added_tokens)) throw new FormatError(`${file}: added_tokens must be a list, found ${show(tj.added_tokens)}`);
  tj.added_tokens.forEach((a: unknown, i: number) => {
    if (!isObj(a) || !isId(a.id) || typeof a.content !== "string" || a.content === "") {
      throw new FormatError(`${file}: added_tokens[${i}] must be {id: integer >= 0, content: non-empty string, ...}, found ${show(a)}`);
    }
    for (const flag of ["special", "lstrip", "rstrip", "normalized", "single_word"]) {
      if (a[flag] !== undefined && typeof a[flag] !== "boolean") throw new FormatError(`${file}: added_tokens[${i}].${flag} must be true or false, found ${show(a[flag])}`);
    }
  });
  checkIdBound(file, tj);
  return tj;
}

/**
 * Token ids index arrays sized by the largest id, so an id far beyond the number of tokens
 * would allocate (or loop over) billions of slots: ids must stay below twice the token count
 * plus 1024 (real files number their tokens densely from 0).
 */
function checkIdBound(file: string, tj: Json): void {
  if (!isObj(tj.model.vocab)) return;
  const count = Object.keys(tj.model.vocab).length + tj.added_tokens.length;
  const limit = 2 * count + 1024;
  for (const [tok, id] of Object.entries(tj.model.vocab)) {
    if ((id as number) >= limit) throw new FormatError(`${file}: model.vocab[${show(tok)}] has id ${id}, implausibly large for ${count} tokens (expected ids below ${limit})`);
  }
  tj.added_tokens.forEach((a: Json, i: number) => {
    if (a.id >= limit) throw new FormatError(`${file}: added_tokens[${i}] has id ${a.id}, implausibly large for ${count} tokens (expected ids below ${limit})`);
  });
}
