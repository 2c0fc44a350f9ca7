// The "seq-cls" task: sentence (pair) classification as run_glue does it — labels read from a
// column (integers as they are, other values mapped through a sorted label2id), accuracy (and
// F1 for two classes), predictions decoded to label names.

import { AutoModelForSequenceClassification } from "../../models/auto.js";
import type { Dataset, Row } from "../datasets.js";
import { DataCollatorWithPadding } from "../collate.js";
import { accuracy, argmax, f1Score } from "../metrics.js";
import { buildLabel2Id, invertLabelMap, preprocessSeqCls } from "./seq_cls.js";
import { nested } from "./predictions.js";
import { registerTask } from "./registry.js";
import { headOptions, type LabelInfo, type PreparedTask, type TaskOptions } from "./task.js";
import type { TaskTokenizer } from "./types.js";

/** Label set of the rows: integer labels give 0..max, other values a sorted label2id. */
function labelSet(rows: Dataset<Row>[], labelCol: string, numLabels: number | undefined): LabelInfo {
  const all = rows.flatMap((ds) => (ds.columns.includes(labelCol) ? ds.column(labelCol) : []));
  const intLabels = all.every((v) => typeof v === "number" && Number.isInteger(v) && v >= 0);
  const label2id = all.length > 0 && !intLabels ? buildLabel2Id(all) : undefined;
  const n = numLabels ?? (label2id ? Object.keys(label2id).length : all.length > 0 ? Math.max(1, ...(all as number[])) + 1 : 2);
  return { numLabels: n, ...(label2id ? { label2id, id2label: invertLabelMap(label2id) } : {}) };
}

function prepare(rows: { train?: Dataset<Row>; eval?: Dataset<Row> }, tokenizer: TaskTokenizer, opts: TaskOptions): PreparedTask {
  const labelCol = opts.labelColumn ?? "label";
  // the training rows always carry labels; evaluation rows may not (predict)
  const labels = labelSet([...(rows.train ? [rows.train] : []), ...(rows.eval ? [rows.eval] : [])], labelCol, opts.numLabels);
  const { label2id, id2label, numLabels } = labels;
  const pre = (ds: Dataset<Row>) => preprocessSeqCls(ds, tokenizer, {
    textColumn: opts.textColumn, textPairColumn: opts.textPairColumn, labelColumn: opts.labelColumn, maxLength: opts.maxLength,
    ...(label2id ? { label2id } : {}),
  });
  return {
    labels,
    trainDataset: rows.train ? pre(rows.train) : undefined,
    evalDataset: rows.eval ? pre(rows.eval) : undefined,
    collator: new DataCollatorWithPadding(tokenizer),
    computeMetrics: ({ predictions, labelIds }) => {
      const pred = argmax(nested(predictions));
      const gold = ((Array.isArray(labelIds) ? labelIds : nested(labelIds)) as number[]).map(Number);
      const out: Record<string, number> = { accuracy: accuracy(gold, pred) };
      if (numLabels === 2) out.f1 = f1Score(gold, pred);
      return out;
    },
    // each input row with its predicted label
    decode: (predictions) => {
      const src = rows.eval ? rows.eval.toArray() : [];
      return argmax(nested(predictions)).map((k, i) => ({ ...src[i], prediction: id2label ? id2label[k] : k }));
    },
  };
}

export const seqClsTask = registerTask({
  name: "seq-cls",
  description: "sequence classification (sentiment, topics, sentence pairs): accuracy, F1 for two classes",
  taskType: "SEQ_CLS",
  hasLabelSet: true,
  architecture: /SequenceClassification/,
  loadModel: (dir, labels, opts) => AutoModelForSequenceClassification.fromPretrained(dir, headOptions(labels, opts)),
  prepare,
  alignment: "rows",
});
