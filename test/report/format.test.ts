// Number formatting for people and nice axis ticks (expected values worked out by hand), and the
// classification figures (confusion matrix, per-class scores against the library's sklearn-checked
// precisionRecallF1, reliability bins and ECE by hand).
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatCount, formatDuration, formatMetric, formatNumber, formatPercent, metricTable, niceTicks, logTicks, confusionMatrix, classScores, reliability } from "../../src/report/index.js";
import { precisionRecallF1 } from "../../src/data/metrics.js";

test("formatNumber: 4 significant digits, thousands separators, exponents only far out", () => {
  assert.equal(formatNumber(0.7454128440366973), "0.7454");
  assert.equal(formatNumber(3366357995520), "3,366,357,995,520");
  assert.equal(formatNumber(1234.5678), "1,235");
  assert.equal(formatNumber(12.3456), "12.35");
  assert.equal(formatNumber(0.00012346), "0.0001235");
  assert.equal(formatNumber(0.00002), "2e-5");
  assert.equal(formatNumber(-0.5), "-0.5");
  assert.equal(formatNumber(0), "0");
  assert.equal(formatNumber(2.5, 3), "2.5");
  assert.equal(formatNumber(NaN), "NaN");
  assert.equal(formatCount(1837696), "1,837,696");
});

test("formatPercent and formatDuration", () => {
  assert.equal(formatPercent(0.7454128440366973), "74.54%");
  assert.equal(formatPercent(0.55), "55.0%");
  assert.equal(formatPercent(1), "100.0%");
  assert.equal(formatPercent(0), "0.0%");
  assert.equal(formatPercent(0.0909, 3), "9.09%");
  assert.equal(formatDuration(0.093), "93 ms");
  assert.equal(formatDuration(3.14), "3.1 s");
  assert.equal(formatDuration(42.4), "42 s");
  assert.equal(formatDuration(102), "1 min 42 s");
  assert.equal(formatDuration(3600), "1 h 00 min");
  assert.equal(formatDuration(7500), "2 h 05 min");
});

test("formatMetric: rates as percentages, runtimes as durations, counts with separators", () => {
  assert.equal(formatMetric("eval_accuracy", 0.7454128440366973), "74.54%");
  assert.equal(formatMetric("eval_f1", 0.5), "50.0%");
  assert.equal(formatMetric("train_runtime", 102.3), "1 min 42 s");
  assert.equal(formatMetric("total_flos", 3366357995520), "3,366,357,995,520");
  assert.equal(formatMetric("eval_loss", 0.693147), "0.6931");
  assert.equal(formatMetric("epoch", 3), "3");
  assert.equal(metricTable({ eval_loss: 0.693147, eval_accuracy: 0.75 }), "  eval_accuracy  75.0%\n  eval_loss      0.6931");
});

test("niceTicks: integer step ticks for step axes, 1/2/2.5/5 steps otherwise", () => {
  // the axis: 10..355 steps gave 125.3, 240.5, 355.8
  // 345 steps / 6 = 57.5 → the next nice step is 100
  assert.deepEqual(niceTicks(10, 355, 6, { integer: true }).values, [0, 100, 200, 300, 400]);
  assert.deepEqual(niceTicks(10, 355, 8, { integer: true }).values, [0, 50, 100, 150, 200, 250, 300, 350, 400]);
  assert.deepEqual(niceTicks(0, 36, 6, { integer: true }).values, [0, 10, 20, 30, 40]);
  assert.deepEqual(niceTicks(1, 3, 6, { integer: true }).values, [1, 2, 3]);
  // a one-step run: still whole numbers around the step
  assert.deepEqual(niceTicks(2, 2, 6, { integer: true }).values, [1, 2, 3]);
  assert.deepEqual(niceTicks(0.55, 0.7, 5).values, [0.55, 0.6, 0.65, 0.7]);
  assert.deepEqual(niceTicks(0, 0.0025, 5).values, [0, 0.0005, 0.001, 0.0015, 0.002, 0.0025]);
  assert.deepEqual(niceTicks(0.17, 0.78, 5).values, [0, 0.2, 0.4, 0.6, 0.8]);
  for (const [lo, hi] of [[0, 7], [3, 1234], [0, 99999], [17, 18]]) {
    const t = niceTicks(lo, hi, 6, { integer: true });
    assert.ok(t.values.every(Number.isInteger), `integer ticks for ${lo}..${hi}: ${t.values}`);
    assert.ok(t.lo <= lo && t.hi >= hi, "ticks cover the data");
  }
  assert.deepEqual(logTicks(0.15, 0.8).values, [0.2, 0.5]);
  assert.deepEqual(logTicks(0.01, 20).values, [0.01, 0.1, 1, 10]);
});

test("confusion matrix, per-class scores (as sklearn's) and the reliability diagram", () => {
  const y = [0, 0, 0, 1, 1, 2, 2, 2, 2], p = [0, 1, 0, 1, 2, 2, 2, 0, 2];
  const m = confusionMatrix(y, p, 3);
  assert.deepEqual(m, [[2, 1, 0], [0, 1, 1], [1, 0, 3]]);
  const s = classScores(m);
  for (const c of [0, 1, 2]) {
    const binary = precisionRecallF1(y.map((v) => (v === c ? 1 : 0)), p.map((v) => (v === c ? 1 : 0)));
    assert.ok(Math.abs(s[c].precision - binary.precision) < 1e-12 && Math.abs(s[c].recall - binary.recall) < 1e-12 && Math.abs(s[c].f1 - binary.f1) < 1e-12, `class ${c}`);
  }
  assert.deepEqual(s.map((x) => x.support), [3, 2, 4]);
  // bins [0.5,0.6): 0.55, 0.58 (1 right); [0.9,1]: 0.95, 1.0 (2 right)
  const r = reliability([0.55, 0.58, 0.95, 1.0], [true, false, true, true]);
  assert.deepEqual(r.bins.map((b) => [b.count, b.accuracy]), [[2, 0.5], [2, 1]]);
  // ECE = ½·|0.5 − 0.565| + ½·|1 − 0.975|
  assert.ok(Math.abs(r.ece - (0.5 * 0.065 + 0.5 * 0.025)) < 1e-12);
});
