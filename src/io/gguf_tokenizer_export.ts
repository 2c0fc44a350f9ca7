// An HF tokenizer as GGUF tokenizer.ggml.* metadata (the inverse of gguf_tokenizer.ts), for llama.cpp:
// byte-level BPE → model "gpt2" with merges; SentencePiece-style BPE (▁, byte fallback) → model
// "llama" with merges and scores (-rank of the merge that makes a token, 0 otherwise: llama.cpp's
// SPM tokenizer merges by score, so the merge order carries over). Token types: byte tokens <0xXX>
// BYTE, the unk token UNKNOWN, special added tokens CONTROL, other added tokens USER_DEFINED;
// vocab rows past the tokenizer (a padded embedding) become UNUSED "[PAD{id}]" tokens.

import { ConfigError } from "../tensor/errors.js";
import type { PreTrainedTokenizer } from "./tokenizer.js";
import type { GgufValue } from "./gguf_types.js";
import { GgufType } from "./gguf_types.js";

const NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;

type Json = Record<string, unknown>;

function hasType(node: unknown, type: string): boolean {
  if (!node || typeof node !== "object") return false;
  const n = node as Json;
  if (n.type === type) return true;
  for (const k of ["pretokenizers", "normalizers", "decoders"]) if (Array.isArray(n[k]) && (n[k] as unknown[]).some((x) => hasType(x, type))) return true;
  return false;
}

/** tokenizer.ggml.* entries for `tok`, padded to `vocabSize` tokens. */
export function ggufTokenizerMetadata(tok: PreTrainedTokenizer, vocabSize: number): [string, GgufValue][] {
  const j = tok.tokenizerJson as Json;
  const model = (j.model ?? {}) as Json;
  if (model.type !== "BPE") throw new ConfigError(`GGUF export: tokenizer model '${String(model.type)}' cannot be written for llama.cpp here; expected a BPE tokenizer.json (byte-level or SentencePiece-style)`);
  const byteLevel = hasType(j.pre_tokenizer, "ByteLevel");
  const spm = !byteLevel && (model.byte_fallback === true || hasType(j.pre_tokenizer, "Metaspace") || hasType(j.normalizer, "Prepend"));
  if (!byteLevel && !spm) throw new ConfigError("GGUF export: the tokenizer is neither byte-level BPE nor SentencePiece-style BPE (▁ / byte fallback); llama.cpp cannot reproduce it");
  const n = Math.max(vocabSize, tok.vocabSize);
  if (tok.vocabSize > vocabSize) throw new ConfigError(`GGUF export: the tokenizer has ${tok.vocabSize} tokens but the model's vocab_size is ${vocabSize}`);
  const tokens: string[] = [], types: number[] = [];
  const special = new Set(tok.allSpecialIds);
  const added = new Map<number, boolean>();
  for (const a of (j.added_tokens as Json[] | undefined) ?? []) added.set(Number(a.id), a.special === true);
  for (let id = 0; id < n; id++) {
    const t = id < tok.vocabSize ? (tok.convertIdsToTokens(id) as string | undefined) : undefined;
    if (t === undefined) {
      tokens.push(`[PAD${id}]`);
      types.push(UNUSED);
      continue;
    }
    tokens.push(t);
    if (id === tok.unkTokenId) types.push(UNKNOWN);
    else if (added.has(id)) types.push(added.get(id) || special.has(id) ? CONTROL : USER_DEFINED);
    else if (special.has(id)) types.push(CONTROL);
    else if (spm && /^<0x[0-9A-Fa-f]{2}>$/.test(t)) types.push(BYTE);
    else types.push(NORMAL);
  }
  const merges = ((model.merges as unknown[]) ?? []).map((m) => (Array.isArray(m) ? m.join(" ") : String(m)));
  const out: [string, GgufValue][] = [
    ["tokenizer.ggml.model", { type: GgufType.STRING, value: byteLevel ? "gpt2" : "llama" }],
    ["tokenizer.ggml.pre", { type: GgufType.STRING, value: byteLevel ? "gpt-2" : "default" }],
    ["tokenizer.ggml.tokens", { type: GgufType.ARRAY, itemType: GgufType.STRING, value: tokens }],
  ];
  if (spm) {
    const vocab = tok.getVocab();
    const scores = new Array<number>(n).fill(0);
    merges.forEach((m, rank) => {
      const id = vocab.get(m.replace(" ", ""));
      if (id !== undefined && scores[id] === 0) scores[id] = -(rank + 1);
    });
    out.push(["tokenizer.ggml.scores", { type: GgufType.ARRAY, itemType: GgufType.FLOAT32, value: scores }]);
  }
  out.push(["tokenizer.ggml.token_type", { type: GgufType.ARRAY, itemType: GgufType.INT32, value: types }]);
  if (merges.length) out.push(["tokenizer.ggml.merges", { type: GgufType.ARRAY, itemType: GgufType.STRING, value: merges }]);
  const ids: [string, number | null][] = [["bos_token_id", tok.bosTokenId], ["eos_token_id", tok.eosTokenId], ["unknown_token_id", tok.unkTokenId], ["padding_token_id", tok.padTokenId]];
  for (const [k, v] of ids) if (v !== null && v !== undefined) out.push([`tokenizer.ggml.${k}`, { type: GgufType.UINT32, value: v }]);
  // what encode() adds around a text: llama.cpp's add_bos_token / add_eos_token
  const plain = tok.encode("a", { addSpecialTokens: false }), full = tok.encode("a", { addSpecialTokens: true });
  const addBos = tok.bosTokenId !== null && full.length > plain.length && full[0] === tok.bosTokenId;
  const addEos = tok.eosTokenId !== null && full.length > plain.length && full[full.length - 1] === tok.eosTokenId;
  out.push(["tokenizer.ggml.add_bos_token", { type: GgufType.BOOL, value: addBos }]);
  out.push(["tokenizer.ggml.add_eos_token", { type: GgufType.BOOL, value: addEos }]);
  if (spm) out.push(["tokenizer.ggml.add_space_prefix", { type: GgufType.BOOL, value: !hasPrependNever(j) }]);
  const chat = (tok.config as Json).chat_template;
  if (typeof chat === "string") out.push(["tokenizer.chat_template", { type: GgufType.STRING, value: chat }]);
  return out;
}

function hasPrependNever(j: Json): boolean {
  const pre = j.pre_tokenizer as Json | null;
  return !!pre && pre.type === "Metaspace" && pre.prepend_scheme === "never" && !hasType(j.normalizer, "Prepend");
}
