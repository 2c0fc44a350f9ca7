// Task heads: losses follow HF's definitions (checked against plain-JS reference computations)
// and decoder classifiers pool at the last non-pad token.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AutoModelForMaskedLM, AutoModelForQuestionAnswering, AutoModelForSequenceClassification, AutoModelForTokenClassification,
} from "../../src/models/auto.js";
import { GPT2ForSequenceClassification } from "../../src/models/gpt2.js";
import { LlamaForSequenceClassification } from "../../src/models/llama.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { ShapeError } from "../../src/tensor/errors.js";
import { noGrad } from "../../src/tensor/autograd.js";
import { assertClose, GOLDEN, goldenJson } from "./helpers.js";

const BERT = join(GOLDEN, "bert-tiny-random");
const g = goldenJson("bert-tiny-random");
const quiet = { log: () => {} };
const inputs = { inputIds: g.inputs.input_ids, attentionMask: g.inputs.attention_mask, tokenTypeIds: g.inputs.token_type_ids };

/** −log softmax(row)[label], in float64. */
function nll(row: ArrayLike<number>, label: number): number {
  let mx = -Infinity;
  for (let i = 0; i < row.length; i++) mx = Math.max(mx, row[i]);
  let z = 0;
  for (let i = 0; i < row.length; i++) z += Math.exp(row[i] - mx);
  return Math.log(z) + mx - row[label];
}
function rows(t: Tensor): Float32Array[] {
  const C = t.shape[t.ndim - 1], d = t.f32();
  return Array.from({ length: d.length / C }, (_, i) => d.subarray(i * C, (i + 1) * C));
}

test("token classification: CE over tokens, −100 ignored", async () => {
  const m = await AutoModelForTokenClassification.fromPretrained(BERT, quiet);
  const labels = g.inputs.attention_mask.map((r: number[], b: number) => r.map((x: number, t: number) => (x ? (b + t) % 2 : -100)));
  const out = m.forward({ ...inputs, labels });
  assert.deepEqual(out.logits!.shape, [3, 8, 2]);
  const flatLabels = labels.flat();
  let s = 0, n = 0;
  rows(out.logits!).forEach((r, i) => {
    if (flatLabels[i] !== -100) { s += nll(r, flatLabels[i]); n++; }
  });
  assertClose(out.loss!, s / n, "token loss");
});

test("question answering: start/end logits, loss = mean of the two CEs with out-of-range positions ignored", async () => {
  const m = await AutoModelForQuestionAnswering.fromPretrained(BERT, quiet);
  const start = [1, 2, 50], end = [2, 6, 50];
  const out = m.forward({ ...inputs, startPositions: start, endPositions: end });
  assert.deepEqual(out.startLogits!.shape, [3, 8]);
  assert.deepEqual(out.endLogits!.shape, [3, 8]);
  const sr = rows(out.startLogits!), er = rows(out.endLogits!);
  // position 50 is clamped to T = 8, which is the ignore index
  const ls = (nll(sr[0], 1) + nll(sr[1], 2)) / 2, le = (nll(er[0], 2) + nll(er[1], 6)) / 2;
  assertClose(out.loss!, (ls + le) / 2, "qa loss");
  out.loss!.backward();
  assert.ok(m.qa_outputs.weight.grad);
});

test("sequence classification: regression (MSE), multi-label (BCE) and single-label inferred as HF", async () => {
  // regression with two outputs per row (problem_type given): MSE over all outputs
  const m = await AutoModelForSequenceClassification.fromPretrained(BERT, { problemType: "regression" });
  const out = m.forward({ ...inputs, labels: [[0.5, 1], [-1, 0], [2, 3]] });
  const lg = out.logits!.f32();
  const yy = [0.5, 1, -1, 0, 2, 3];
  assertClose(out.loss!, yy.reduce((a, v, i) => a + (lg[i] - v) ** 2, 0) / 6, "mse");
  const ml = await AutoModelForSequenceClassification.fromPretrained(BERT);
  const targets = [[1, 0], [1, 1], [0, 0.5]];
  const o2 = ml.forward({ ...inputs, labels: targets });
  assert.equal(ml.config.problemType, "multi_label_classification");
  const l2 = o2.logits!.f32();
  const bce = targets.flat().reduce((a, t, i) => a - (t * Math.log(1 / (1 + Math.exp(-l2[i]))) + (1 - t) * Math.log(1 - 1 / (1 + Math.exp(-l2[i])))), 0) / 6;
  assertClose(o2.loss!, bce, "bce");
  const sl = await AutoModelForSequenceClassification.fromPretrained(BERT);
  sl.forward({ ...inputs, labels: g.inputs.labels });
  assert.equal(sl.config.problemType, "single_label_classification");
});

test("masked LM loss: CE over the vocabulary at labelled positions only", async () => {
  const m = await AutoModelForMaskedLM.fromPretrained(BERT, quiet);
  const ids = g.inputs.input_ids;
  const labels = ids.map((r: number[]) => r.map((x: number, t: number) => (t === 2 ? x : -100)));
  const out = m.forward({ ...inputs, labels });
  const V = out.logits!.shape[2];
  const r = rows(out.logits!);
  const s = ids.reduce((a: number, row: number[], b: number) => a + nll(r[b * 8 + 2], row[2]), 0) / 3;
  assertClose(out.loss!, s, "mlm loss");
  assert.equal(V, 170);
});

test("llama/gpt2 sequence classification pool the last non-pad token (left or right padding)", async () => {
  for (const dir of ["llama-tiny-random", "gpt2-tiny-random"]) {
    const m = await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, dir), { ...quiet, numLabels: 3 });
    assert.ok(m instanceof (dir.startsWith("llama") ? LlamaForSequenceClassification : GPT2ForSequenceClassification));
    m.config.padTokenId = 0;
    const row = dir.startsWith("llama") ? [1, 17, 42, 99] : [287, 282, 79, 82];
    const alone = noGrad(() => m.forward({ inputIds: [row] }).logits!);
    const right = noGrad(() => m.forward({ inputIds: [[...row, 0, 0], [...row, 5, 6]], attentionMask: [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]] }).logits!);
    assertClose(right.slice(0, 0, 1), alone, `${dir} right-padded`);
    const posLeft = [[1, 1, 0, 1, 2, 3]];
    const left = noGrad(() => m.forward({ inputIds: [[0, 0, ...row]], attentionMask: [[0, 0, 1, 1, 1, 1]], positionIds: posLeft }).logits!);
    assertClose(left, alone, `${dir} left-padded`);
    m.config.padTokenId = null;
    assert.throws(() => m.forward({ inputIds: [row, row] }), ShapeError);
  }
});

test("num_labels 1 infers regression: MSE between the single logit and float labels", async () => {
  const m = await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, "..", "fixtures", "models", "bert-mini-en"), { ...quiet, numLabels: 1 });
  const y = [0.25, -1.5];
  const out = m.forward({ inputIds: [[2, 1002, 2102, 3], [2, 1007, 3, 0]], attentionMask: [[1, 1, 1, 1], [1, 1, 1, 0]], labels: y });
  assert.equal(m.config.problemType, "regression");
  assert.deepEqual(out.logits!.shape, [2, 1]);
  const l = out.logits!.f32();
  assertClose(out.loss!, ((l[0] - y[0]) ** 2 + (l[1] - y[1]) ** 2) / 2, "mse");
});
