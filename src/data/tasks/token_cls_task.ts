// The "token-cls" task: named-entity recognition and other per-word tagging as run_ner does it —
// BIO tags from a column of tag lists, labels on each word's first token, seqeval scores.

import { AutoModelForTokenClassification } from "../../models/auto.js";
import type { Dataset, Row } from "../datasets.js";
import { DataCollatorForTokenClassification, Features } from "../collate.js";
import { argmax, seqevalScores } from "../metrics.js";
import { bioLabelList, preprocessTokenCls, tokenPredictionsToTags } from "./token_cls.js";
import { invertLabelMap } from "./seq_cls.js";
import { nested, nested3 } from "./predictions.js";
import { registerTask } from "./registry.js";
import { headOptions, type PreparedTask, type TaskOptions } from "./task.js";
import type { TaskTokenizer } from "./types.js";

function prepare(rows: { train?: Dataset<Row>; eval?: Dataset<Row> }, tokenizer: TaskTokenizer, opts: TaskOptions): PreparedTask {
  const tagCol = opts.labelColumn ?? "tags";
  const tagRows = [...(rows.train ?? []), ...(rows.eval ?? [])].map((r) => r[tagCol]).filter(Array.isArray) as string[][];
  const labelList = bioLabelList(tagRows);
  const label2id = Object.fromEntries(labelList.map((l, i) => [l, i]));
  const pre = (ds: Dataset<Row>) => preprocessTokenCls(ds, tokenizer, { labelList, maxLength: opts.maxLength, tagsColumn: opts.labelColumn, tokensColumn: opts.textColumn }).dataset
    .map((f) => {
      const { wordIds: _w, ...rest } = f;
      return rest as Features;
    });
  return {
    labels: { numLabels: labelList.length, label2id, id2label: invertLabelMap(label2id) },
    trainDataset: rows.train ? pre(rows.train) : undefined,
    evalDataset: rows.eval ? pre(rows.eval) : undefined,
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
