// The tokenizer a GGUF file describes (tokenizer.ggml.* metadata) as an HF tokenizer.json object plus
// tokenizer_config, for PreTrainedTokenizer. "llama": SentencePiece-style byte-fallback BPE (Metaspace
// "▁"), merges from the file or, as transformers' GGUF loader derives them, from the token scores.
// "gpt2": byte-level BPE with the file's merges. Special tokens from the token types (2 unknown,
// 3 control: special; 4 user-defined: added) and the bos/eos/unk/pad ids; BOS/EOS are added as
// tokenizer.ggml.add_bos_token / add_eos_token say (llama.cpp's behaviour).

import { ConfigError, FormatError } from "../tensor/errors.js";
import { ggufPlain } from "./gguf_reader.js";
import type { GgufValue } from "./gguf_types.js";

type Json = Record<string, unknown>;

const TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3, TOKEN_USER_DEFINED = 4;

/** transformers' generate_merges: every split of a piece into two vocabulary pieces, best score first. */
export function mergesFromScores(tokens: string[], vocab: Map<string, number>, scores: ArrayLike<number>): [string, string][] {
  const all: { l: string; r: string; score: number; nl: number; nr: number }[] = [];
  tokens.forEach((piece, id) => {
    if (vocab.get(piece) !== id) return; // a duplicate spelling: the first id owns it
    const cps = [...piece];
    const local: { l: string; r: string; score: number; nl: number; nr: number }[] = [];
    for (let k = 1; k < cps.length; k++) {
      const l = cps.slice(0, k).join(""), r = cps.slice(k).join("");
      if (vocab.has(l) && vocab.has(r)) local.push({ l, r, score: scores[id], nl: k, nr: cps.length - k });
    }
    local.sort((a, b) => vocab.get(a.l)! - vocab.get(b.l)! || vocab.get(a.r)! - vocab.get(b.r)!);
    all.push(...local);
  });
  // stable sort, descending on (score, len(left), len(right)) as Python's sorted(reverse=True)
  all.sort((a, b) => b.score - a.score || b.nl - a.nl || b.nr - a.nr);
  return all.map((m) => [m.l, m.r]);
}

function template(bos: string | null, eos: string | null, ids: Map<string, number>): Json {
  const seq = (id: string, typeId: number) => ({ Sequence: { id, type_id: typeId } });
  const sp = (t: string, typeId: number) => ({ SpecialToken: { id: t, type_id: typeId } });
  const single: Json[] = [], pair: Json[] = [];
  if (bos) single.push(sp(bos, 0)), pair.push(sp(bos, 0));
  single.push(seq("A", 0));
  pair.push(seq("A", 0));
  if (eos) single.push(sp(eos, 0)), pair.push(sp(eos, 0));
  if (bos) pair.push(sp(bos, 1));
  pair.push(seq("B", 1));
  if (eos) pair.push(sp(eos, 1));
  const special: Json = {};
  for (const t of [bos, eos]) if (t) special[t] = { id: t, ids: [ids.get(t)], tokens: [t] };
  return { type: "TemplateProcessing", single, pair, special_tokens: special };
}

/** tokenizer.json + tokenizer_config objects for the GGUF metadata's tokenizer. */
export function ggufTokenizerJson(meta: Map<string, GgufValue>, file: string): { tokenizerJson: Json; config: Json } {
  const get = (k: string) => ggufPlain(meta.get(`tokenizer.ggml.${k}`));
  const model = get("model");
  if (model === undefined) throw new ConfigError(`${file}: the GGUF file has no tokenizer (metadata 'tokenizer.ggml.model' is missing)`);
  const tokens = get("tokens") as string[] | undefined;
  if (!Array.isArray(tokens) || tokens.length === 0) throw new FormatError(`${file}: metadata 'tokenizer.ggml.tokens' is missing or empty; expected an array of strings`);
  const types = (get("token_type") as number[] | undefined) ?? [];
  const vocab = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (!vocab.has(t)) vocab.set(t, i);
  });
  const idTok = (k: string): string | null => {
    const id = get(k);
    if (id === undefined) return null;
    if (typeof id !== "number" || id < 0 || id >= tokens.length) throw new FormatError(`${file}: metadata 'tokenizer.ggml.${k}' is ${String(id)}; expected a token id in 0..${tokens.length - 1}`);
    return tokens[id];
  };
  const bos = idTok("bos_token_id"), eos = idTok("eos_token_id"), unk = idTok("unknown_token_id"), pad = idTok("padding_token_id");
  const fileMerges = get("merges") as string[] | undefined;
  const splitMerge = (m: string, i: number): [string, string] => {
    const k = m.indexOf(" ", 1);
    if (k < 0) throw new FormatError(`${file}: metadata 'tokenizer.ggml.merges'[${i}] is ${JSON.stringify(m)}; expected two pieces separated by a space`);
    return [m.slice(0, k), m.slice(k + 1)];
  };
  const added: Json[] = [];
  tokens.forEach((content, id) => {
    const t = types[id];
    if (t === TOKEN_UNKNOWN || t === TOKEN_CONTROL || t === TOKEN_USER_DEFINED) {
      added.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t !== TOKEN_USER_DEFINED });
    }
  });
  const vocabObj = Object.fromEntries(vocab);
  let tokenizerJson: Json;
  if (model === "llama") {
    const addBos = (get("add_bos_token") as boolean | undefined) ?? true, addEos = (get("add_eos_token") as boolean | undefined) ?? false;
    const prefix = (get("add_space_prefix") as boolean | undefined) ?? true;
    const scores = (get("scores") as number[] | undefined) ?? tokens.map(() => 0);
    const merges = fileMerges ? fileMerges.map(splitMerge) : mergesFromScores(tokens, vocab, scores);
    const decoders: Json[] = [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }];
    if (prefix) decoders.push({ type: "Strip", content: " ", start: 1, stop: 0 });
    tokenizerJson = {
      version: "1.0", truncation: null, padding: null, added_tokens: added, normalizer: null,
      pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: prefix ? "first" : "never", split: false },
      post_processor: template(addBos ? bos : null, addEos ? eos : null, vocab),
      decoder: { type: "Sequence", decoders },
      model: {
        type: "BPE", dropout: null, unk_token: unk, continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab: vocabObj, merges,
      },
    };
  } else if (model === "gpt2") {
    if (!fileMerges) throw new FormatError(`${file}: a "gpt2" (byte-level BPE) tokenizer needs 'tokenizer.ggml.merges'; the file has none`);
    const addBos = (get("add_bos_token") as boolean | undefined) ?? false, addEos = (get("add_eos_token") as boolean | undefined) ?? false;
    const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
    tokenizerJson = {
      version: "1.0", truncation: null, padding: null, added_tokens: added, normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: template(addBos ? bos : null, addEos ? eos : null, vocab),
      decoder: { ...byteLevel, add_prefix_space: true },
      model: {
        type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
        fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: vocabObj, merges: fileMerges.map(splitMerge),
      },
    };
  } else {
    throw new ConfigError(`${file}: GGUF tokenizer model '${String(model)}' is not supported; expected "llama" (SentencePiece-style BPE) or "gpt2" (byte-level BPE)`);
  }
  const config: Json = { bos_token: bos, eos_token: eos, unk_token: unk, pad_token: pad, clean_up_tokenization_spaces: false };
  const chat = ggufPlain(meta.get("tokenizer.chat_template"));
  if (typeof chat === "string") config.chat_template = chat;
  return { tokenizerJson, config };
}
