import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoTokenizer, PreTrainedTokenizer } from "../../src/io/tokenizer.js";
import { ConfigError } from "../../src/tensor/errors.js";

const GOLDEN = "/work/shared/golden";
const MODELS = "/work/shared/fixtures/models";
const BERT = join(GOLDEN, "bert-tiny-random");
const GPT2 = join(GOLDEN, "gpt2-tiny-random");

const json = (p: string) => JSON.parse(readFileSync(p, "utf8"));

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "peft-ts-tok-"));
}

/** Offsets of non-special tokens must point at text that (normalized) produced the token. */
function checkOffsets(tok: PreTrainedTokenizer, text: string, pair?: string): void {
  const e = tok.encodeWithOffsets(text, { textPair: pair });
  assert.equal(e.ids.length, e.offsets.length);
  for (let i = 0; i < e.ids.length; i++) {
    const [s, t] = e.offsets[i];
    if (e.specialMask[i]) {
      assert.deepEqual([s, t], [0, 0]);
      assert.equal(e.wordIds[i], null);
      assert.equal(e.sequenceIds[i], null);
      continue;
    }
    const src = e.sequenceIds[i] === 1 ? pair! : text;
    assert.ok(s >= 0 && s <= t && t <= src.length, `offsets [${s},${t}] out of range for ${JSON.stringify(src)}`);
    // every real token covers some characters, and spans move forward through the text
    assert.ok(t > s, `token ${e.tokens[i]} has an empty span`);
    if (i > 0 && !e.specialMask[i - 1] && e.sequenceIds[i - 1] === e.sequenceIds[i]) assert.ok(s >= e.offsets[i - 1][0], "offsets go forward");
  }
}

test("bert-tiny-random: every golden example (singles and pairs): ids, type ids, mask, tokens, decode", async () => {
  const tok = await AutoTokenizer.fromPretrained(BERT);
  const ex = json(join(BERT, "tokenizer_examples.json"));
  for (const e of [...ex.single, ...ex.pairs]) {
    const enc = tok.encodeWithOffsets(e.text, { textPair: e.text_pair });
    assert.deepEqual(enc.ids, e.input_ids, e.text);
    assert.deepEqual(enc.tokens, e.tokens, e.text);
    assert.deepEqual(enc.typeIds, e.token_type_ids, e.text);
    const batch = tok.call(e.text, { textPair: e.text_pair });
    assert.deepEqual(batch.inputIds[0], e.input_ids);
    assert.deepEqual(batch.attentionMask[0], e.attention_mask);
    assert.deepEqual(batch.tokenTypeIds[0], e.token_type_ids);
    if (e.decoded !== undefined) assert.equal(tok.decode(enc.ids, { skipSpecialTokens: true }), e.decoded, e.text);
    checkOffsets(tok, e.text, e.text_pair);
  }
  assert.equal(tok.padTokenId, 0);
  assert.equal(tok.unkTokenId, 1);
  assert.equal(tok.clsTokenId, 2);
  assert.equal(tok.sepTokenId, 3);
  assert.equal(tok.maskTokenId, 4);
  assert.equal(tok.vocabSize, 170);
  assert.equal(tok.modelMaxLength, 64);
});

test("vocab.txt-only BERT folder gives the same ids as tokenizer.json", async () => {
  const d = tmp();
  try {
    copyFileSync(join(BERT, "vocab.txt"), join(d, "vocab.txt"));
    copyFileSync(join(BERT, "tokenizer_config.json"), join(d, "tokenizer_config.json"));
    const tok = await PreTrainedTokenizer.fromPretrained(d);
    const ref = await PreTrainedTokenizer.fromPretrained(BERT);
    const ex = json(join(BERT, "tokenizer_examples.json"));
    for (const e of [...ex.single, ...ex.pairs]) {
      assert.deepEqual(tok.encode(e.text, { textPair: e.text_pair }), e.input_ids, e.text);
      assert.deepEqual(tok.encodeWithOffsets(e.text, { textPair: e.text_pair }), ref.encodeWithOffsets(e.text, { textPair: e.text_pair }));
      if (e.decoded !== undefined) assert.equal(tok.decode(e.input_ids, { skipSpecialTokens: true }), e.decoded);
    }
    assert.equal(tok.padTokenId, 0);
    assert.equal(tok.sepTokenId, 3);
    // the mini models' vocab.txt too (8000 entries)
    const d2 = tmp();
    copyFileSync(join(MODELS, "bert-mini-en", "vocab.txt"), join(d2, "vocab.txt"));
    writeFileSync(join(d2, "tokenizer_config.json"), JSON.stringify({ do_lower_case: true }));
    const t2 = await PreTrainedTokenizer.fromPretrained(d2);
    for (const e of json(join(MODELS, "bert-mini-en", "tokenizer_examples.json")).examples) {
      assert.deepEqual(t2.encode(e.text), e.input_ids, e.text);
    }
    rmSync(d2, { recursive: true, force: true });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("gpt2-tiny-random byte-level BPE: golden ids/tokens/decode, also from vocab.json + merges.txt", async () => {
  const full = await PreTrainedTokenizer.fromPretrained(GPT2);
  const d = tmp();
  try {
    for (const f of ["vocab.json", "merges.txt", "tokenizer_config.json"]) copyFileSync(join(GPT2, f), join(d, f));
    const fromFiles = await PreTrainedTokenizer.fromPretrained(d);
    for (const e of json(join(GPT2, "tokenizer_examples.json")).examples) {
      for (const tok of [full, fromFiles]) {
        const enc = tok.encodeWithOffsets(e.text);
        assert.deepEqual(enc.ids, e.input_ids, e.text);
        assert.deepEqual(enc.tokens, e.tokens, e.text);
        assert.equal(tok.decode(enc.ids), e.decoded, e.text);
        // byte-level offsets: concatenating the spans of consecutive tokens rebuilds the text
        // (tokens inside one multi-byte character share its span)
        let rebuilt = "";
        let last = 0;
        for (const [s, t] of enc.offsets) {
          if (s >= last) rebuilt += e.text.slice(s, t);
          last = Math.max(last, t);
        }
        if (tok === full) assert.equal(rebuilt, e.text, e.text);
      }
    }
    assert.equal(full.eosTokenId, 0);
    assert.equal(full.bosTokenId, 0);
    assert.equal(full.padTokenId, null);
    assert.equal(fromFiles.eosTokenId, 0);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("bert-mini-en and llama-mini-en fixtures: ids, tokens, decode (llama template adds only [CLS])", async () => {
  for (const m of ["bert-mini-en", "llama-mini-en"]) {
    const tok = await AutoTokenizer.fromPretrained(join(MODELS, m));
    for (const e of json(join(MODELS, m, "tokenizer_examples.json")).examples) {
      const enc = tok.encodeWithOffsets(e.text);
      assert.deepEqual(enc.ids, e.input_ids, `${m}: ${e.text}`);
      assert.deepEqual(enc.tokens, e.tokens, `${m}: ${e.text}`);
      assert.equal(tok.decode(enc.ids, { skipSpecialTokens: true }), e.decoded, `${m}: ${e.text}`);
      assert.equal(tok.decode(enc.ids, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false }), e.decoded_tokenizers_lib, `${m}: ${e.text}`);
      checkOffsets(tok, e.text);
    }
    if (m === "llama-mini-en") {
      assert.equal(tok.bosTokenId, 2);
      assert.equal(tok.eosTokenId, 3);
      assert.equal(tok.numSpecialTokensToAdd(false), 1);
      const p = tok.encodeWithOffsets("hello", { textPair: "world" });
      assert.deepEqual(p.tokens, ["[CLS]", "hello", "world"]);
      assert.deepEqual(p.typeIds, [0, 0, 1]);
    }
  }
});

test("offsets map back to the right substrings (accents, CJK, case, punctuation, pairs)", async () => {
  const tok = await AutoTokenizer.fromPretrained(BERT);
  const text = "HeLLo, naïve café! 中国人 unaffable  walked";
  const e = tok.encodeWithOffsets(text);
  const spans = e.offsets.map(([s, t], i) => (e.specialMask[i] ? null : text.slice(s, t)));
  assert.deepEqual(spans, [null, "HeLLo", ",", "naïve", "café", "!", "中", "国", "人", "un", "aff", "able", "walk", "ed", null]);
  assert.deepEqual(e.wordIds, [null, 0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 9, 9, null]);
  const p = tok.encodeWithOffsets("good movie", { textPair: "it was great!" });
  const src = (i: number) => (p.sequenceIds[i] === 0 ? "good movie" : "it was great!");
  assert.deepEqual(p.offsets.map(([s, t], i) => (p.specialMask[i] ? null : src(i).slice(s, t))), [null, "good", "movie", null, "it", "was", "great", "!", null]);
  assert.deepEqual(p.sequenceIds, [null, 0, 0, null, 1, 1, 1, 1, null]);
  // special tokens written in the text are matched as added tokens
  const s = tok.encodeWithOffsets("hello [SEP] world");
  assert.deepEqual(s.tokens, ["[CLS]", "hello", "[SEP]", "world", "[SEP]"]);
  assert.deepEqual(s.offsets[2], [6, 11]);
});

test("padding, truncation (longest_first, only_first, only_second), left padding, split words", async () => {
  const tok = await AutoTokenizer.fromPretrained(BERT);
  const texts = ["hello world!", "the quick brown fox jumps over the lazy dog.", "unaffable"];
  const b = tok.call(texts, { padding: true });
  const lens = texts.map((t) => tok.encode(t).length);
  const L = Math.max(...lens);
  b.inputIds.forEach((ids, i) => {
    assert.equal(ids.length, L);
    assert.deepEqual(ids.slice(0, lens[i]), tok.encode(texts[i]));
    assert.ok(ids.slice(lens[i]).every((x) => x === tok.padTokenId));
    assert.deepEqual(b.attentionMask[i], [...new Array(lens[i]).fill(1), ...new Array(L - lens[i]).fill(0)]);
    assert.equal(b.wordIds[i].length, L);
  });
  const ml = tok.call(texts, { padding: "max_length", truncation: true, maxLength: 6 });
  for (let i = 0; i < 3; i++) {
    assert.equal(ml.inputIds[i].length, 6);
    const full = tok.encode(texts[i]);
    if (full.length > 6) assert.deepEqual(ml.inputIds[i], [...full.slice(0, 5), tok.sepTokenId]);
  }
  tok.paddingSide = "left";
  const lp = tok.call(["hello", "hello world"], { padding: "longest" });
  assert.deepEqual(lp.inputIds[0], [0, 2, 13, 3]);
  assert.deepEqual(lp.attentionMask[0], [0, 1, 1, 1]);
  tok.paddingSide = "right";
  // pairs: a = 10 word tokens, b = 3; budget 9 - 3 specials = 6 → longest_first: a 3? no: (3, 3)
  const a = "the quick brown fox jumps over the lazy dog", bb = "hello world !";
  const la = tok.encode(a, { addSpecialTokens: false }).length, lb = tok.encode(bb, { addSpecialTokens: false }).length;
  assert.equal(lb, 3);
  const lf = tok.call(a, { textPair: bb, truncation: "longest_first", maxLength: 9 });
  assert.equal(lf.inputIds[0].length, 9);
  assert.deepEqual(lf.tokenTypeIds[0], [0, 0, 0, 0, 0, 1, 1, 1, 1]); // 3 + 3 tokens
  const lf2 = tok.call(a, { textPair: bb, truncation: "longest_first", maxLength: 10 });
  assert.deepEqual(lf2.tokenTypeIds[0], [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]); // 4 + 3 (the shorter keeps all it can)
  const os = tok.call(bb, { textPair: a, truncation: "only_second", maxLength: 10 });
  assert.deepEqual(os.sequenceIds[0].filter((x) => x === 1).length, 10 - 3 - lb);
  const of = tok.call(a, { textPair: bb, truncation: "only_first", maxLength: 10 });
  assert.equal(of.sequenceIds[0].filter((x) => x === 0).length, 10 - 3 - lb);
  assert.ok(la > 7);
  assert.throws(() => tok.call(a, { textPair: bb, truncation: "only_first", maxLength: 5 }), ConfigError);
  // split into words: word ids follow the words, offsets are within each word
  const w = tok.call([["Hello", "wörld!", "unaffable"]], { isSplitIntoWords: true });
  assert.deepEqual(w.inputIds[0], tok.encode("Hello wörld! unaffable"));
  assert.deepEqual(w.wordIds[0], [null, 0, 1, 1, 2, 2, 2, null]);
  assert.deepEqual(w.offsets[0][2], [0, 5]);
  // gpt2 has no pad token
  const g = await AutoTokenizer.fromPretrained(GPT2);
  assert.throws(() => g.call(["a", "bb cc"], { padding: true }), ConfigError);
  g.padTokenId = g.eosTokenId;
  assert.equal(g.call(["a", "bb cc"], { padding: true }).inputIds[0].length, g.encode("bb cc").length);
  const gw = g.call(["Hello", "world"], { isSplitIntoWords: true });
  assert.deepEqual(gw.inputIds[0], g.encode(" Hello world"));
  const nHello = g.encode(" Hello").length;
  assert.deepEqual(gw.wordIds[0], gw.inputIds[0].map((_, i) => (i < nHello ? 0 : 1)));
  // offsets are within each word; the added prefix space maps to nothing
  assert.equal(Math.max(...gw.offsets[0].slice(0, nHello).map((o) => o[1])), 5);
  assert.equal(Math.max(...gw.offsets[0].slice(nHello).map((o) => o[1])), 5);
  assert.ok(gw.offsets[0].every(([a, b]) => a >= 0 && a <= b && b <= 5));
});

test("chat template: custom template rendered with bos/eos, generation prompt, tokenize; missing template → ConfigError", async () => {
  const tok = await AutoTokenizer.fromPretrained(join(MODELS, "llama-mini-en"));
  assert.equal(tok.chatTemplate, null);
  const msgs = [{ role: "user", content: "hello" }, { role: "assistant", content: "hi there" }];
  assert.throws(() => tok.applyChatTemplate(msgs), ConfigError);
  const tpl = "{{ bos_token }}{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}{{ raise_exception('bad role ' + m.role) }}{% endif %}"
    + "<{{ m.role }}> {{ m.content }}{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{{ '\\n' }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";
  const s = tok.applyChatTemplate(msgs, { chatTemplate: tpl });
  assert.equal(s, "[CLS]<user> hello\n<assistant> hi there[SEP]\n");
  assert.equal(tok.applyChatTemplate(msgs.slice(0, 1), { chatTemplate: tpl, addGenerationPrompt: true }), "[CLS]<user> hello\n<assistant>");
  const ids = tok.applyChatTemplate(msgs, { chatTemplate: tpl, tokenize: true });
  assert.deepEqual(ids, tok.encode("[CLS]<user> hello\n<assistant> hi there[SEP]\n", { addSpecialTokens: false }));
  assert.equal(ids[0], tok.bosTokenId);
  assert.throws(() => tok.applyChatTemplate([{ role: "system", content: "x" }], { chatTemplate: tpl }), (e: any) => e instanceof ConfigError && /bad role system/.test(e.message));
  // template from tokenizer_config.json
  const d = tmp();
  try {
    for (const f of ["tokenizer.json", "special_tokens_map.json"]) copyFileSync(join(MODELS, "llama-mini-en", f), join(d, f));
    const cfg = json(join(MODELS, "llama-mini-en", "tokenizer_config.json"));
    cfg.chat_template = tpl;
    writeFileSync(join(d, "tokenizer_config.json"), JSON.stringify(cfg));
    const t2 = await AutoTokenizer.fromPretrained(d);
    assert.equal(t2.applyChatTemplate(msgs), s);
    // savePretrained round trip
    const out = join(d, "saved");
    t2.savePretrained(out);
    const t3 = await AutoTokenizer.fromPretrained(out);
    assert.equal(t3.applyChatTemplate(msgs), s);
    assert.deepEqual(t3.encode("Hello, world!"), t2.encode("Hello, world!"));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("agrees with the library's own encode on real sentences (sst2 sample)", async () => {
  const tok = await AutoTokenizer.fromPretrained(join(MODELS, "bert-mini-en"));
  const lines = readFileSync("/work/shared/fixtures/sst2/dev.tsv", "utf8").split("\n").slice(1, 200).filter(Boolean);
  for (const l of lines) {
    const text = l.split("\t")[0];
    const ours = tok.encodeWithOffsets(text);
    assert.deepEqual(ours.ids, tok.backend.encode(text).ids, text);
    checkOffsets(tok, text);
  }
  const g = await AutoTokenizer.fromPretrained(GPT2);
  for (const l of lines.slice(0, 50)) {
    const text = l.split("\t")[0];
    assert.deepEqual(g.encode(text), g.backend.encode(text).ids, text);
    assert.equal(g.decode(g.encode(text)), text);
  }
});

test("missing tokenizer files → ConfigError naming the folder", async () => {
  const d = tmp();
  try {
    await assert.rejects(AutoTokenizer.fromPretrained(d), (e: any) => e instanceof ConfigError && e.message.includes(d));
    await assert.rejects(AutoTokenizer.fromPretrained("no-such-org/no-such-model"), (e: any) => e instanceof ConfigError && e.message.includes("no-such-org/no-such-model"));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("longest_first pair truncation matches the Rust tokenizers length table (max 7 without specials)", async () => {
  const tok = await AutoTokenizer.fromPretrained(BERT);
  const words = (n: number) => new Array(n).fill("hello").join(" ");
  // [n1, n2] → [kept1, kept2], the cases of tokenizers' truncate_encodings_longest_first test
  const table: [number, number, number, number][] = [
    [0, 2, 0, 2], [0, 8, 0, 7], [2, 2, 2, 2], [2, 4, 2, 4], [2, 8, 2, 5], [4, 4, 3, 4], [4, 8, 3, 4],
    [8, 0, 7, 0], [8, 2, 5, 2], [8, 4, 4, 3], [8, 8, 3, 4],
  ];
  for (const [n1, n2, k1, k2] of table) {
    const b = tok.call(words(n1), { textPair: words(n2), truncation: "longest_first", maxLength: 7 + tok.numSpecialTokensToAdd(true) });
    const seq = b.sequenceIds[0];
    assert.deepEqual([seq.filter((s) => s === 0).length, seq.filter((s) => s === 1).length], [k1, k2], `${n1},${n2}`);
  }
});
