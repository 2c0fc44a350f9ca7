// vocab.txt (WordPiece) and vocab.json + merges.txt (byte-level BPE) folders without a tokenizer.json.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PreTrainedTokenizer } from "../../../src/io/tokenizer.js";
import { mutatedJsonText, mutateText } from "../mutate.js";
import { SHARED, type FuzzTarget } from "../target.js";

let bertVocab = "", bertCfg: unknown, gptVocab: unknown, gptMerges = "", gptCfg: unknown;

export const target: FuzzTarget = {
  name: "vocab",
  setup() {
    const b = `${SHARED}golden/bert-tiny-random`, g = `${SHARED}golden/gpt2-tiny-random`;
    bertVocab = readFileSync(join(b, "vocab.txt"), "utf8");
    bertCfg = JSON.parse(readFileSync(join(b, "tokenizer_config.json"), "utf8"));
    gptVocab = JSON.parse(readFileSync(join(g, "vocab.json"), "utf8"));
    gptMerges = readFileSync(join(g, "merges.txt"), "utf8");
    gptCfg = JSON.parse(readFileSync(join(g, "tokenizer_config.json"), "utf8"));
  },
  run(r, dir) {
    const cfgText = (c: unknown) => (r.chance(0.25) ? mutatedJsonText(c, r) : JSON.stringify(c));
    if (r.chance(0.5)) {
      let v = bertVocab;
      const n = 1 + r.int(3);
      for (let k = 0; k < n; k++) v = mutateText(v, r);
      writeFileSync(join(dir, "vocab.txt"), v);
      writeFileSync(join(dir, "tokenizer_config.json"), cfgText(bertCfg));
    } else {
      writeFileSync(join(dir, "vocab.json"), r.chance(0.6) ? mutatedJsonText(gptVocab, r) : JSON.stringify(gptVocab));
      writeFileSync(join(dir, "merges.txt"), r.chance(0.6) ? mutateText(gptMerges, r) : gptMerges);
      writeFileSync(join(dir, "tokenizer_config.json"), cfgText(gptCfg));
    }
    const tok = PreTrainedTokenizer.fromPretrainedSync(dir);
    const ids = tok.encode("Hello world, naïve 😀");
    return { ids, text: tok.decode(ids) };
  },
};
