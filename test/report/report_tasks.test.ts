// Task results from real short CLI runs: NER per-entity scores (the report's micro F1 from
// eval_predictions.json equals the task's seqeval eval_f1), QA answer lengths (one per eval
// question), and worst-error rows with text only when the run used --log_examples.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, writeSst2Split } from "../cli/helpers.js";
import { tmp } from "../peft/helpers.js";
import { formatPercent } from "../../src/report/format.js";

const MAIN = join(ROOT, "src", "cli", "main.ts");
const BERT_TINY = join(ROOT, "..", "shared", "golden", "bert-tiny-random");
const BERT_MINI = join(ROOT, "models", "bert-mini-en");

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, `peft-ts ${args[0]} failed (exit ${r.status}):\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const json = (p: string) => JSON.parse(readFileSync(p, "utf8"));
const html = (dir: string) => readFileSync(join(dir, "report.html"), "utf8");

let work: string;
before(() => {
  work = tmp("report-tasks-");
});

test("NER: per-entity P/R/F1 from eval_predictions.json; the micro row equals the task's seqeval eval_f1", () => {
  const out = join(work, "ner");
  cli(["train", "-m", BERT_MINI, "--task", "token-cls", "--train_file", join(ROOT, "data/ner/wnut17_train.conll"), "--validation_file", join(ROOT, "data/ner/wnut17_dev.conll"),
    "--max_train_samples", "400", "--max_eval_samples", "48", "--max_length", "64", "--peft", "none", "--max_steps", "4", "--learning_rate", "1e-3",
    "--per_device_train_batch_size", "16", "--logging_steps", "2", "--save_strategy", "no", "--seed", "0", "--disable_tqdm", "--output_dir", out]);
  const p = json(join(out, "eval_predictions.json"));
  assert.equal(p.kind, "token_classification");
  assert.equal(p.labels.length, 48);
  assert.equal(p.label_names[0], "O");
  const m = json(join(out, "metrics.json"));
  const page = html(out);
  const micro = /<tr><td><b>all \(micro\)<\/b><\/td><td>([^<]+)<\/td><td>([^<]+)<\/td><td>([^<]+)<\/td>/.exec(page);
  assert.ok(micro, "the per-entity table has its micro row");
  assert.deepEqual(micro!.slice(1, 4), [m.eval_precision, m.eval_recall, m.eval_f1].map((v: number) => formatPercent(v, 3)));
  assert.match(page, /<td>person<\/td>/, "entity types by name");
  // support: the gold entities of the 48 eval sentences, counted from the CoNLL file's B- tags
  const sentences = readFileSync(join(ROOT, "data/ner/wnut17_dev.conll"), "utf8").split(/\n\s*\n/).filter((b) => b.trim()).slice(0, 48);
  const gold = sentences.reduce((n, b) => n + b.split("\n").filter((l) => /\sB-\S+\s*$/.test(l)).length, 0);
  const support = /<tr><td><b>all \(micro\)<\/b><\/td>(?:<td>[^<]+<\/td>){3}<td>([^<]+)<\/td>/.exec(page)![1];
  assert.equal(Number(support), gold);
  assert.match(page, /final eval_f1/, "NER is judged by entity F1");
});

test("QA: EM/F1 and the answer-length histogram over every eval question", () => {
  const out = join(work, "qa");
  cli(["train", "-m", BERT_MINI, "--task", "qa", "--train_file", join(ROOT, "data/qa/xquad.en.json"), "--validation_split_percentage", "10",
    "--max_train_samples", "100", "--max_length", "128", "--doc_stride", "32", "--peft", "lora", "--target_modules", "query,value", "--max_steps", "2",
    "--per_device_train_batch_size", "16", "--logging_steps", "1", "--save_strategy", "no", "--seed", "0", "--disable_tqdm", "--output_dir", out]);
  const p = json(join(out, "eval_predictions.json"));
  assert.equal(p.kind, "qa");
  assert.equal(p.predicted_lengths.length, p.reference_lengths.length);
  assert.ok(p.reference_lengths.length > 0 && p.reference_lengths.every((n: number) => Number.isInteger(n) && n > 0), "every reference answer has words");
  const page = html(out);
  const fig = page.slice(page.indexOf('id="plot-answer-lengths"'));
  const counts = (series: string) => {
    const g = fig.slice(fig.indexOf(`data-series="${series}"`), fig.indexOf("</g>", fig.indexOf(`data-series="${series}"`)));
    return [...g.matchAll(/<title>\d+ words: (\d+)<\/title>/g)].reduce((s, x) => s + Number(x[1]), 0);
  };
  assert.equal(counts("reference"), p.reference_lengths.length);
  assert.equal(counts("predicted"), p.predicted_lengths.length);
  assert.match(page, /exact match <b>/);
});

test("seq-cls: worst-error rows with text only with --log_examples; eval_predictions.json holds numbers only", () => {
  const { trainTsv, devTsv } = writeSst2Split(work, 48, 24);
  const dev = readFileSync(devTsv, "utf8").split("\n").slice(1).filter(Boolean).map((l) => l.split("\t")[0]);
  const run = (name: string, extra: string[]) => {
    const out = join(work, name);
    cli(["train", "-m", BERT_TINY, "--task", "seq-cls", "--train_file", trainTsv, "--validation_file", devTsv, "--max_length", "32", "--peft", "lora",
      "--lora_r", "4", "--target_modules", "query,value", "--max_steps", "3", "--learning_rate", "1e-2", "--logging_steps", "1", "--save_strategy", "no",
      "--seed", "0", "--disable_tqdm", "--output_dir", out, ...extra]);
    return out;
  };
  const quiet = run("quiet", []), loud = run("loud", ["--log_examples"]);
  for (const dir of [quiet, loud]) {
    const preds = readFileSync(join(dir, "eval_predictions.json"), "utf8");
    assert.ok(!dev.some((s) => preds.includes(s.trim())), "no example text in eval_predictions.json");
  }
  assert.ok(!existsSync(join(quiet, "examples.json")));
  assert.ok(!dev.some((s) => html(quiet).includes(s.trim())), "no example text in the report without --log_examples");
  const rows = json(join(loud, "examples.json")).rows as { row: number; sentence: string; label: string; predicted: string; confidence: number }[];
  const p = json(join(loud, "eval_predictions.json"));
  const wrong = p.labels.filter((l: number, i: number) => l !== p.predictions[i]).length;
  assert.equal(rows.length, Math.min(10, wrong));
  for (const r of rows) {
    assert.equal(r.sentence, dev[r.row], "the row's own text");
    assert.notEqual(r.label, r.predicted);
    assert.equal(r.confidence, p.confidence[r.row]);
  }
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].confidence >= rows[i].confidence, "most confident mistakes first");
  assert.ok(rows.length > 0, "the untrained model gets some rows wrong");
  assert.ok(html(loud).includes("Worst errors") && html(loud).includes(rows[0].sentence.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/'/g, "&#39;")));
});

test("causal LM: sampled generations (generations.json and the report) only with --log_examples", () => {
  const LLAMA = join(ROOT, "models", "llama-mini-en"), ALPACA = join(ROOT, "data", "lm", "alpaca_libre_tasks_v1.jsonl");
  const run = (name: string, extra: string[]) => {
    const out = join(work, name);
    cli(["train", "-m", LLAMA, "--task", "causal-lm", "--train_file", ALPACA, "--filter", "status==ok", "--max_train_samples", "8", "--max_length", "48",
      "--peft", "lora", "--max_steps", "2", "--per_device_train_batch_size", "4", "--save_strategy", "no", "--seed", "0", "--disable_tqdm", "--output_dir", out, ...extra]);
    return out;
  };
  const quiet = run("lm-quiet", []), loud = run("lm-loud", ["--log_examples"]);
  assert.ok(!existsSync(join(quiet, "generations.json")));
  assert.ok(!html(quiet).includes("Sampled generations"));
  const gens = json(join(loud, "generations.json")) as { prompt: string; generation: string }[];
  assert.equal(gens.length, 3);
  for (const g of gens) assert.ok(g.prompt.length > 0 && typeof g.generation === "string");
  assert.ok(html(loud).includes("Sampled generations") && html(loud).includes(gens[0].prompt.slice(0, 12).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/'/g, "&#39;").replace(/"/g, "&quot;")));
});
