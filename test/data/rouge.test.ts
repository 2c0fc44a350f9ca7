// ROUGE-1/2/L as rouge_score's default scorer, on worked examples: the sentence pair of the
// rouge_score README's usage example (rouge1 F 12/17, rougeL F 10/17), the ASCII-only tokenizer, empty
// predictions and the best of several references. rouge_score is not installed in the reference
// stack here, so these values are derived by hand (counts in the comments).

import { test } from "node:test";
import assert from "node:assert/strict";
import { rouge } from "../../src/data/metrics.js";
import { rougeTokenize } from "../../src/data/rouge.js";

const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12, `${what}: got ${a}, want ${b}`);

test("rouge_score's usage example pair: rouge1, rouge2 and rougeL by hand", () => {
  // target 9 tokens, prediction 8; unigram overlap the×2 quick brown dog jumps = 6 → P 6/8, R 6/9
  // bigrams: "the quick", "quick brown" = 2 of 7 / 8; LCS "the quick brown jumps the" = 5 → P 5/8, R 5/9
  const r = rouge(["The quick brown dog jumps on the log."], ["The quick brown fox jumps over the lazy dog"]);
  near(r.rouge1, 12 / 17, "rouge1");
  near(r.rougeL, 10 / 17, "rougeL");
  const p2 = 2 / 7, r2 = 2 / 8;
  near(r.rouge2, (2 * p2 * r2) / (p2 + r2), "rouge2");
  near(r.perPrediction[0].rougeL.precision, 5 / 8, "rougeL precision");
});

test("rouge tokenizer: lowercase, ASCII letters and digits only", () => {
  assert.deepEqual(rougeTokenize("Größe ändern: 3,5 MB!"), ["gr", "e", "ndern", "3", "5", "mb"]);
  assert.deepEqual(rougeTokenize("  ...  "), []);
});

test("rouge: empty prediction scores 0, several references take the best F per type, corpus = mean", () => {
  const r = rouge(["", "open the file"], [["open a file"], ["close it", "open the file now", "open the file"]]);
  assert.equal(r.perPrediction[0].rougeL.fmeasure, 0);
  assert.equal(r.perPrediction[0].rouge1.fmeasure, 0);
  assert.equal(r.perPrediction[1].rougeL.fmeasure, 1);
  near(r.rouge1, 0.5, "mean of 0 and 1");
});
