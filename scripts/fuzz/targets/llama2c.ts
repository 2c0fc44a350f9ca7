// llama2.c files: the stories260K checkpoint (its 7-int header, truncation, bytes) and the tok512
// tokenizer.bin (lengths, truncation, bytes), read and, for the tokenizer, used.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLlama2c } from "../../../src/io/llama2c.js";
import { Llama2cTokenizer } from "../../../src/io/llama2c_tokenizer.js";
import { FuzzRng, INTERESTING_NUMBERS, mutateBytes } from "../mutate.js";
import { SHARED, type FuzzTarget } from "../target.js";

let ckpt = new Uint8Array(0), tok = new Uint8Array(0);

function checkpointCase(r: FuzzRng): Uint8Array {
  const b = Uint8Array.from(ckpt);
  const dv = new DataView(b.buffer);
  switch (r.int(4)) {
    case 0: dv.setInt32(4 * r.int(7), Math.trunc(r.pick(INTERESTING_NUMBERS)) | 0, true); return b;
    case 1: dv.setInt32(4 * r.int(7), dv.getInt32(4 * r.int(7), true) + r.pick([1, -1, 2, -2]), true); return b;
    case 2: return b.slice(0, r.int(b.length + 1));
    default: return mutateBytes(b.slice(0, 64), r);
  }
}

function tokenizerCase(r: FuzzRng): Uint8Array {
  const b = Uint8Array.from(tok);
  const dv = new DataView(b.buffer);
  if (r.chance(0.4)) {
    // a token's length field, or max_token_length
    const at = r.chance(0.2) ? 0 : 4 + 8 * r.int(40) + 4;
    if (at + 4 <= b.length) dv.setInt32(at, Math.trunc(r.pick(INTERESTING_NUMBERS)) | 0, true);
    return b;
  }
  return mutateBytes(b, r);
}

export const target: FuzzTarget = {
  name: "llama2c",
  setup() {
    ckpt = readFileSync(`${SHARED}fixtures/models/stories260K.bin`);
    tok = readFileSync(`${SHARED}fixtures/models/tok512.bin`);
  },
  run(r, dir) {
    if (r.chance(0.5)) {
      const p = join(dir, "model.bin");
      writeFileSync(p, checkpointCase(r));
      const c = readLlama2c(p);
      return { config: c.config, n: c.tensors.size };
    }
    const p = join(dir, "tokenizer.bin");
    writeFileSync(p, tokenizerCase(r));
    const t = Llama2cTokenizer.fromFile(p, r.chance(0.5) ? 512 : undefined);
    const ids = t.encode("Once upon a time, naïve 😀");
    return { ids, text: t.decode(ids) };
  },
};
