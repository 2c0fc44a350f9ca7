// The real pretrained fixtures (PRETRAINED.md): fill-mask top-5 for bert-mini-en and greedy
// continuations for llama-mini-en, both produced by transformers on the same files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { AutoModelForCausalLM, AutoModelForMaskedLM } from "../../src/models/auto.js";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { noGrad } from "../../src/tensor/autograd.js";
import { captureLog, FIXTURES } from "./helpers.js";

const BERT = join(FIXTURES, "bert-mini-en");
const LLAMA = join(FIXTURES, "llama-mini-en");

test("bert-mini-en: fill-mask top-5 as listed in PRETRAINED.md", async () => {
  const cap = captureLog();
  const model = await AutoModelForMaskedLM.fromPretrained(BERT, { log: cap.log });
  // the untrained pooler is in the file but not part of BertForMaskedLM (HF reports it as unused)
  assert.equal(cap.lines.length, 1);
  assert.match(cap.lines[0], /not used when initializing BertForMaskedLM: \[bert\.pooler\.dense\.bias, bert\.pooler\.dense\.weight\]/);
  const tok = await AutoTokenizer.fromPretrained(BERT);
  const cases: [string, string[]][] = [
    ["the movie was [MASK] .", ["funny", "really", "nothing", "movie", "better"]],
    ["i love this [MASK] !", ["!", "love", "day", "week", "movie"]],
    ["the capital of france is [MASK] .", ["not", "nothing", "it", "no", "never"]],
    ["to be or not to [MASK] .", ["be", "do", "you", "work", "find"]],
  ];
  const maskId = tok.convertTokensToIds("[MASK]") as number;
  for (const [text, want] of cases) {
    const ids = tok.encode(text);
    const pos = ids.indexOf(maskId);
    assert.ok(pos > 0, `no [MASK] in ${JSON.stringify(ids)}`);
    const logits = noGrad(() => model.forward({ inputIds: [ids] }).logits!);
    const V = logits.shape[2];
    const row = Array.from(logits.f32().subarray(pos * V, (pos + 1) * V));
    const top = row.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, 5).map(([, i]) => i);
    assert.deepEqual(tok.convertIdsToTokens(top), want, text);
  }
});

test("llama-mini-en: greedy continuations as listed in PRETRAINED.md (alone and as a left-padded batch)", async () => {
  const model = await AutoModelForCausalLM.fromPretrained(LLAMA);
  const tok = await AutoTokenizer.fromPretrained(LLAMA);
  const cases: [string, string][] = [
    ["the movie was", "the movie was a film that is a film that is a film that is a film that is a film that is a film that is a film that is a film"],
    ["once upon a time", "once upon a time, he's a good day, and he's a good day."],
    ["to be or not to be", "to be or not to be a good time."],
    ["the best way to learn", "the best way to learn is to be a good time."],
    ["a dog is", "a dog is a little little movie."],
  ];
  const prompts = cases.map(([p]) => tok.encode(p));
  const alone = prompts.map((p) => model.generate([p], { maxNewTokens: 30 })[0]);
  cases.forEach(([prompt, want], i) => assert.equal(tok.decode(alone[i], { skipSpecialTokens: true }), want, prompt));
  // rows that stop at [SEP] (eos 3) keep it, as HF returns the final [SEP]
  assert.equal(alone[1][alone[1].length - 1], 3);
  const batch = model.generate(prompts, { maxNewTokens: 30 });
  batch.forEach((row, i) => {
    const firstReal = row.findIndex((x) => x !== 0);
    const trimmed = row.slice(firstReal);
    // finished rows are filled with pad (0) after their [SEP]
    const end = trimmed.indexOf(3);
    assert.deepEqual(end >= 0 ? trimmed.slice(0, end + 1) : trimmed, alone[i], cases[i][0]);
  });
});
