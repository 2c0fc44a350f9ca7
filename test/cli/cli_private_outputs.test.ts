// Private by default (issue #20): a training run with a canary sentence in its training and
// validation data writes it to no output file (log_history.jsonl, trainer_state.json,
// checkpoints, report.html, metrics, the adapter and its model card) and to neither stdout nor
// stderr, with and without DP-SGD; a DP run's README.md model card and trainer_state.json state
// its ε, δ, σ, C, q, steps and accountant.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BERT_TINY, ROOT, writeSst2Split } from "./helpers.js";

const CANARY = "zebra canary 7f3e1c sentence";
let tmp: string, trainTsv: string, devTsv: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "peft-ts-private-"));
  ({ trainTsv, devTsv } = writeSst2Split(tmp, 16, 8));
  for (const f of [trainTsv, devTsv]) {
    const lines = readFileSync(f, "utf8").split("\n");
    lines.splice(2, 0, `the ${CANARY} is private .\t1`);
    writeFileSync(f, lines.join("\n"));
  }
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n)) : [join(dir, n)]));
}

function train(out: string, extra: string[]): { stdout: string; stderr: string } {
  const argv = [
    join(ROOT, "bin", "peft-ts.js"), "train", "-m", BERT_TINY, "--task", "seq-cls", "--train_file", trainTsv, "--validation_file", devTsv, "--max_length", "24",
    "--peft", "lora", "--lora_r", "4", "--target_modules", "query,value", "--max_steps", "4", "--per_device_train_batch_size", "4", "--learning_rate", "1e-2",
    "--logging_steps", "1", "--save_strategy", "steps", "--save_steps", "2", "--eval_strategy", "steps", "--eval_steps", "2", "--seed", "0", "--output_dir", out, ...extra,
  ];
  const r = spawnSync(process.execPath, argv, { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, `train failed:\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

function assertNoCanary(out: string, io: { stdout: string; stderr: string }): string[] {
  const files = filesUnder(out);
  assert.ok(files.some((f) => f.endsWith("log_history.jsonl")) && files.some((f) => f.endsWith("report.html")) && files.some((f) => /checkpoint-2[\\/]trainer_state\.json$/.test(f)), `outputs: ${files.join(", ")}`);
  for (const f of files) {
    const text = readFileSync(f).toString("latin1");
    for (const needle of ["7f3e1c", "zebra canary"]) assert.ok(!text.includes(needle), `${f} contains the training text '${needle}'`);
  }
  for (const [name, s] of Object.entries(io)) assert.ok(!s.includes("7f3e1c"), `${name} contains the training text`);
  return files;
}

test("without DP: no output file and neither stdout nor stderr contain the training text", () => {
  const out = join(tmp, "plain");
  const io = train(out, []);
  assert.match(io.stderr + io.stdout, /17 training examples, 9 evaluation examples/, "the canary rows were read");
  assertNoCanary(out, io);
});

test("with DP-SGD (ghost clipping): no training text anywhere; README.md and trainer_state.json state ε, δ, σ, C, q, steps, accountant", () => {
  const out = join(tmp, "dp");
  const io = train(out, ["--dp", "--dp_noise_multiplier", "1.3", "--dp_max_grad_norm", "0.7", "--dp_clipping", "ghost", "--dp_delta", "1e-5"]);
  const files = assertNoCanary(out, io);
  const state = JSON.parse(readFileSync(join(out, "trainer_state.json"), "utf8"));
  assert.equal(state.dp.steps, 4);
  assert.equal(state.dp.noise_multiplier, 1.3);
  assert.equal(state.dp.sample_rate, 4 / 17);
  const card = readFileSync(join(out, "README.md"), "utf8");
  const row = (k: string) => card.match(new RegExp(`\\| ${k} \\| ([^|]+) \\|`))?.[1].trim();
  assert.ok(Math.abs(Number(row("ε \\(epsilon spent\\)")) - state.dp.epsilon) <= 1e-5 * state.dp.epsilon, `card ε ${row("ε \\(epsilon spent\\)")} vs ${state.dp.epsilon}`);
  assert.equal(Number(row("δ \\(delta\\)")), 1e-5);
  assert.equal(Number(row("σ \\(noise multiplier\\)")), 1.3);
  assert.equal(Number(row("C \\(per-sample clipping norm\\)")), 0.7);
  assert.ok(Math.abs(Number(row("q \\(sample rate\\)")) - 4 / 17) < 1e-6);
  assert.equal(Number(row("steps")), 4);
  assert.equal(row("accountant"), "rdp");
  assert.equal(row("clipping"), "ghost");
  assert.ok(files.some((f) => /checkpoint-2[\\/]README\.md$/.test(f)), "checkpoints carry the card too");
  const ck = readFileSync(join(out, "checkpoint-2", "README.md"), "utf8");
  assert.match(ck, /\| steps \| 2 \|/);
});
