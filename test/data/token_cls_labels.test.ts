// Token classification labels (issue #16): the tag set is the training rows'; an evaluation tag
// outside it and a missing words/tags column are ConfigErrors naming the file, the row or the column.

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { Dataset } from "../../src/data/datasets.js";
import { tokenClsTask } from "../../src/data/tasks/token_cls_task.js";
import { ConfigError } from "../../src/tensor/errors.js";
import type { TaskOptions } from "../../src/data/tasks/task.js";

const FIX = new URL("../../../shared/fixtures/", import.meta.url).pathname;
const tok = await AutoTokenizer.fromPretrained(join(FIX, "models/bert-mini-en"));
const rows = (tags: string[][]) => Dataset.fromRows(tags.map((t) => ({ tokens: t.map((_, k) => `w${k}`), tags: t })));
const prepare = (train: Dataset | undefined, evalRows: Dataset | undefined, opts: TaskOptions = {}) =>
  tokenClsTask.prepare({ train, eval: evalRows }, tok, { trainSource: "train.conll", evalSource: "dev.conll", ...opts });
const configError = (re: RegExp) => (e: unknown) => e instanceof ConfigError && re.test(e.message);

test("token-cls: the tag set is the training rows'; an unseen evaluation tag names the file, the row and the tag", () => {
  const train = rows([["B-PER", "I-PER", "O"], ["O"]]);
  const p = prepare(train, rows([["O", "B-PER"]]));
  assert.deepEqual(p.labels.label2id, { O: 0, "B-PER": 1, "I-PER": 2 });
  assert.equal(p.labels.numLabels, 3);
  assert.throws(() => prepare(train, rows([["O"], ["B-LOC", "O"]])), configError(/^dev\.conll row 1: tag 'B-LOC' is not one of the 3 tags \(O, B-PER, I-PER\)/));
  // without training rows (eval/predict) the evaluation rows give the set
  assert.equal(prepare(undefined, rows([["B-LOC", "O"]])).labels.numLabels, 2);
});

test("token-cls: a missing words or tags column is found before training, with the columns found", () => {
  const noTags = Dataset.fromRows([{ tokens: ["a"], labels_x: ["O"] }]);
  assert.throws(() => prepare(noTags, undefined), configError(/^train\.conll: tags column 'ner_tags' not found \(columns found: tokens, labels_x\); pass --label_column/));
  assert.throws(() => prepare(rows([["O"]]), noTags), configError(/^dev\.conll: tags column 'ner_tags' not found/));
  assert.throws(() => prepare(rows([["O"]]), undefined, { textColumn: "words" }), configError(/^train\.conll: words column 'words' not found \(columns found: tokens, tags\)/));
  assert.equal(prepare(rows([["O"]]), Dataset.fromRows([{ tokens: ["a"] }]), { evalUnlabelled: true }).evalDataset!.get(0).labels, undefined);
});
