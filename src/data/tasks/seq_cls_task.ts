// The "seq-cls" task: sentence (pair) classification and regression as run_glue does it — the
// label set comes from the training split (seq_cls_labels.ts), labels read from a column
// (integers as they are, other values mapped through a sorted label2id, numbers for regression),
// accuracy (and F1 for two classes) or mse/rmse/pearson/spearmanr, predictions decoded to label
// names (or values).

import { AutoModelForSequenceClassification } from "../../models/auto.js";
import type { Dataset, Row } from "../datasets.js";
import { DataCollatorWithPadding } from "../collate.js";
import { accuracy, argmax, f1Score, pearson, spearman } from "../metrics.js";
import { preprocessSeqCls, seqClsColumns } from "./seq_cls.js";
import { seqClsLabelSet, type SeqClsLabelSet } from "./seq_cls_labels.js";
import { nested } from "./predictions.js";
import { registerTask } from "./registry.js";
import { headOptions, type PreparedTask, type TaskMetrics, type TaskOptions } from "./task.js";
import type { TaskTokenizer } from "./types.js";

/** HF's regression metrics over one output per row: mse, rmse and (two rows or more) pearson, spearmanr. */
export function regressionMetrics(pred: number[], gold: number[]): Record<string, number> {
  let se = 0;
  for (let i = 0; i < pred.length; i++) se += (pred[i] - gold[i]) ** 2;
  const mse = pred.length > 0 ? se / pred.length : 0;
  const out: Record<string, number> = { mse, rmse: Math.sqrt(mse) };
  if (pred.length >= 2) {
    out.pearson = pearson(pred, gold);
    out.spearmanr = spearman(pred, gold);
  }
  return out;
}

const sigmoidOver = (x: number) => x > 0; // sigmoid(x) > 0.5

function metricsOf(labels: SeqClsLabelSet): TaskMetrics {
  return ({ predictions, labelIds }) => {
    const rows = nested(predictions);
    const gold = (Array.isArray(labelIds) ? labelIds : nested(labelIds)) as unknown[];
    if (labels.problemType === "regression") return regressionMetrics(rows.map((r) => r[0]), gold.map(Number));
    if (labels.problemType === "multi_label_classification") {
      // exact-match (subset) accuracy over the thresholded outputs
      const hit = rows.map((r, i) => r.every((x, k) => Number(sigmoidOver(x)) === Number((gold[i] as number[])[k])));
      return { accuracy: hit.filter(Boolean).length / Math.max(1, hit.length) };
    }
    const pred = argmax(rows);
    const ids = gold.map(Number);
    const out: Record<string, number> = { accuracy: accuracy(ids, pred) };
    if (labels.numLabels === 2) out.f1 = f1Score(ids, pred);
    return out;
  };
}

/** Each input row with its prediction: the label name (class), the value (regression) or the names over the threshold (multi-label). */
function decoderOf(labels: SeqClsLabelSet, evalRows: Dataset<Row> | undefined): (predictions: unknown) => Row[] {
  const name = (k: number) => (labels.id2label ? labels.id2label[k] : k);
  return (predictions) => {
    const src = evalRows ? evalRows.toArray() : [];
    const rows = nested(predictions);
    const pred = labels.problemType === "regression" ? rows.map((r) => r[0])
      : labels.problemType === "multi_label_classification" ? rows.map((r) => r.flatMap((x, k) => (sigmoidOver(x) ? [name(k)] : [])))
        : argmax(rows).map(name);
    return pred.map((p, i) => ({ ...src[i], prediction: p }));
  };
}

function prepare(rows: { train?: Dataset<Row>; eval?: Dataset<Row> }, tokenizer: TaskTokenizer, opts: TaskOptions): PreparedTask {
  const trainSource = opts.trainSource ?? "training rows", evalSource = opts.evalSource ?? "evaluation rows";
  const columnOpts = { textColumn: opts.textColumn, textPairColumn: opts.textPairColumn, labelColumn: opts.labelColumn };
  // columns first (before any label is read or model built): training rows need labels, scored evaluation rows too
  const trainCols = rows.train ? seqClsColumns(rows.train.columns, { ...columnOpts, requireLabels: true }, trainSource) : undefined;
  const evalCols = rows.eval ? seqClsColumns(rows.eval.columns, { ...columnOpts, requireLabels: !opts.evalUnlabelled }, evalSource) : undefined;
  // the label set: from the training rows; without them (eval/predict) from the evaluation rows
  const basis = rows.train ? { rows: rows.train, source: trainSource, labelCol: trainCols!.labelCol! }
    : rows.eval && evalCols!.labelCol ? { rows: rows.eval, source: evalSource, labelCol: evalCols!.labelCol, evaluation: true } : undefined;
  const labels = seqClsLabelSet(basis, {
    ...(opts.numLabels !== undefined ? { numLabels: opts.numLabels } : {}),
    ...(opts.modelLabel2id ? { label2id: opts.modelLabel2id } : {}),
    ...(opts.problemType ? { problemType: opts.problemType } : {}),
  });
  // every label column is encoded with the run's set (preprocessSeqCls resolves the columns as above)
  const pre = (ds: Dataset<Row>, source: string) => preprocessSeqCls(ds, tokenizer, {
    ...columnOpts, maxLength: opts.maxLength, source, problemType: labels.problemType, numLabels: labels.numLabels,
    ...(labels.label2id ? { label2id: labels.label2id } : {}),
  });
  return {
    labels,
    trainDataset: rows.train ? pre(rows.train, trainSource) : undefined,
    evalDataset: rows.eval ? pre(rows.eval, evalSource) : undefined,
    collator: new DataCollatorWithPadding(tokenizer),
    computeMetrics: metricsOf(labels),
    decode: decoderOf(labels, rows.eval),
  };
}

export const seqClsTask = registerTask({
  name: "seq-cls",
  description: "sequence classification (sentiment, topics, sentence pairs) or regression: accuracy (F1 for two classes) or mse/rmse/pearson/spearmanr",
  taskType: "SEQ_CLS",
  hasLabelSet: true,
  architecture: /SequenceClassification/,
  loadModel: (dir, labels, opts) => AutoModelForSequenceClassification.fromPretrained(dir, headOptions(labels, opts)),
  prepare,
  alignment: "rows",
});
