// Attention rollout against cases known in closed form, and through a model's own attentions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Tensor } from "../../src/tensor/tensor.js";
import { ShapeError } from "../../src/tensor/errors.js";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { attentionRollout, rolloutExplain, type ExplainableModel } from "../../src/explain/index.js";
import { GOLDEN } from "../models/helpers.js";

const close = (a: number, b: number, what: string, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test("rollout: one layer = (mean over heads + I)/2; uniform layers give I/2ᴸ + (1 − 1/2ᴸ)·U", () => {
  // two heads over T = 3 (rows sum to 1)
  const h0 = [[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]], h1 = [[0, 1, 0], [0.1, 0.8, 0.1], [0, 0, 1]];
  const one = attentionRollout([Tensor.from([[h0, h1]])]);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
    close(one.matrix[i * 3 + j], ((h0[i][j] + h1[i][j]) / 2 + (i === j ? 1 : 0)) / 2, `one layer [${i},${j}]`, 1e-7);
  }
  const T = 4, L = 3, u = Array.from({ length: T }, () => new Array(T).fill(1 / T));
  const r = attentionRollout(Array.from({ length: L }, () => Tensor.from([[u, u]])));
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) close(r.matrix[i * T + j], (i === j ? 1 / 2 ** L : 0) + (1 - 1 / 2 ** L) / T, `uniform [${i},${j}]`, 1e-7);
  assert.throws(() => attentionRollout([]), ShapeError);
  assert.throws(() => attentionRollout([Tensor.zeros([1, 2, 3, 4])]), /expected self-attention weights/);
});

test("rolloutExplain: the model's attentions rolled out; rows are distributions; typed errors", async () => {
  const model = (await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, "bert-tiny-random"), { log: () => {} })) as unknown as ExplainableModel;
  const ex = { inputIds: [2, 5, 6, 7, 3] };
  const r = rolloutExplain(model, ex);
  assert.equal(r.attentions.length, 2);
  assert.equal(r.tokenScores.length, 5);
  for (const row of r.matrix) close(row.reduce((a, b) => a + b, 0), 1, "row sum", 1e-9);
  const again = attentionRollout(r.attentions);
  assert.deepEqual(r.matrix[0], Array.from(again.matrix.subarray(0, 5)));
  assert.throws(() => rolloutExplain(model, ex, { query: 5 }), /query position 5 is outside the 5 tokens/);
});
