// BLEU and chrF against sacrebleu 2.6.0's defaults on fixtures made by
// scripts/fixtures/make_bleu_fixtures.py (German/English strings, unicode, punctuation, empty and
// zero-match predictions, several and variable numbers of references); equal to 1e-9.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { bleu, chrf } from "../../src/data/metrics.js";
import { tokenize13a, pyRstrip } from "../../src/data/text_13a.js";
import { SIGNATURE_VERSION } from "../../src/data/references.js";
import { ConfigError } from "../../src/tensor/errors.js";

interface Case {
  name: string;
  predictions: string[];
  streams: (string | null)[][];
  bleu: { score: number; precisions: number[]; bp: number; sysLen: number; refLen: number; counts: number[]; totals: number[]; signature: string };
  chrf: { score: number; signature: string };
}
const fx = JSON.parse(readFileSync(new URL("../fixtures/metrics/sacrebleu.json", import.meta.url), "utf8")) as {
  sacrebleu: string; cases: Case[]; tokenize13a: { input: string; output: string }[];
};

const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9, `${what}: got ${a}, sacrebleu ${b}`);
const ours = (sig: string) => sig.replace(`version:${fx.sacrebleu}`, `version:${SIGNATURE_VERSION}`);
/** The per-prediction shape (HF evaluate's) of sacrebleu's streams. */
const perPrediction = (c: Case) => c.predictions.map((_, i) => c.streams.map((s) => s[i]).filter((x): x is string => x !== null));

test("13a tokeniser equals sacrebleu's Tokenizer13a", () => {
  for (const { input, output } of fx.tokenize13a) assert.equal(tokenize13a(pyRstrip(input)), output, JSON.stringify(input));
});

for (const c of fx.cases) {
  test(`BLEU and chrF equal sacrebleu: ${c.name}`, () => {
    const shapes: [string, Parameters<typeof bleu>[1]][] = [["streams", { streams: c.streams }], ["per prediction", perPrediction(c)]];
    if (c.streams.length === 1) shapes.push(["one string each", c.streams[0] as string[]]);
    for (const [shape, refs] of shapes) {
      const b = bleu(c.predictions, refs);
      near(b.score, c.bleu.score, `${shape} score`);
      near(b.bp, c.bleu.bp, `${shape} bp`);
      c.bleu.precisions.forEach((p, n) => near(b.precisions[n], p, `${shape} precision ${n + 1}`));
      assert.deepEqual([b.sysLen, b.refLen, b.counts, b.totals], [c.bleu.sysLen, c.bleu.refLen, c.bleu.counts, c.bleu.totals], shape);
      assert.equal(b.signature, ours(c.bleu.signature));
      const f = chrf(c.predictions, refs);
      near(f.score, c.chrf.score, `${shape} chrF`);
      assert.equal(f.signature, ours(c.chrf.signature));
    }
  });
}

test("BLEU/chrF: mismatched or malformed references are ConfigErrors that say which shape is expected", () => {
  assert.throws(() => bleu(["a", "b"], ["a"]), (e: unknown) => e instanceof ConfigError && /2 predictions but 1 references/.test(e.message));
  assert.throws(() => chrf(["a"], { streams: [["a", "b"]] }), (e: unknown) => e instanceof ConfigError && /stream 0/.test(e.message));
  assert.throws(() => bleu([], []), ConfigError);
  assert.throws(() => bleu(["a"], [[]]), (e: unknown) => e instanceof ConfigError && /no reference/.test(e.message));
  assert.throws(() => bleu(["a"], [[1 as unknown as string]]), ConfigError);
});
