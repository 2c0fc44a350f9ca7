// A task added through the registry alone (no CLI edit) is a --task choice and trains through
// `peft-ts train`: the toy task below labels each sentence by the parity of its word count and
// reports its own metric, so metrics.json shows that its recipe (labels, metrics) was used.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { registerTask, getTask, taskNames, headOptions, preprocessSeqCls, DataCollatorWithPadding, Dataset, argmax, nested } from "../../src/data/index.js";
import type { Row } from "../../src/data/index.js";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { BERT_TINY, cliInProcess, writeSst2Split } from "./helpers.js";


const parity = (s: unknown) => String(s).trim().split(/\s+/).length % 2;

registerTask({
  name: "toy-parity",
  description: "toy: is the sentence's word count odd?",
  taskType: "SEQ_CLS",
  hasLabelSet: true,
  architecture: /^ToyParity$/,
  loadModel: (dir, labels) => AutoModelForSequenceClassification.fromPretrained(dir, headOptions(labels)),
  prepare: (rows, tokenizer, opts) => {
    const withParity = (ds: Dataset<Row>) => ds.map((r) => ({ sentence: r.sentence, label: parity(r.sentence) }));
    const pre = (ds: Dataset<Row>) => preprocessSeqCls(withParity(ds), tokenizer, { maxLength: opts.maxLength });
    return {
      labels: { numLabels: 2, id2label: { 0: "even", 1: "odd" }, label2id: { even: 0, odd: 1 } },
      trainDataset: rows.train ? pre(rows.train) : undefined,
      evalDataset: rows.eval ? pre(rows.eval) : undefined,
      collator: new DataCollatorWithPadding(tokenizer),
      computeMetrics: ({ predictions, labelIds }) => {
        const pred = argmax(nested(predictions));
        const gold = (labelIds as number[]).map(Number);
        return { parity_accuracy: pred.filter((p, i) => p === gold[i]).length / gold.length, rows_seen: gold.length };
      },
    };
  },
  alignment: "rows",
});

let tmp: string;
let trainTsv: string;
let devTsv: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "peft-ts-task-registry-"));
  ({ trainTsv, devTsv } = writeSst2Split(tmp, 16, 11));
});
after(() => rmSync(tmp, { recursive: true, force: true }));


describe("a task registered outside the CLI", () => {
  test("is listed by the registry and found by name", () => {
    assert.ok(taskNames().includes("toy-parity"));
    assert.deepEqual(taskNames().slice(0, 4), ["seq-cls", "token-cls", "qa", "causal-lm"]);
    assert.equal(getTask("toy-parity").taskType, "SEQ_CLS");
    assert.throws(() => getTask("toy-parityy"), /unknown task 'toy-parityy'.*toy-parity/);
    assert.throws(() => registerTask(getTask("toy-parity")), /already registered/);
  });

  test("an unregistered --task is one line naming the registered ones", async () => {
    const r = await cliInProcess(["train", "--task", "toy-parityy", "--print_config"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^peft-ts: error: .*task.*toy-parity/m);
  });

  test("peft-ts train --task toy-parity trains with the task's labels and metrics", async () => {
    const out = join(tmp, "toy");
    const r = await cliInProcess([
      "train", "-m", BERT_TINY, "--task", "toy-parity", "--train_file", trainTsv, "--validation_file", devTsv,
      "--max_length", "32", "--peft", "lora", "--lora_r", "4", "--target_modules", "query,value",
      "--max_steps", "2", "--per_device_train_batch_size", "4", "--save_strategy", "no", "--disable_tqdm", "--report_to", "none",
      "--output_dir", out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const ac = JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8"));
    assert.equal(ac.peft_type, "LORA");
    assert.equal(ac.task_type, "SEQ_CLS");
    const m = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
    // the toy recipe's metric, over the 11 dev rows
    assert.equal(m.eval_rows_seen, 11);
    assert.ok(m.eval_parity_accuracy >= 0 && m.eval_parity_accuracy <= 1, JSON.stringify(m));
    assert.equal(m.eval_accuracy, undefined, "seq-cls's own metric must not appear");
    assert.ok(Number.isFinite(m.eval_loss));
  });
});
