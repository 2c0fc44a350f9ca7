import { test } from "node:test";
import assert from "node:assert/strict";
import {
  accuracy, argmax, f1Score, getEntities, matthewsCorrcoef, normalizeAnswer, pearson, perplexity, precisionRecallF1,
  rankAverage, seqevalScores, spearman, squadExactMatch, squadF1, squadScores,
} from "../../src/data/metrics.js";
import { ConfigError } from "../../src/tensor/errors.js";

const near = (a: number, b: number, tol = 1e-12, what = "") => assert.ok(Math.abs(a - b) <= tol, `${what}: got ${a}, want ${b}`);

test("accuracy and argmax", () => {
  assert.equal(accuracy([0, 1, 1, 0], [0, 1, 0, 0]), 0.75);
  assert.deepEqual(argmax([[0.1, 0.9], [2, -1], [1, 1]]), [1, 0, 0]);
  assert.throws(() => accuracy([1], [1, 0]), ConfigError);
});

test("binary precision/recall/F1 by hand", () => {
  // TP = 2 (idx 0, 2), FP = 1 (idx 3), FN = 1 (idx 1) → P = 2/3, R = 2/3, F1 = 2/3
  const r = precisionRecallF1([1, 1, 1, 0, 0], [1, 0, 1, 1, 0]);
  near(r.precision, 2 / 3); near(r.recall, 2 / 3); near(r.f1, 2 / 3);
  // no predicted positives: precision 0 (zero_division=0)
  assert.equal(precisionRecallF1([1, 0], [0, 0]).precision, 0);
  assert.throws(() => precisionRecallF1([0, 1, 2], [0, 1, 2]), ConfigError);
});

test("macro / micro / weighted averages (scikit-learn documentation example)", () => {
  // sklearn.metrics.f1_score docs: y_true = [0,1,2,0,1,2], y_pred = [0,2,1,0,0,1]
  // → macro 0.26666…, micro 0.33333…, weighted 0.26666…; precision macro 0.22222…
  const yt = [0, 1, 2, 0, 1, 2], yp = [0, 2, 1, 0, 0, 1];
  near(f1Score(yt, yp, { average: "macro" }), 0.26666666666666666, 1e-12, "macro");
  near(f1Score(yt, yp, { average: "micro" }), 1 / 3, 1e-12, "micro");
  near(f1Score(yt, yp, { average: "weighted" }), 0.26666666666666666, 1e-12, "weighted");
  near(precisionRecallF1(yt, yp, { average: "macro" }).precision, 2 / 9, 1e-12, "precision macro");
  // string labels work too
  near(f1Score(["a", "b", "a"], ["a", "a", "a"], { average: "macro" }), (0.8 + 0) / 2, 1e-12, "strings");
});

test("Matthews correlation: a 2×2 table by hand and the scikit-learn doc example", () => {
  // TP=3, FN=1, FP=2, TN=4: MCC = (3·4 − 2·1)/sqrt((3+2)(3+1)(4+2)(4+1)) = 10/sqrt(600)
  const yt = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
  const yp = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0];
  near(matthewsCorrcoef(yt, yp), 10 / Math.sqrt(600), 1e-12, "2x2");
  // sklearn docs: y_true = [+1,+1,+1,−1], y_pred = [+1,−1,+1,+1] → −0.333…
  near(matthewsCorrcoef([1, 1, 1, -1], [1, -1, 1, 1]), -1 / 3, 1e-12, "docs");
  assert.equal(matthewsCorrcoef([1, 1, 1], [1, 1, 1]), 0); // undefined denominator → 0
});

test("Pearson and Spearman (average ranks for ties)", () => {
  near(pearson([1, 2, 3], [2, 4, 6]), 1);
  near(pearson([1, 2, 3], [3, 2, 1]), -1);
  assert.deepEqual(rankAverage([10, 20, 20, 5]), [2, 3.5, 3.5, 1]);
  // ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]: Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5 → 4.5/√22.5
  near(spearman([1, 2, 2, 3], [1, 3, 2, 4]), 4.5 / Math.sqrt(22.5), 1e-12, "spearman ties");
  near(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]), 0.8207826816681233, 1e-12, "scipy docs example");
});

test("seqeval: README example and default-mode chunking rules", () => {
  // seqeval README: f1 0.50, accuracy 0.80
  const yTrue = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]];
  const yPred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]];
  const r = seqevalScores(yTrue, yPred);
  near(r.f1, 0.5); near(r.precision, 0.5); near(r.recall, 0.5); near(r.accuracy, 0.8);
  assert.deepEqual(r.perType.PER, { precision: 1, recall: 1, f1: 1, support: 1 });
  assert.deepEqual(r.perType.MISC, { precision: 0, recall: 0, f1: 0, support: 1 });
  // an I- after O starts an entity; a type change splits; B- always starts a new one
  assert.deepEqual(getEntities(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG", "E-ORG", "S-LOC"]), [
    { type: "PER", start: 0, end: 1 },
    { type: "LOC", start: 3, end: 3 },
    { type: "LOC", start: 4, end: 4 },
    { type: "ORG", start: 5, end: 6 },
    { type: "LOC", start: 7, end: 7 },
  ]);
  assert.deepEqual(getEntities(["B-creative-work", "I-creative-work"]), [{ type: "creative-work", start: 0, end: 1 }]);
});

test("SQuAD normalisation, exact match and token F1 (official v1.1 definitions)", () => {
  assert.equal(normalizeAnswer("The  Quick, brown fox!"), "quick brown fox");
  assert.equal(normalizeAnswer("an apple a day"), "apple day");
  assert.equal(squadExactMatch("the Denver Broncos", "Denver Broncos"), 1);
  assert.equal(squadExactMatch("Broncos", "Denver Broncos"), 0);
  // "Denver" vs "Denver Broncos": P = 1, R = 1/2 → F1 = 2/3
  near(squadF1("Denver", "Denver Broncos"), 2 / 3);
  near(squadF1("x y y", "y y z"), 2 / 3); // common = 2 (multiset), P = 2/3, R = 2/3
  assert.equal(squadF1("", "x"), 0);
  const s = squadScores({ q1: "Denver Broncos", q2: "Denver" }, [{ id: "q1", answers: ["denver broncos"] }, { id: "q2", answers: ["Carolina", "Denver Broncos"] }]);
  near(s.exactMatch, 50); near(s.f1, 100 * (1 + 2 / 3) / 2);
  assert.throws(() => squadScores({}, [{ id: "x", answers: ["a"] }]), ConfigError);
});

test("perplexity = exp(mean loss), optionally token-weighted", () => {
  near(perplexity([Math.log(4), Math.log(16)]), 8);
  near(perplexity([1, 3], [3, 1]), Math.exp(1.5));
});
