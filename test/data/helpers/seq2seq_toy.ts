// A toy word-for-word translation task for the seq2seq tests: a whole-word (WordPiece) tokenizer.json whose ids
// fit the tiny random T5 (vocab 64; pad 0, eos 1, unk 2 as T5), rows in the translation format, and
// a model folder (the T5 fixture + that tokenizer) in a temp dir.

import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PreTrainedTokenizer } from "../../../src/io/tokenizer.js";

export const T5_DIR = join(import.meta.dirname, "..", "..", "fixtures", "seq2seq", "t5-tiny-random");
const EN = ["open", "close", "save", "the", "file", "folder", "new", "window", "red", "blue", "big", "small"];
const DE = ["öffnen", "schließen", "speichern", "die", "datei", "ordner", "neu", "fenster", "rot", "blau", "groß", "klein"];
const SPECIAL = ["<pad>", "</s>", "<unk>"];

export function toyTokenizerJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  [...SPECIAL, "translate:", ...EN, ...DE].forEach((w, i) => (vocab[w] = i));
  return {
    version: "1.0", truncation: null, padding: null,
    added_tokens: SPECIAL.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: "WhitespaceSplit" },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }],
      pair: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }, { Sequence: { id: "B", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }],
      special_tokens: { "</s>": { id: "</s>", ids: [1], tokens: ["</s>"] } },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: false },
    model: { type: "WordPiece", vocab, unk_token: "<unk>", continuing_subword_prefix: "##", max_input_chars_per_word: 100 },
  };
}

export const TOY_TOKENIZER_CONFIG = { pad_token: "<pad>", eos_token: "</s>", unk_token: "<unk>", model_max_length: 512 };

export function toyTokenizer(): PreTrainedTokenizer {
  return new PreTrainedTokenizer(toyTokenizerJson(), TOY_TOKENIZER_CONFIG);
}

/** n rows {"translation": {en, de}}: 2–4 words translated word for word (seeded, deterministic). */
export function toyRows(n: number, seed = 1): { translation: { en: string; de: string } }[] {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Array.from({ length: n }, () => {
    const k = 2 + Math.floor(next() * 3);
    const idx = Array.from({ length: k }, () => Math.floor(next() * EN.length));
    return { translation: { en: idx.map((i) => EN[i]).join(" "), de: idx.map((i) => DE[i]).join(" ") } };
  });
}

/** The T5 fixture with the toy tokenizer, in dir/t5-toy. */
export function toyT5Dir(dir: string): string {
  const out = join(dir, "t5-toy");
  mkdirSync(out, { recursive: true });
  for (const f of ["config.json", "generation_config.json", "model.safetensors"]) copyFileSync(join(T5_DIR, f), join(out, f));
  writeFileSync(join(out, "tokenizer.json"), JSON.stringify(toyTokenizerJson()));
  writeFileSync(join(out, "tokenizer_config.json"), JSON.stringify(TOY_TOKENIZER_CONFIG));
  return out;
}

export function writeJsonl(path: string, rows: unknown[]): string {
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return path;
}
