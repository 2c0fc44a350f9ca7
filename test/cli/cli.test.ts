// The CLI as a user runs it: a child process per command, checking exit codes, the one-line
// errors, config-file resolution and the files each command writes.

import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(fileURLToPath(import.meta.url), "..", "..", "..");
const MAIN = join(ROOT, "src", "cli", "main.ts");
const LLAMA = existsSync(join(ROOT, "models", "llama-mini-en")) ? join(ROOT, "models", "llama-mini-en") : "/work/shared/fixtures/models/llama-mini-en";
const SHARED = join(ROOT, "..", "shared");

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { input?: string; cwd?: string; timeout?: number } = {}): Result {
  const r = spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    input: opts.input ?? "",
    encoding: "utf8",
    timeout: opts.timeout ?? 120_000,
    env: { ...process.env, PEFT_TS_DEBUG: "" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A failed run: non-zero exit, exactly one non-empty stderr line starting with the prefix. */
function assertOneLineError(r: Result, ...mustContain: string[]): string {
  assert.notEqual(r.code, 0, `expected failure, got 0; stdout: ${r.stdout}`);
  const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0], /^peft-ts: error: /);
  for (const s of mustContain) assert.ok(lines[0].includes(s), `error line should mention ${JSON.stringify(s)}: ${lines[0]}`);
  assert.ok(!/\n\s+at /.test(r.stderr), "no stack trace without --debug");
  return lines[0];
}

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "peft-ts-cli-"));
});

const COMMANDS = ["train", "eval", "predict", "generate", "merge", "distill", "inspect", "explain", "convert", "export", "report", "demo"];

describe("help", () => {
  test("top-level --help lists every command", () => {
    const r = cli(["--help"]);
    assert.equal(r.code, 0, r.stderr);
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^\\s+${c}\\b`, "m"), `--help should list ${c}`);
  });
  for (const c of COMMANDS) {
    test(`${c} --help shows usage, options and examples`, () => {
      const r = cli([c, "--help"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Usage: peft-ts ${c}`));
      assert.match(r.stdout, /Examples:\n\s+\$ peft-ts /);
      assert.equal(r.stderr, "");
    });
  }
  test("train --help carries HF TrainingArguments names", () => {
    const r = cli(["train", "--help"]);
    for (const f of ["--output-dir", "--num-train-epochs", "--max-steps", "--per-device-train-batch-size", "--learning-rate", "--save-steps",
      "--save-total-limit", "--resume-from-checkpoint", "--lr-scheduler-type", "--seed", "--eval-strategy", "--fp16", "--bf16",
      "--lora-r", "--lora-alpha", "--target-modules", "--use-rslora", "--use-dora", "--num-virtual-tokens", "--loss"]) {
      assert.ok(r.stdout.includes(f), `train --help should list ${f}`);
    }
  });
  test("the bin shim runs the CLI (dist/ when built, else the TypeScript source)", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "bin", "peft-ts.js"), "generate", "--help"], { cwd: tmp, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Usage: peft-ts generate/);
  });
  test("no command: overview on stderr, non-zero exit", () => {
    const r = cli([]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Usage: peft-ts/);
  });
});

describe("errors are one actionable line", () => {
  test("unknown flag, named as typed", () => {
    assertOneLineError(cli(["train", "--lerning_rate", "1e-3"]), "--lerning_rate");
  });
  test("unknown command suggests the closest", () => {
    assertOneLineError(cli(["trian"]), "trian", "train");
  });
  test("bad integer", () => {
    assertOneLineError(cli(["train", "--lora_r", "eight", "--print_config"]), "lora_r", "eight");
  });
  test("bad choice lists the allowed values", () => {
    assertOneLineError(cli(["train", "--task", "seq-class", "--print_config"]), "task", "seq-cls");
  });
  test("missing training file is named", () => {
    const r = cli(["train", "-m", LLAMA, "--task", "seq-cls", "--train_file", "no/such/train.tsv", "--output_dir", join(tmp, "x")]);
    assertOneLineError(r, "no/such/train.tsv");
  });
  test("missing model folder is named", () => {
    assertOneLineError(cli(["inspect", "-m", "models/does-not-exist"]), "models/does-not-exist");
  });
  test("missing config file is named", () => {
    assertOneLineError(cli(["train", "--config", "nope.yaml"]), "nope.yaml");
  });
  test("missing adapter folder is named", () => {
    assertOneLineError(cli(["generate", "-m", LLAMA, "--adapter", join(tmp, "no-adapter"), "--prompt", "hi"]), "no-adapter");
  });
  test("train without --output_dir says so", () => {
    assertOneLineError(cli(["train", "-m", LLAMA, "--task", "seq-cls", "--train_file", "data/sst2/dev.tsv"]), "--output_dir");
  });
  test("--debug prints the stack trace as well", () => {
    const r = cli(["inspect", "-m", "models/does-not-exist", "--debug"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /peft-ts: error: /);
    assert.match(r.stderr, /\n\s+at /);
  });
});

describe("options: config file and flags", () => {
  test("flags override the file; snake_case and kebab-case are the same option", () => {
    const cfg = join(tmp, "run.yaml");
    writeFileSync(cfg, [
      "model_name_or_path: models/llama-mini-en",
      "task: seq-cls",
      "lora_r: 4",
      "lora-alpha: 32",
      "learning_rate: 3.0e-3",
      "target_modules: [q_proj, v_proj]",
      "num_train_epochs: 5",
      "",
    ].join("\n"));
    const r = cli(["train", "--config", cfg, "--lora-r", "16", "--num_train_epochs", "2", "--use_rslora", "--print_config"]);
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout).options;
    assert.equal(o.lora_r, 16, "flag wins over the file");
    assert.equal(o.num_train_epochs, 2);
    assert.equal(o.lora_alpha, 32, "kebab-case key in the file");
    assert.equal(o.learning_rate, 3e-3);
    assert.deepEqual(o.target_modules, ["q_proj", "v_proj"]);
    assert.equal(o.use_rslora, true);
    assert.equal(o.task, "seq-cls");
  });
  test("JSON config and comma lists", () => {
    const cfg = join(tmp, "run.json");
    writeFileSync(cfg, JSON.stringify({ model_name_or_path: "m", target_modules: "all-linear", per_device_train_batch_size: "4", fp16: "false" }));
    const r = cli(["train", "-c", cfg, "--modules_to_save", "score,norm", "--print_config"]);
    assert.equal(r.code, 0, r.stderr);
    const o = JSON.parse(r.stdout).options;
    assert.equal(o.target_modules, "all-linear");
    assert.equal(o.per_device_train_batch_size, 4);
    assert.equal(o.fp16, false);
    assert.deepEqual(o.modules_to_save, ["score", "norm"]);
  });
  test("a target_modules regex stays a string (PEFT full-match semantics)", () => {
    const r = cli(["train", "--target_modules", ".*\\.(q|v)_proj", "--print_config"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).options.target_modules, ".*\\.(q|v)_proj");
  });
  test("unknown key in the config file is an error naming the key and the file", () => {
    const cfg = join(tmp, "bad.yaml");
    writeFileSync(cfg, "learning_rte: 0.1\n");
    assertOneLineError(cli(["train", "--config", cfg, "--print_config"]), "learning_rte", "bad.yaml", "learning_rate");
  });
  test("invalid YAML is reported on one line", () => {
    const cfg = join(tmp, "broken.yaml");
    writeFileSync(cfg, "a: [1, 2\n");
    assertOneLineError(cli(["train", "--config", cfg]), "broken.yaml");
  });
  test("every example config resolves", () => {
    for (const name of ["sentiment", "ner", "qa", "chat", "distill", "multitask"]) {
      const cmd = name === "distill" ? "distill" : "train";
      const r = cli([cmd, "--config", join("examples", `${name}.yaml`), "--print_config"]);
      assert.equal(r.code, 0, `${name}.yaml: ${r.stderr}`);
      const o = JSON.parse(r.stdout).options;
      assert.ok(o.output_dir, `${name}.yaml sets output_dir`);
      for (const k of ["train_file", "validation_file", "model_name_or_path", "teacher_model_name_or_path"]) {
        if (typeof o[k] === "string" && !String(o[k]).startsWith("runs/")) assert.ok(existsSync(join(ROOT, o[k])), `${name}.yaml: ${k} ${o[k]} exists`);
      }
    }
  });
});

describe("inspect", () => {
  test("LoRA all-linear trainable parameters match r·(in+out) per linear layer + the head", () => {
    const r = cli(["inspect", "-m", LLAMA, "--task", "seq-cls", "--peft", "lora", "--lora_r", "8", "--target_modules", "all-linear", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    const cfg = JSON.parse(readFileSync(join(LLAMA, "config.json"), "utf8"));
    const h = cfg.hidden_size, L = cfg.num_hidden_layers, I = cfg.intermediate_size;
    const kv = (h / cfg.num_attention_heads) * cfg.num_key_value_heads;
    const perLayer = [[h, h], [h, kv], [h, kv], [h, h], [h, I], [h, I], [I, h]].reduce((a, [i, o]) => a + 8 * (i + o), 0);
    const head = 2 * h; // score: Linear(h, 2), no bias
    assert.equal(j.peft.trainable_params, L * perLayer + head);
    // peft keeps the original head next to its trainable copy (modules_to_save), as HF counts it
    assert.equal(j.peft.all_params, j.parameters + L * perLayer + head);
    const names = j.target_modules.map((t: { name: string }) => t.name);
    for (const n of ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]) assert.ok(names.includes(n));
  });
  test("text output names the model type and targetable modules", () => {
    const r = cli(["inspect", "-m", LLAMA]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /type\s+llama/);
    assert.match(r.stdout, /q_proj\s+linear/);
  });
});

describe("generate", () => {
  test("greedy continuation equals the transformers reference in PRETRAINED.md", () => {
    // PRETRAINED.md: greedy ids identical to HF generate(do_sample=False); 30 new tokens, stop at [SEP]
    const r = cli(["generate", "-m", LLAMA, "--prompt", "once upon a time", "--max_new_tokens", "30"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "once upon a time, he's a good day, and he's a good day.");
  });
  test("chat reads messages from stdin until /exit", () => {
    const r = cli(["generate", "-m", LLAMA, "--chat", "--max_new_tokens", "5"], { input: "hello\n/reset\nwhat is a dog?\n/exit\nnot read\n" });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stdout.match(/assistant> /g) ?? []).length, 2);
    assert.match(r.stdout, /history cleared/);
  });
  test("nothing to generate is an error", () => {
    assertOneLineError(cli(["generate", "-m", LLAMA]), "--prompt");
  });
});

describe("convert and merge", () => {
  test("llama2.c checkpoint → HF folder that inspect and generate load", () => {
    const out = join(tmp, "stories");
    const bin = join(SHARED, "fixtures", "models", "stories260K.bin");
    const tok = join(SHARED, "fixtures", "models", "tok512.bin");
    const r = cli(["convert", bin, out, "--tokenizer", tok]);
    assert.equal(r.code, 0, r.stderr);
    for (const f of ["config.json", "model.safetensors", "tokenizer.json"]) assert.ok(existsSync(join(out, f)), f);
    const cfg = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    assert.equal(cfg.model_type, "llama");
    const g = cli(["generate", "-m", out, "--prompt", "Once upon a time", "--max_new_tokens", "12"]);
    assert.equal(g.code, 0, g.stderr);
    assert.ok(g.stdout.trim().length > "Once upon a time".length);
  });
  test("convert: missing checkpoint is named", () => {
    assertOneLineError(cli(["convert", join(tmp, "none.bin"), join(tmp, "o")]), "none.bin");
  });
  test("merge a PEFT adapter (transformers-made golden) into its base", () => {
    const base = join(SHARED, "golden", "llama-tiny-random");
    const out = join(tmp, "merged-golden");
    const r = cli(["merge", "-m", base, "--adapter", join(base, "lora", "adapter"), "--output_dir", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(out, "model.safetensors")));
    const cfg = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    assert.deepEqual(cfg.architectures, ["LlamaForCausalLM"]);
    const i = cli(["inspect", "-m", out, "--json"]);
    assert.equal(i.code, 0, i.stderr);
    const baseInfo = JSON.parse(cli(["inspect", "-m", base, "--json"]).stdout);
    assert.equal(JSON.parse(i.stdout).parameters, baseInfo.parameters, "merging adds no parameters");
  });
  test("merge without --adapter says so", () => {
    assertOneLineError(cli(["merge", "-m", LLAMA, "--output_dir", join(tmp, "m")]), "--adapter");
  });
});

process.on("exit", () => {
  if (tmp && !process.env.KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
});
