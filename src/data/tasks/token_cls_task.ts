// The "token-cls" task: named-entity recognition and other per-word tagging as run_ner does it —
// BIO tags from a column of tag lists (the tag set is the training rows'), labels on each word's
// first token, seqeval scores.

import { AutoModelForTokenClassification } from "../../models/auto.js";
import type { Dataset, Row } from "../datasets.js";
import { DataCollatorForTokenClassification, Features } from "../collate.js";
import { argmax, seqevalScores } from "../metrics.js";
import { bioLabelList, preprocessTokenCls, tokenClsColumns, tokenPredictionsToTags } from "./token_cls.js";
import { invertLabelMap } from "./seq_cls.js";
import { nested, nested3 } from "./predictions.js";
import { registerTask } from "./registry.js";
import { headOptions, type PreparedTask, type TaskOptions } from "./task.js";
import type { TaskTokenizer } from "./types.js";

function prepare(rows: { train?: Dataset<Row>; eval?: Dataset<Row> }, tokenizer: TaskTokenizer, opts: TaskOptions): PreparedTask {
  const trainSource = opts.trainSource ?? "training rows", evalSource = opts.evalSource ?? "evaluation rows";
  const columnOpts = { tagsColumn: opts.labelColumn, tokensColumn: opts.textColumn };
  // columns first; the tag list is the training rows' (the evaluation rows' only without them), so an
  // evaluation tag outside it is an error of preprocessTokenCls, not a new class
  const trainCols = rows.train ? tokenClsColumns(rows.train.columns, { ...columnOpts, requireTags: true }, trainSource) : undefined;
  const evalCols = rows.eval ? tokenClsColumns(rows.eval.columns, { ...columnOpts, requireTags: !opts.evalUnlabelled }, evalSource) : undefined;
  const basis = rows.train ? { ds: rows.train, col: trainCols!.tagCol } : rows.eval ? { ds: rows.eval, col: evalCols!.tagCol } : undefined;
  const labelList = bioLabelList(basis ? (basis.ds.column(basis.col).filter(Array.isArray) as string[][]) : []);
  const label2id = Object.fromEntries(labelList.map((l, i) => [l, i]));
  const pre = (ds: Dataset<Row>, source: string) => preprocessTokenCls(ds, tokenizer, { ...columnOpts, labelList, maxLength: opts.maxLength, source }).dataset
    .map((f) => {
      const { wordIds: _w, ...rest } = f;
      return rest as Features;
    });
  return {
    labels: { numLabels: labelList.length, label2id, id2label: invertLabelMap(label2id) },
    trainDataset: rows.train ? pre(rows.train, trainSource) : undefined,
    evalDataset: rows.eval ? pre(rows.eval, evalSource) : undefined,
    collator: new DataCollatorForTokenClassification(tokenizer),
    computeMetrics: ({ predictions, labelIds }) => {
      const pred = nested3(predictions).map((seq) => argmax(seq));
      const { yTrue, yPred } = tokenPredictionsToTags(pred, nested(labelIds), labelList);
      const s = seqevalScores(yTrue, yPred);
      return { precision: s.precision, recall: s.recall, f1: s.f1, accuracy: s.accuracy };
    },
  };
}

export const tokenClsTask = registerTask({
  name: "token-cls",
  description: "token classification (named entities, BIO tags): seqeval precision/recall/F1",
  taskType: "TOKEN_CLS",
  hasLabelSet: true,
  architecture: /TokenClassification/,
  loadModel: (dir, labels, opts) => AutoModelForTokenClassification.fromPretrained(dir, headOptions(labels, opts)),
  prepare,
  alignment: "tokens",
});
