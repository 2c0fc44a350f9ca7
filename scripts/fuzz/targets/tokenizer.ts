// tokenizer.json (+ tokenizer_config.json, special_tokens_map.json): the golden BERT / GPT-2 / Llama tokenizers, mutated as
// JSON trees; the tokenizer is then built and used (encode, batch call with padding, decode).

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PreTrainedTokenizer } from "../../../src/io/tokenizer.js";
import { FuzzRng, mutatedJsonText } from "../mutate.js";
import { SHARED, type FuzzTarget } from "../target.js";

const DIRS = [`${SHARED}golden/bert-tiny-random`, `${SHARED}golden/gpt2-tiny-random`, `${SHARED}fixtures/models/llama-mini-en`];
let bases: { tj: Record<string, any>; cfg: unknown; stm: unknown }[] = [];
const TEXTS = ["Hello world!", "", "  naïve café 😀 ", "a b c d e f g", "[CLS] <s> </s> <unk> <|endoftext|>"];

/** Targeted edits of the parts the tokenizer library interprets: component types and the model. */
function componentEdit(tj: Record<string, any>, r: FuzzRng): void {
  const part = r.pick(["normalizer", "pre_tokenizer", "decoder", "post_processor", "model"]);
  switch (r.int(4)) {
    case 0: delete tj[part]; break;
    case 1: tj[part] = null; break;
    case 2: if (tj[part] && typeof tj[part] === "object") tj[part].type = r.pick(["Unknown", "BPE", "WordPiece", "Unigram", "WordLevel", "Sequence", "", 3]); break;
    default: if (tj.model?.vocab && typeof tj.model.vocab === "object") tj.model.vocab = Array.isArray(tj.model.vocab) ? {} : [["a", 0]];
  }
}

export const target: FuzzTarget = {
  name: "tokenizer",
  setup() {
    bases = DIRS.map((d) => ({
      tj: JSON.parse(readFileSync(join(d, "tokenizer.json"), "utf8")),
      cfg: JSON.parse(readFileSync(join(d, "tokenizer_config.json"), "utf8")),
      stm: existsSync(join(d, "special_tokens_map.json")) ? JSON.parse(readFileSync(join(d, "special_tokens_map.json"), "utf8")) : null,
    }));
  },
  run(r, dir) {
    const b = bases[r.int(bases.length)];
    let tjText: string;
    if (r.chance(0.35)) {
      const tj = structuredClone(b.tj);
      componentEdit(tj, r);
      tjText = JSON.stringify(tj);
    } else tjText = r.chance(0.8) ? mutatedJsonText(b.tj, r) : JSON.stringify(b.tj);
    writeFileSync(join(dir, "tokenizer.json"), tjText);
    writeFileSync(join(dir, "tokenizer_config.json"), r.chance(0.3) ? mutatedJsonText(b.cfg, r) : JSON.stringify(b.cfg));
    if (b.stm !== null) writeFileSync(join(dir, "special_tokens_map.json"), r.chance(0.3) ? mutatedJsonText(b.stm, r) : JSON.stringify(b.stm));
    const tok = PreTrainedTokenizer.fromPretrainedSync(dir);
    const text = r.pick(TEXTS);
    const ids = tok.encode(text);
    const batch = tok.padTokenId !== null ? tok.call([text, "x"], { padding: true, truncation: true, maxLength: 8 }) : null;
    return { ids, decoded: tok.decode(ids), batch: batch?.inputIds };
  },
};
