// `peft-ts train` with labels that HF's scripts refuse or treat specially (issue #16): STS-B
// regression end to end (train → predict → eval), float labels, unseen validation labels and
// missing columns refused before any model is built, and no empty output folder left by a failed run.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { DataCollatorWithPadding, headOptions, preprocessSeqCls, registerTask } from "../../src/data/index.js";
import { BERT_TINY, ROOT, cliInProcess, loggedLosses, writeSst2Split } from "./helpers.js";

const BERT_MINI = existsSync(join(ROOT, "models", "bert-mini-en")) ? join(ROOT, "models", "bert-mini-en") : "/work/shared/fixtures/models/bert-mini-en";
const STSB = "/work/shared/fixtures/stsb/dev.tsv";
const json = (p: string) => JSON.parse(readFileSync(p, "utf8"));

// a task whose collator fails on the first batch: the run fails inside train()
registerTask({
  name: "toy-broken-collator",
  description: "toy: fails on the first training batch",
  taskType: "SEQ_CLS",
  hasLabelSet: true,
  architecture: /^ToyBrokenCollator$/,
  loadModel: (dir, labels) => AutoModelForSequenceClassification.fromPretrained(dir, headOptions(labels)),
  prepare: (rows, tokenizer, opts) => ({
    labels: { numLabels: 2 },
    trainDataset: rows.train ? preprocessSeqCls(rows.train, tokenizer, { maxLength: opts.maxLength }) : undefined,
    collator: { call: () => { throw new Error("toy collator: broken on purpose"); } },
  }),
});

let tmp: string;
let stsbTrain: string, stsbDev: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "peft-ts-cli-labels-"));
  const lines = readFileSync(STSB, "utf8").split("\n").filter(Boolean);
  stsbTrain = join(tmp, "stsb_train.tsv");
  stsbDev = join(tmp, "stsb_dev.tsv");
  writeFileSync(stsbTrain, [lines[0], ...lines.slice(1, 17)].join("\n") + "\n");
  writeFileSync(stsbDev, [lines[0], ...lines.slice(17, 25)].join("\n") + "\n");
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const trainArgs = (train: string, out: string, extra: string[]) => [
  "train", "-m", BERT_MINI, "--task", "seq-cls", "--train_file", train, "--max_length", "32",
  "--peft", "lora", "--lora_r", "4", "--target_modules", "query,value", "--per_device_train_batch_size", "16",
  "--learning_rate", "0.05", "--logging_steps", "1", "--save_strategy", "no", "--seed", "0", "--disable_tqdm", "--output_dir", out, ...extra,
];

/** The one error line of a failed run, which must not have created its output folder. */
async function refused(args: string[], out: string): Promise<string> {
  const r = await cliInProcess(args);
  assert.notEqual(r.code, 0, "the run must fail");
  assert.equal(existsSync(out), false, `a failed run left ${out} behind`);
  // one error line (node's own warnings, e.g. about listeners of the in-process runs, may precede it)
  const lines = r.stderr.trim().split("\n").filter((l) => l.startsWith("peft-ts"));
  assert.equal(lines.length, 1, r.stderr);
  return lines[0];
}

describe("regression (STS-B)", () => {
  const out = () => join(tmp, "stsb");
  test("train --problem_type regression: one output, MSE going down, HF's regression metrics", async () => {
    // a previous run's log in the folder is replaced, not appended to
    mkdirSync(out(), { recursive: true });
    writeFileSync(join(out(), "log_history.jsonl"), JSON.stringify({ loss: 999, step: 1 }) + "\n");
    const r = await cliInProcess(trainArgs(stsbTrain, out(), ["--problem_type", "regression", "--validation_file", stsbDev, "--max_steps", "6"]));
    assert.equal(r.code, 0, r.stderr);
    const losses = loggedLosses(out());
    assert.equal(losses.length, 6);
    assert.ok(losses[5] < losses[0] / 2, `MSE should fall: ${losses.join(", ")}`);
    const m = json(join(out(), "metrics.json"));
    // the eval loss is the head's MSE over the 8 rows in one batch: the mse of the predictions
    assert.ok(Math.abs(m.eval_loss - m.eval_mse) < 1e-5, JSON.stringify(m));
    assert.ok(Math.abs(m.eval_rmse - Math.sqrt(m.eval_mse)) < 1e-12);
    assert.ok(Math.abs(m.eval_pearson) <= 1 && Math.abs(m.eval_spearmanr) <= 1, JSON.stringify(m));
    assert.equal(m.eval_accuracy, undefined);
  });

  test("predict writes float scores; eval of the adapter (one-output head → regression) reproduces the metrics", async () => {
    const pred = join(tmp, "stsb_pred");
    const p = await cliInProcess(["predict", "-m", BERT_MINI, "--adapter", out(), "--validation_file", stsbDev, "--max_length", "32", "--output_dir", pred]);
    assert.equal(p.code, 0, p.stderr);
    const rows = readFileSync(join(pred, "predictions.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(rows.length, 8);
    assert.ok(rows.every((row) => typeof row.prediction === "number" && !Number.isInteger(row.prediction)), JSON.stringify(rows[0]));
    const ev = join(tmp, "stsb_eval");
    const e = await cliInProcess(["eval", "-m", BERT_MINI, "--adapter", out(), "--validation_file", stsbDev, "--max_length", "32", "--output_dir", ev]);
    assert.equal(e.code, 0, e.stderr);
    const a = json(join(out(), "metrics.json")), b = json(join(ev, "metrics.json"));
    for (const k of ["eval_loss", "eval_mse", "eval_pearson", "eval_spearmanr"]) assert.ok(Math.abs(a[k] - b[k]) < 1e-5, `${k}: ${a[k]} vs ${b[k]}`);
  });
});

test("regression from a checkpoint with a 2-class head: refused, naming the mismatch and the option; trained with --ignore_mismatched_sizes", async () => {
  const tinyArgs = (out: string, extra: string[]) => trainArgs(stsbTrain, out, ["--problem_type", "regression", "--max_steps", "3", ...extra]).map((a) => (a === BERT_MINI ? BERT_TINY : a));
  const refusedOut = join(tmp, "mismatch-refused");
  const line = await refused(tinyArgs(refusedOut, []), refusedOut);
  assert.match(line, /classifier\.weight: checkpoint \[2,32\] vs model \[1,32\].*ignore_mismatched_sizes/);
  const out = join(tmp, "mismatch-reinit");
  const r = await cliInProcess(tinyArgs(out, ["--ignore_mismatched_sizes"]));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(loggedLosses(out).length, 3);
  assert.equal(json(join(out, "adapter_config.json")).task_type, "SEQ_CLS");
});

describe("labels and columns refused before a model is built", () => {
  test("float labels without --problem_type regression name the file, the row and the label", async () => {
    const out = join(tmp, "float");
    const line = await refused(trainArgs(stsbTrain, out, ["--max_steps", "1"]), out);
    assert.equal(line, `peft-ts: error: ${stsbTrain} row 1: label 4.75 is a float, not a class; for a numeric target use problem_type regression (--problem_type regression)`);
  });

  test("a validation label the training split lacks is an error, not a new class", async () => {
    const { trainTsv, devTsv } = writeSst2Split(mkdtempSync(join(tmp, "sst2-")), 8, 4);
    const dev = readFileSync(devTsv, "utf8").trim().split("\n");
    dev[3] = dev[3].replace(/\t[01]$/, "\t2"); // data row 2
    writeFileSync(devTsv, dev.join("\n") + "\n");
    const out = join(tmp, "unseen");
    const line = await refused(["train", "-m", BERT_TINY, "--task", "seq-cls", "--train_file", trainTsv, "--validation_file", devTsv, "--max_steps", "1", "--disable_tqdm", "--output_dir", out], out);
    assert.equal(line, `peft-ts: error: ${devTsv} row 2: label 2 is not a class id below num_labels 2`);
  });

  test("a missing label column names the file, the column and the columns found", async () => {
    const out = join(tmp, "nolabel");
    const line = await refused(trainArgs(stsbTrain, out, ["--label_column", "gold", "--problem_type", "regression", "--max_steps", "1"]), out);
    assert.equal(line, `peft-ts: error: ${stsbTrain}: label column 'gold' not found (columns found: index, genre, filename, year, old_index, source1, source2, sentence1, sentence2, score); pass --label_column`);
  });

  test("eval and predict check the rows before loading the model (and the adapter)", async () => {
    const out = join(tmp, "eval-nolabel");
    const missing = join(tmp, "no-such-adapter");
    const line = await refused(["eval", "-m", BERT_MINI, "--task", "seq-cls", "--adapter", missing, "--validation_file", stsbDev, "--label_column", "gold", "--output_dir", out], out);
    assert.match(line, new RegExp(`^peft-ts: error: ${stsbDev}: label column 'gold' not found \\(columns found: index, genre`));
    const p = await refused(["predict", "-m", BERT_MINI, "--task", "seq-cls", "--adapter", missing, "--validation_file", stsbDev, "--text_column", "body", "--output_dir", out], out);
    assert.match(p, new RegExp(`^peft-ts: error: ${stsbDev}: text column 'body' not found`));
  });

  test("--problem_type outside seq-cls, target alignment or distillation on a regression target, are usage errors", async () => {
    const out = join(tmp, "usage");
    assert.equal(await refused(trainArgs(stsbTrain, out, ["--problem_type", "regression", "--loss", "mixed", "--max_steps", "1"]), out),
      "peft-ts: error: --loss target_alignment needs single-label classes; problem_type regression trains with the model's own loss (--loss ce)");
    const tokenCls = trainArgs(stsbTrain, out, ["--problem_type", "regression", "--max_steps", "1"]).map((a) => (a === "seq-cls" ? "token-cls" : a));
    assert.equal(await refused(tokenCls, out), "peft-ts: error: --problem_type is for sequence classification (seq-cls), not token-cls");
    const distill = ["distill", "--teacher_model_name_or_path", BERT_MINI, "-m", BERT_MINI, "--task", "seq-cls", "--problem_type", "regression", "--train_file", stsbTrain, "--output_dir", out];
    assert.equal(await refused(distill, out), "peft-ts: error: distill matches the teacher's class distribution; problem_type regression has none (train the student with 'peft-ts train')");
  });

  test("a run failing inside train() leaves no empty log_history.jsonl or output folder", async () => {
    const out = join(tmp, "broken");
    const { trainTsv } = writeSst2Split(mkdtempSync(join(tmp, "sst2b-")), 8, 1);
    const r = await cliInProcess(["train", "-m", BERT_TINY, "--task", "toy-broken-collator", "--train_file", trainTsv, "--max_steps", "1", "--save_strategy", "no", "--disable_tqdm", "--output_dir", out]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /toy collator: broken on purpose/);
    assert.equal(existsSync(out), false, "nothing was logged: no output folder");
  });
});
