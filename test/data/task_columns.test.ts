// Missing columns of the QA and causal-LM recipes are found when the rows are prepared, before
// any model is built or trained: the error names the file, the column and the columns found.

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { Dataset } from "../../src/data/datasets.js";
import { qaTask } from "../../src/data/tasks/qa_task.js";
import { causalLMTask } from "../../src/data/tasks/causal_lm_task.js";
import { ConfigError } from "../../src/tensor/errors.js";

const FIX = new URL("../../../shared/fixtures/", import.meta.url).pathname;
const tok = await AutoTokenizer.fromPretrained(join(FIX, "models/bert-mini-en"));
const configError = (re: RegExp) => (e: unknown) => e instanceof ConfigError && re.test(e.message);
const sources = { trainSource: "train.jsonl", evalSource: "dev.jsonl" };

test("qa: question, context and answers columns are checked up front (answers not for rows to predict)", () => {
  const row = { id: "a", question: "who?", context: "Ann did.", answers: { text: ["Ann"], answer_start: [0] } };
  const { answers: _a, ...unanswered } = row;
  assert.throws(() => qaTask.prepare({ train: Dataset.fromRows([unanswered]) }, tok, sources),
    configError(/^train\.jsonl: column 'answers' not found \(columns found: id, question, context\)$/));
  assert.throws(() => qaTask.prepare({ train: Dataset.fromRows([row]), eval: Dataset.fromRows([{ id: "b", query: "x", context: "y" }]) }, tok, sources),
    configError(/^dev\.jsonl: column 'question' not found \(columns found: id, query, context\)$/));
  assert.throws(() => qaTask.prepare({ eval: Dataset.fromRows([unanswered]) }, tok, sources), configError(/^dev\.jsonl: column 'answers' not found/));
  assert.equal(qaTask.prepare({ train: Dataset.fromRows([row]) }, tok, sources).trainDataset!.length, 1);
});

test("causal-lm: rows without instruction/messages/text name the file and the columns found", () => {
  assert.throws(() => causalLMTask.prepare({ train: Dataset.fromRows([{ body: "once upon a time" }]) }, tok, sources),
    configError(/^train\.jsonl: causal-lm data needs 'instruction'\/'output', 'messages' or a 'text' column \(columns found: body\); set --text_column$/));
});
