// End to end through the CLI on tiny runs (max_steps 2): train → eval → predict → merge for a
// classifier, and train → generate → merge → generate for a causal LM. The checks compare the
// CLI's outputs with each other (adapter vs merged model, train-time vs eval-time metrics) and
// with the files' formats, not with numbers of our own making.

import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeSst2Split } from "./helpers.js";

const ROOT = join(fileURLToPath(import.meta.url), "..", "..", "..");
const MAIN = join(ROOT, "src", "cli", "main.ts");
const LLAMA = existsSync(join(ROOT, "models", "llama-mini-en")) ? join(ROOT, "models", "llama-mini-en") : "/work/shared/fixtures/models/llama-mini-en";
const BERT_TINY = join(ROOT, "..", "shared", "golden", "bert-tiny-random");
const ALPACA = existsSync(join(ROOT, "data", "lm", "alpaca_libre_tasks_v1.jsonl")) ? join(ROOT, "data", "lm", "alpaca_libre_tasks_v1.jsonl") : "/work/shared/fixtures/lm/alpaca_libre_tasks_v1.jsonl";

function cli(args: string[], input = ""): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: ROOT, input, encoding: "utf8", timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: { code: number | null; stdout: string; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stderr}\n${r.stdout.slice(-2000)}`);
}

const json = (p: string) => JSON.parse(readFileSync(p, "utf8"));

let tmp: string;
let trainTsv: string;
let devTsv: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "peft-ts-cli-train-"));
  ({ trainTsv, devTsv } = writeSst2Split(tmp, 16, 12));
});

describe("seq-cls: train → eval → predict → merge", () => {
  const out = () => join(tmp, "cls");
  test("train writes the adapter (PEFT layout), metrics.json and report.html", () => {
    const cfg = join(tmp, "cls.yaml");
    writeFileSync(cfg, [
      `model_name_or_path: ${BERT_TINY}`, "task: seq-cls", `train_file: ${trainTsv}`, `validation_file: ${devTsv}`,
      "max_length: 32", "peft: lora", "lora_r: 4", "lora_alpha: 8", "target_modules: [query, value]",
      "max_steps: 2", "per_device_train_batch_size: 4", "learning_rate: 1.0e-2", "save_strategy: 'no'", "logging_steps: 1", "seed: 0", "",
    ].join("\n"));
    const r = cli(["train", "--config", cfg, "--output_dir", out()]);
    ok(r, "train");
    const ac = json(join(out(), "adapter_config.json"));
    assert.equal(ac.peft_type, "LORA");
    assert.equal(ac.task_type, "SEQ_CLS");
    assert.equal(ac.r, 4);
    assert.equal(ac.lora_alpha, 8);
    assert.deepEqual([...ac.target_modules].sort(), ["query", "value"]);
    assert.ok(existsSync(join(out(), "adapter_model.safetensors")));
    assert.ok(existsSync(join(out(), "report.html")), "the Trainer's report");
    const m = json(join(out(), "metrics.json"));
    assert.ok(m.eval_accuracy >= 0 && m.eval_accuracy <= 1, `eval_accuracy ${m.eval_accuracy}`);
    assert.ok(Number.isFinite(m.eval_loss));
    assert.ok(Number.isFinite(m.train_loss));
  });
  test("eval of the saved adapter reproduces the train-time evaluation", () => {
    const evalDir = join(tmp, "cls-eval");
    const r = cli(["eval", "-m", BERT_TINY, "--adapter", out(), "--validation_file", devTsv, "--max_length", "32", "--output_dir", evalDir]);
    ok(r, "eval");
    const a = json(join(out(), "metrics.json")), b = json(join(evalDir, "metrics.json"));
    assert.equal(b.eval_accuracy, a.eval_accuracy);
    assert.ok(Math.abs(b.eval_loss - a.eval_loss) < 1e-5, `${b.eval_loss} vs ${a.eval_loss}`);
  });
  test("predict writes one prediction per row", () => {
    const predDir = join(tmp, "cls-pred");
    const r = cli(["predict", "-m", BERT_TINY, "--adapter", out(), "--test_file", devTsv, "--max_length", "32", "--output_dir", predDir]);
    ok(r, "predict");
    const rows = readFileSync(join(predDir, "predictions.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(rows.length, 12);
    for (const row of rows) assert.ok(row.prediction === 0 || row.prediction === 1 || row.prediction === "0" || row.prediction === "1");
  });
  test("generate refuses a classification adapter with one line", () => {
    const r = cli(["generate", "-m", BERT_TINY, "--adapter", out(), "--prompt", "hi"]);
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^peft-ts: error: .*SEQ_CLS.*CAUSAL_LM/);
  });
  test("merged model evaluates like base + adapter", () => {
    const merged = join(tmp, "cls-merged");
    ok(cli(["merge", "-m", BERT_TINY, "--adapter", out(), "--output_dir", merged]), "merge");
    const evalDir = join(tmp, "cls-merged-eval");
    ok(cli(["eval", "-m", merged, "--task", "seq-cls", "--validation_file", devTsv, "--max_length", "32", "--output_dir", evalDir]), "eval merged");
    const a = json(join(out(), "metrics.json")), b = json(join(evalDir, "metrics.json"));
    assert.equal(b.eval_accuracy, a.eval_accuracy);
    assert.ok(Math.abs(b.eval_loss - a.eval_loss) < 1e-4, `${b.eval_loss} vs ${a.eval_loss}`);
  });
});

describe("other methods and losses", () => {
  test("--loss mixes cross-entropy and target alignment; an unknown loss is one line", () => {
    const out = join(tmp, "mixed");
    ok(cli(["train", "-m", BERT_TINY, "--task", "seq-cls", "--train_file", trainTsv, "--max_length", "32", "--loss", "ce=0.5,target_alignment=0.5",
      "--max_steps", "2", "--save_strategy", "no", "--output_dir", out]), "train mixed loss");
    assert.ok(Number.isFinite(json(join(out, "metrics.json")).train_loss));
    const r = cli(["train", "-m", BERT_TINY, "--task", "seq-cls", "--train_file", trainTsv, "--loss", "focal", "--output_dir", out]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim(), /^peft-ts: error: --loss: .*focal/);
  });
  for (const method of ["ia3", "prompt", "prefix"]) {
    test(`--peft ${method}: trains a causal LM adapter that generate loads`, () => {
      const out = join(tmp, `m-${method}`);
      ok(cli(["train", "-m", LLAMA, "--task", "causal-lm", "--train_file", ALPACA, "--filter", "status==ok", "--max_train_samples", "8",
        "--max_length", "48", "--peft", method, "--num_virtual_tokens", "4", "--max_steps", "2", "--per_device_train_batch_size", "4",
        "--save_strategy", "no", "--output_dir", out]), `train ${method}`);
      const ac = json(join(out, "adapter_config.json"));
      assert.equal(ac.peft_type, { ia3: "IA3", prompt: "PROMPT_TUNING", prefix: "PREFIX_TUNING" }[method]);
      const g = cli(["generate", "-m", LLAMA, "--adapter", out, "--prompt", "Name a color.", "--max_new_tokens", "6"]);
      ok(g, `generate ${method}`);
      assert.equal(g.stderr, "", "no warnings");
    });
  }
});

describe("distill", () => {
  test("teacher + adapter → half-depth student: a plain model folder that eval loads", () => {
    const out = join(tmp, "student");
    const r = cli(["distill", "--teacher_model_name_or_path", BERT_TINY, "--teacher_adapter", join(tmp, "cls"), "--student_every_k", "2",
      "--task", "seq-cls", "--train_file", trainTsv, "--validation_file", devTsv, "--max_length", "32", "--peft", "none",
      "--max_steps", "2", "--per_device_train_batch_size", "4", "--save_strategy", "no", "--output_dir", out]);
    ok(r, "distill");
    const cfg = json(join(out, "config.json"));
    const teacherCfg = json(join(BERT_TINY, "config.json"));
    assert.equal(cfg.num_hidden_layers, Math.ceil(teacherCfg.num_hidden_layers / 2));
    const m = json(join(out, "metrics.json"));
    assert.ok(m.eval_accuracy >= 0 && m.eval_accuracy <= 1);
    assert.ok(Number.isFinite(m.train_loss));
    const e = cli(["eval", "-m", out, "--task", "seq-cls", "--validation_file", devTsv, "--max_length", "32", "--output_dir", join(tmp, "student-eval")]);
    ok(e, "eval student");
    assert.equal(json(join(tmp, "student-eval", "metrics.json")).eval_accuracy, m.eval_accuracy);
  });
  test("distill without a student says how to give one", () => {
    const r = cli(["distill", "--teacher_model_name_or_path", BERT_TINY, "--task", "seq-cls", "--train_file", trainTsv, "--output_dir", join(tmp, "s2")]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim(), /^peft-ts: error: .*--student_every_k/);
  });
});

describe("demo (shortened)", () => {
  test("baseline vs fine-tuned metrics, adapters, report and generations", () => {
    const out = join(tmp, "demo");
    const r = cli(["demo", "--output_dir", out, "--max_train_samples", "64", "--max_eval_samples", "32", "--max_steps", "2",
      "--lm_rows", "16", "--lm_max_steps", "2"]);
    ok(r, "demo");
    const m = json(join(out, "metrics.json"));
    for (const k of ["baseline_eval_accuracy", "eval_accuracy"]) assert.ok(m[k] >= 0 && m[k] <= 1, `${k} ${m[k]}`);
    assert.equal(json(join(out, "adapter", "adapter_config.json")).task_type, "SEQ_CLS");
    assert.ok(existsSync(join(out, "adapter", "adapter_model.safetensors")));
    assert.equal(json(join(out, "chat-adapter", "adapter_config.json")).task_type, "CAUSAL_LM");
    assert.ok(existsSync(join(out, "report.html")));
    const gens = json(join(out, "generations.json"));
    assert.ok(gens.length >= 3 && gens.every((g: { prompt: string; before: string; after: string }) => typeof g.before === "string" && typeof g.after === "string"));
    assert.match(r.stdout, /baseline \(untrained head\)\s+\d+\.\d%/);
    assert.match(r.stdout, /LoRA fine-tuned\s+\d+\.\d%/);
  });
});

describe("causal-lm: train → generate → merge → generate", () => {
  const out = () => join(tmp, "lm");
  test("train on instruction rows with checkpoints; resuming from step 1 reproduces the run", () => {
    const args = ["train", "-m", LLAMA, "--task", "causal-lm", "--train_file", ALPACA, "--filter", "status==ok", "--max_train_samples", "8",
      "--max_length", "48", "--target_modules", "all-linear", "--per_device_train_batch_size", "4", "--learning_rate", "1e-2",
      "--save_steps", "1", "--logging_steps", "1", "--output_dir", out()];
    ok(cli([...args, "--max_steps", "2"]), "train");
    assert.equal(json(join(out(), "adapter_config.json")).task_type, "CAUSAL_LM");
    const ckpts = readdirSync(out()).filter((d) => d.startsWith("checkpoint-")).sort();
    assert.deepEqual(ckpts, ["checkpoint-1", "checkpoint-2"]);
    const first = readFileSync(join(out(), "adapter_model.safetensors"));
    ok(cli([...args, "--max_steps", "2", "--resume_from_checkpoint", join(out(), "checkpoint-1")]), "resume");
    assert.ok(readFileSync(join(out(), "adapter_model.safetensors")).equals(first), "resumed run ends with the same adapter bytes");
  });
  test("generation with the adapter equals generation with the merged model", () => {
    const prompt = "Give three tips for staying healthy.";
    const a = cli(["generate", "-m", LLAMA, "--adapter", out(), "--prompt", prompt, "--max_new_tokens", "12"]);
    ok(a, "generate with adapter");
    const merged = join(tmp, "lm-merged");
    ok(cli(["merge", "-m", LLAMA, "--adapter", out(), "--output_dir", merged]), "merge");
    assert.ok(existsSync(join(merged, "tokenizer.json")), "merged folder carries the tokenizer");
    const b = cli(["generate", "-m", merged, "--raw", "false", "--prompt", prompt, "--max_new_tokens", "12"]);
    ok(b, "generate merged");
    assert.equal(b.stdout, a.stdout);
  });
});

process.on("exit", () => {
  if (tmp && !process.env.KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
});
