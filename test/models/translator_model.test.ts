// The bundled translator (models/marian-mini-en-de, made by scripts/pretrain_translator.ts): it loads
// with AutoModelForSeq2SeqLM + AutoTokenizer, translates dev strings deterministically (the same
// text twice, and the texts recorded when it was shipped), and `peft-ts generate` prints the same.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AutoModelForSeq2SeqLM, AutoTokenizer } from "../../src/index.js";
import { translateAll } from "../../scripts/translator_eval.js";
import { captureStdout, cliInProcess, ROOT } from "../cli/helpers.js";

const MODEL = join(ROOT, "models", "marian-mini-en-de");
const EXPECTED: { en: string; greedy: string; beam4: string }[] = JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "translator", "expected.json"), "utf8"));

test("bundled translator: loads, greedy and beam-4 translations are deterministic and as recorded", async () => {
  const model = await AutoModelForSeq2SeqLM.fromPretrained(MODEL, { log: () => {} });
  model.eval();
  const tok = await AutoTokenizer.fromPretrained(MODEL);
  const src = EXPECTED.map((e) => e.en);
  const greedy = translateAll(model, tok, src, { numBeams: 1, maxNewTokens: 32 });
  assert.deepEqual(translateAll(model, tok, src, { numBeams: 1, maxNewTokens: 32 }), greedy);
  assert.deepEqual(greedy, EXPECTED.map((e) => e.greedy));
  assert.deepEqual(translateAll(model, tok, src, { numBeams: 4, maxNewTokens: 32 }), EXPECTED.map((e) => e.beam4));
});

test("bundled translator: peft-ts generate prints the greedy translation", async () => {
  // one line per prompt: a row whose source and translation hold no newline
  const e = EXPECTED.find((x) => !x.en.includes("\n") && !x.greedy.includes("\n") && x.greedy.trim() !== "")!;
  const printed = await captureStdout(async () => {
    const r = await cliInProcess(["generate", "-m", MODEL, "--prompt", e.en, "--num_beams", "1", "--max_new_tokens", "32"]);
    assert.equal(r.code, 0, r.stderr);
  });
  assert.equal(printed.trim().split("\n").at(-1)!.trim(), e.greedy.trim());
});
