// The byte-level BPE vocabulary trainer (src/io/bpe_trainer.ts): deterministic, every dev string of
// the gettext corpus round-trips exactly through our tokenizer pipeline (byte-level: no
// normalisation, no unknown token), the folder loads in AutoTokenizer, EOS appended by the template.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { trainByteLevelBpe, byteLevelAlphabet } from "../../src/io/bpe_trainer.js";
import { AutoTokenizer } from "../../src/index.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { tmp } from "../peft/helpers.js";

const DATA = join(import.meta.dirname, "..", "..", "data", "translation", "en-de");
const rows = (f: string) => readFileSync(join(DATA, f), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).translation as { en: string; de: string });
const train = rows("train.jsonl").slice(0, 4000).flatMap((r) => [r.en, r.de]);
const dev = rows("dev.jsonl").slice(0, 800).flatMap((r) => [r.en, r.de]);
const OPTS = { vocabSize: 1200, specialTokens: ["</s>", "<unk>", "<pad>"], eosToken: "</s>" };

test("byte-level alphabet: 256 distinct printable characters, printable ASCII kept", () => {
  const a = byteLevelAlphabet();
  assert.equal(new Set(a).size, 256);
  assert.equal(a[0x41], "A");
  assert.equal(a[0x20], "Ġ");
});

test("BPE trainer: deterministic, vocabulary size and ids as asked", () => {
  const a = trainByteLevelBpe(train, OPTS), b = trainByteLevelBpe(train, OPTS);
  assert.equal(JSON.stringify(a.tokenizerJson), JSON.stringify(b.tokenizerJson));
  assert.equal(a.vocab.size, 1200);
  assert.equal(a.merges.length, 1200 - 3 - 256);
  assert.deepEqual([a.vocab.get("</s>"), a.vocab.get("<unk>"), a.vocab.get("<pad>")], [0, 1, 2]);
  // frequent words became single tokens
  assert.ok(a.vocab.has("Ġdie") || a.vocab.has("Ġthe"), "a frequent word is one token");
  assert.throws(() => trainByteLevelBpe(train, { ...OPTS, vocabSize: 100 }), ConfigError);
  assert.throws(() => trainByteLevelBpe(train, { ...OPTS, eosToken: "<eos>" }), ConfigError);
});

test("BPE tokenizer.json loads in AutoTokenizer; decode(encode(x)) == x on 1,600 dev strings; EOS appended", async () => {
  const dir = tmp("peft-bpe-");
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(trainByteLevelBpe(train, OPTS).tokenizerJson));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ eos_token: "</s>", unk_token: "<unk>", pad_token: "<pad>" }));
  const tok = await AutoTokenizer.fromPretrained(dir);
  let bad = 0;
  for (const s of [...dev, "  two  spaces ", "Tab\there\nnewline", "Emoji 😀 ü ß ﬁ", ""]) {
    const ids = tok.encode(s);
    assert.equal(ids.at(-1), 0, "ends with </s>");
    assert.ok(ids.slice(0, -1).every((i) => i >= 3 && i < 1200), "no special or unknown ids inside");
    if (tok.decode(ids, { skipSpecialTokens: true }) !== s) bad++;
  }
  assert.equal(bad, 0);
});
