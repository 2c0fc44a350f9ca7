// Sequence classification labels (issue #16): the label set comes from the training split (or the
// model's named labels, or --num_labels), an evaluation label outside it / a float label / a
// missing column is a ConfigError naming the file, row or column; regression (STS-B) keeps float
// labels with one output and HF's metrics; dataset-sized label columns do not overflow the stack.

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { Dataset, readCsv } from "../../src/data/datasets.js";
import { seqClsLabelSet } from "../../src/data/tasks/seq_cls_labels.js";
import { regressionMetrics, seqClsTask } from "../../src/data/tasks/seq_cls_task.js";
import { seqClsColumns } from "../../src/data/tasks/seq_cls.js";
import { renderReport } from "../../src/train/report.js";
import { ConfigError } from "../../src/tensor/errors.js";
import type { TaskOptions } from "../../src/data/tasks/task.js";

const FIX = new URL("../../../shared/fixtures/", import.meta.url).pathname;
const tok = await AutoTokenizer.fromPretrained(join(FIX, "models/bert-mini-en"));
const stsb = readCsv(join(FIX, "stsb/dev.tsv"));

const rowsOf = (labels: unknown[]) => Dataset.fromRows(labels.map((label, i) => ({ sentence: `row ${i}`, label })));
const prepare = (train: Dataset | undefined, evalRows: Dataset | undefined, opts: TaskOptions = {}) =>
  seqClsTask.prepare({ train, eval: evalRows }, tok, { trainSource: "train.tsv", evalSource: "dev.tsv", ...opts });
const configError = (re: RegExp) => (e: unknown) => e instanceof ConfigError && re.test(e.message);

test("300k labels: the label set and a report over as many points do not overflow the stack", () => {
  const n = 300_000;
  const ids = Dataset.fromColumns({ label: Array.from({ length: n }, (_, i) => i % 7) });
  assert.deepEqual(seqClsLabelSet({ rows: ids, source: "big.tsv", labelCol: "label" }), { problemType: "single_label_classification", numLabels: 7 });
  const names = Dataset.fromColumns({ label: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? "neg" : "pos")) });
  assert.deepEqual(seqClsLabelSet({ rows: names, source: "big.tsv", labelCol: "label" }).label2id, { neg: 0, pos: 1 });
  // report.html plots every logged point (its axes took Math.min/max over a spread of them)
  const logHistory = Array.from({ length: 200_000 }, (_, i) => ({ step: i + 1, epoch: i / 1000, loss: 1 / (i + 1) }));
  assert.match(renderReport({ title: "long run", logHistory, args: {}, metrics: {} }), /<svg/);
});

test("the label set is the training split's: a validation label outside it names the file, the row and the label", () => {
  const train = rowsOf(["pos", "neg", "pos"]);
  const p = prepare(train, rowsOf(["neg", "pos"]));
  assert.deepEqual(p.labels.label2id, { neg: 0, pos: 1 });
  assert.deepEqual(p.evalDataset!.toArray().map((r) => r.labels), [0, 1]);
  assert.throws(() => prepare(train, rowsOf(["pos", "neg", "neutral"])), configError(/^dev\.tsv row 2: label "neutral" is not one of the 2 labels \(neg, pos\)/));
  // integer class ids: 0..max of the training rows; an unseen larger id in dev is an error, not a new class
  assert.equal(prepare(rowsOf([0, 1, 1]), rowsOf([1, 0])).labels.numLabels, 2);
  assert.throws(() => prepare(rowsOf([0, 1, 1]), rowsOf([1, 2])), configError(/^dev\.tsv row 1: label 2 is not a class id below num_labels 2/));
  // a stray label in the training rows is a class (HF does the same) but --num_labels bounds it
  assert.throws(() => prepare(rowsOf([0, 1, 5]), undefined, { numLabels: 2 }), configError(/^train\.tsv row 2: label 5 is not a class id below num_labels 2/));
  assert.throws(() => prepare(rowsOf(["a", "b", "c"]), undefined, { numLabels: 2 }), configError(/^train\.tsv: 3 distinct labels but num_labels is 2/));
});

test("the model's named labels fix the label set (their ids, not the sorted names)", () => {
  const modelLabel2id = { positive: 0, negative: 1 };
  const p = prepare(rowsOf(["negative", "positive"]), rowsOf(["positive"]), { modelLabel2id, numLabels: 2 });
  assert.deepEqual(p.trainDataset!.toArray().map((r) => r.labels), [1, 0]);
  assert.deepEqual(p.labels.id2label, { 0: "positive", 1: "negative" });
  assert.throws(() => prepare(rowsOf(["negative", "meh"]), undefined, { modelLabel2id, numLabels: 2 }), configError(/^train\.tsv row 1: label "meh" is not one of the model's labels \(positive, negative/));
});

test("without training rows, evaluation names that miss some of the head's classes are refused (their ids are unknown)", () => {
  // an adapter trained on neg/neu/pos (ids 0, 1, 2) evaluated on rows naming only neg and pos
  assert.throws(() => prepare(undefined, rowsOf(["neg", "pos"]), { numLabels: 3 }),
    configError(/^dev\.tsv: the rows name 2 labels \(neg, pos\) but the model has 3; without the training rows or the model's label names/));
  assert.deepEqual(prepare(undefined, rowsOf(["pos", "neu", "neg"]), { numLabels: 3 }).labels.label2id, { neg: 0, neu: 1, pos: 2 });
  assert.equal(prepare(undefined, rowsOf([1, 0]), { numLabels: 3 }).labels.numLabels, 3);
});

test("float labels on a classification task are an error suggesting regression (STS-B scores)", () => {
  const slice = stsb.select([0, 1, 2, 3]); // scores 5.000 4.750 5.000 2.400
  assert.throws(() => prepare(slice, undefined, { textColumn: "sentence1", labelColumn: "score" }),
    configError(/^train\.tsv row 1: label 4\.75 is a float, not a class; .*problem_type regression/));
  // the evaluation rows are checked as well
  assert.throws(() => prepare(rowsOf([0, 1]), rowsOf([1, 0.5])), configError(/^dev\.tsv row 1: label 0\.5 is not a class.*regression/));
  assert.throws(() => prepare(rowsOf([0, [1]]), undefined), configError(/^train\.tsv row 1: .*is a list; .*multi_label_classification/));
  assert.throws(() => prepare(rowsOf(["a", ""]), undefined), configError(/^train\.tsv row 1: empty label in column 'label'/));
});

test("regression on STS-B: one output, float labels, mse/rmse/pearson/spearmanr, float predictions", () => {
  const train = stsb.select([0, 1, 2, 3, 4, 5]), dev = stsb.select([6, 7, 8]);
  const p = prepare(train, dev, { problemType: "regression", labelColumn: "score" });
  assert.deepEqual(p.labels, { problemType: "regression", numLabels: 1 });
  assert.deepEqual(p.trainDataset!.toArray().map((r) => r.labels), train.column("score"));
  assert.ok(p.trainDataset!.toArray().some((r) => !Number.isInteger(r.labels)), "the scores stay floats");
  // the pair columns are found (sentence1 + sentence2 → type ids 1 on the second sentence)
  assert.ok(p.trainDataset!.get(0).tokenTypeIds!.includes(1));
  // num_labels 1 alone means regression, as HF infers it
  assert.equal(prepare(train, undefined, { numLabels: 1, labelColumn: "score" }).labels.problemType, "regression");
  assert.throws(() => prepare(rowsOf([1.5, "x"]), undefined, { problemType: "regression" }), configError(/^train\.tsv row 1: regression label "x" is not a number/));
  const m = p.computeMetrics!({ predictions: [[1], [2], [3]], labelIds: [1, 2, 5] });
  // mse = (0 + 0 + 4) / 3; pearson of (1,2,3) and (1,2,5) = 4 / sqrt(2 · 26/3); ranks agree: spearman 1
  assert.deepEqual(Object.keys(m).sort(), ["mse", "pearson", "rmse", "spearmanr"]);
  assert.ok(Math.abs(m.mse - 4 / 3) < 1e-12 && Math.abs(m.rmse - Math.sqrt(4 / 3)) < 1e-12);
  assert.ok(Math.abs(m.pearson - 4 / Math.sqrt((2 * 26) / 3)) < 1e-12);
  assert.equal(m.spearmanr, 1);
  assert.deepEqual(regressionMetrics([2], [4]), { mse: 4, rmse: 2 });
  assert.deepEqual(p.decode!([[4.5], [0.25], [1]]).map((r) => r.prediction), [4.5, 0.25, 1]);
});

test("multi-label: lists of names become multi-hot rows over the training names", () => {
  const rows = (labels: string[][]) => Dataset.fromRows(labels.map((label, i) => ({ text: `t${i}`, label })));
  const p = prepare(rows([["tech", "sports"], ["politics"]]), rows([["sports"]]), { problemType: "multi_label_classification" });
  assert.deepEqual(p.labels.label2id, { politics: 0, sports: 1, tech: 2 });
  assert.deepEqual(p.evalDataset!.toArray().map((r) => r.labels), [[0, 1, 0]]);
  assert.throws(() => prepare(rows([["tech"]]), rows([["art"]]), { problemType: "multi_label_classification" }), configError(/^dev\.tsv row 0: label "art" is not one of the 1 labels \(tech\)/));
  assert.deepEqual(p.decode!([[-1, 2, 0.5]]).map((r) => r.prediction), [["sports", "tech"]]);
});

test("missing columns are found before anything is trained: the file, the column and the columns found", () => {
  const noLabel = Dataset.fromRows([{ sentence: "a", target: 1 }]);
  assert.throws(() => prepare(noLabel, undefined), configError(/^train\.tsv: label column 'label' not found \(columns found: sentence, target\); pass --label_column/));
  assert.throws(() => prepare(rowsOf([0, 1]), noLabel), configError(/^dev\.tsv: label column 'label' not found \(columns found: sentence, target\)/));
  assert.throws(() => prepare(rowsOf([0, 1]), undefined, { labelColumn: "y" }), configError(/^train\.tsv: label column 'y' not found \(columns found: sentence, label\)/));
  assert.throws(() => prepare(Dataset.fromRows([{ review: "a", label: 1 }]), undefined), configError(/^train\.tsv: no text column \(sentence, text or sentence1; columns found: review, label\); pass --text_column/));
  assert.throws(() => prepare(rowsOf([0, 1]), undefined, { textColumn: "body" }), configError(/^train\.tsv: text column 'body' not found/));
  // rows to predict need no labels; their label set is the model's / the given one
  const p = prepare(undefined, Dataset.fromRows([{ sentence: "x" }]), { evalUnlabelled: true });
  assert.equal(p.evalDataset!.get(0).labels, undefined);
  assert.deepEqual(seqClsColumns(["sentence1", "sentence2", "score"], {}), { textCol: "sentence1", pairCol: "sentence2", labelCol: "score" });
});
