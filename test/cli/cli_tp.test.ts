// `peft-ts train --tensor_parallel_size K` against one process (dropout off, so both compute the
// same thing): LoRA on bert-tiny-random (seq-cls) and llama-tiny-random (causal-lm on instruction
// rows, with a 193-token character-level WordPiece tokenizer built here, since the model ships
// none and has 256 ids): the same loss at every step (1e-5), and the adapter the tp run saved
// loads in a single process and gives the same logits. A 4-rank dp 2 × tp 2 run against one
// process with the global batch, a tp checkpoint resumed by one process, and the one-line errors.
// Needs OpenMPI and the MPI addon; without them the multi-process tests say why and are skipped.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BERT_TINY, bertTinyNoDropout, loggedLosses as losses, ROOT, writeSst2Split } from "./helpers.js";
import { whyNoMpi } from "../helpers/mpi.js";
import { AutoModelForCausalLM, AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { PeftModel } from "../../src/peft/index.js";

const LLAMA_TINY = join(BERT_TINY, "..", "llama-tiny-random");
const LLAMA_MINI = join(ROOT, "models", "llama-mini-en");
const ALPACA = join(ROOT, "data", "lm", "alpaca_libre_tasks_v1.jsonl");
const why = whyNoMpi();
const whyLlama = why ?? ([LLAMA_TINY, LLAMA_MINI, ALPACA].find((p) => !existsSync(p)) ? "llama-tiny-random, models/llama-mini-en (its tokenizer files) or data/lm is missing" : null);
if (why) console.log(`# cli_tp.test.ts: multi-process tests skipped: ${why}`);

let tmp: string;
let bert: string;
let llama: string;
let trainTsv: string;
let rows: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "peft-ts-cli-tp-"));
  bert = bertTinyNoDropout(tmp);
  ({ trainTsv } = writeSst2Split(tmp, 32, 0));
  if (whyLlama) return;
  llama = join(tmp, "llama-tiny");
  mkdirSync(llama, { recursive: true });
  for (const f of ["config.json", "generation_config.json", "model.safetensors"]) copyFileSync(join(LLAMA_TINY, f), join(llama, f));
  // llama-mini-en's WordPiece tokenizer cut to printable ASCII characters and their ## pieces (< 256 ids)
  const tok = JSON.parse(readFileSync(join(LLAMA_MINI, "tokenizer.json"), "utf8"));
  const chars = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i));
  const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...chars, ...chars.map((c) => `##${c}`)];
  tok.model.vocab = Object.fromEntries(vocab.map((t, i) => [t, i]));
  writeFileSync(join(llama, "tokenizer.json"), JSON.stringify(tok));
  for (const f of ["tokenizer_config.json", "special_tokens_map.json"]) copyFileSync(join(LLAMA_MINI, f), join(llama, f));
  rows = join(tmp, "rows.jsonl");
  writeFileSync(rows, readFileSync(ALPACA, "utf8").split("\n").filter((l) => l.includes('"status": "ok"')).slice(0, 8).join("\n") + "\n");
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "peft-ts.js"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const COMMON = ["--peft", "lora", "--lora_r", "4", "--lora_dropout", "0", "--max_steps", "3", "--learning_rate", "1e-2", "--logging_steps", "1", "--seed", "0", "--disable_tqdm"];
const bertArgs = (out: string, extra: string[]) => ["train", "-m", bert, "--task", "seq-cls", "--train_file", trainTsv, "--max_length", "24",
  "--target_modules", "query,value,dense", "--save_strategy", "no", ...COMMON, "--output_dir", out, ...extra];
const llamaArgs = (out: string, extra: string[]) => ["train", "-m", llama, "--task", "causal-lm", "--train_file", rows, "--max_length", "128",
  "--target_modules", "all-linear", "--per_device_train_batch_size", "4", ...COMMON, "--output_dir", out, ...extra];
function ok(r: { code: number | null; stdout: string; stderr: string }): void {
  assert.equal(r.code, 0, `${r.stderr}\n${r.stdout.slice(-2000)}`);
}
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]));
  return w;
}
function sameLosses(one: string, other: string): number {
  const la = losses(one), lb = losses(other);
  assert.equal(la.length, 3);
  assert.equal(lb.length, 3, "one log entry per step (rank 0 only)");
  la.forEach((v, i) => assert.ok(Math.abs(v - lb[i]) < 1e-5, `step ${i + 1}: loss ${lb[i]} vs ${v} in one process`));
  return maxDiff(la, lb);
}

/** Logits of base + the adapter in `adapterDir`, in this (single) process. */
async function logits(kind: "bert" | "llama", adapterDir: string): Promise<Float32Array> {
  const ids = kind === "bert" ? [[2, 7, 15, 30, 41, 3], [2, 9, 11, 3, 0, 0]] : [[2, 40, 51, 62, 73, 84, 95, 106]];
  const mask = ids.map((r) => r.map((t, i) => (kind === "bert" && t === 0 && i > 0 ? 0 : 1)));
  const base = kind === "bert"
    ? await AutoModelForSequenceClassification.fromPretrained(bert, { numLabels: 2, log: () => {} })
    : await AutoModelForCausalLM.fromPretrained(llama, { log: () => {} });
  const pm = await PeftModel.fromPretrained(base, adapterDir);
  pm.eval();
  return Float32Array.from((pm.forward({ inputIds: ids, attentionMask: mask }) as { logits: { f32(): Float32Array } }).logits.f32());
}

for (const kind of ["bert", "llama"] as const) {
  test(`train --nproc_per_node 2 --tensor_parallel_size 2 (${kind}, LoRA) = one process: losses, and the saved adapter's logits in one process`, { skip: (kind === "bert" ? why : whyLlama) ?? false }, async () => {
    const args = kind === "bert" ? bertArgs : llamaArgs;
    const one = join(tmp, `${kind}-one`), tp = join(tmp, `${kind}-tp2`);
    ok(cli(args(one, kind === "bert" ? ["--per_device_train_batch_size", "8"] : [])));
    const r = cli(args(tp, [...(kind === "bert" ? ["--per_device_train_batch_size", "8"] : []), "--nproc_per_node", "2", "--tensor_parallel_size", "2"]));
    ok(r);
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("==> training")).length, 1, "rank 0 alone reports");
    const dl = sameLosses(one, tp);
    // the tp run's adapter is the ordinary PEFT file (full shapes), loadable without tensor parallelism
    const la = await logits(kind, one), lb = await logits(kind, tp);
    const dz = maxDiff(la, lb);
    assert.ok(dz < 1e-5, `logits with the tp-trained adapter differ by ${dz}`);
    console.log(`# ${kind} tp 2 vs 1 process: max |Δloss| ${dl.toExponential(2)}, max |Δlogits| (adapter loaded in one process) ${dz.toExponential(2)}`);
    if (kind === "llama") {
      // a tp checkpoint holds full tensors (adapter and optimizer state): one process resumes it
      const ck = join(tmp, "llama-ck"), res = join(tmp, "llama-resumed");
      ok(cli(llamaArgs(ck, ["--save_strategy", "steps", "--save_steps", "2", "--nproc_per_node", "2", "--tensor_parallel_size", "2"])));
      mkdirSync(res, { recursive: true });
      cpSync(join(ck, "checkpoint-2"), join(res, "checkpoint-2"), { recursive: true });
      ok(cli(llamaArgs(res, ["--save_strategy", "no", "--resume_from_checkpoint", join(res, "checkpoint-2")])));
      const dr = maxDiff(await logits(kind, one), await logits(kind, res));
      assert.ok(dr < 1e-5, `resumed from a tp checkpoint in one process: logits differ by ${dr}`);
      console.log(`# llama tp-2 checkpoint resumed by 1 process: max |Δlogits| ${dr.toExponential(2)}`);
    }
  });
}

test("4 ranks as dp 2 × tp 2 (batch 4 each) = one process with the global batch 8 (bert, LoRA)", { skip: why ?? false }, async () => {
  const one = join(tmp, "bert-one-8"), dptp = join(tmp, "bert-dp2tp2");
  if (!existsSync(join(one, "adapter_model.safetensors"))) ok(cli(bertArgs(one, ["--per_device_train_batch_size", "8"])));
  ok(cli(bertArgs(dptp, ["--per_device_train_batch_size", "4", "--nproc_per_node", "4", "--tensor_parallel_size", "2"])));
  const dl = sameLosses(one, dptp);
  const dz = maxDiff(await logits("bert", one), await logits("bert", dptp));
  assert.ok(dz < 1e-5, `logits differ by ${dz}`);
  console.log(`# bert dp 2 × tp 2 vs 1 process: max |Δloss| ${dl.toExponential(2)}, max |Δlogits| ${dz.toExponential(2)}`);
});

test("--tensor_parallel_size 3 with 2 ranks: one error line naming both, before any rank starts", { skip: why ?? false }, () => {
  const r = cli(bertArgs(join(tmp, "bad3"), ["--nproc_per_node", "2", "--tensor_parallel_size", "3"]));
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^peft-ts: error: --tensor_parallel_size: tensor_parallel_size \(3\) must divide the world size \(2 processes\)/);
  assert.equal(r.stdout, "", "no rank ran");
});

test("a PEFT method that tensor parallelism cannot split: the library's PeftError as one line", { skip: why ?? false }, () => {
  const r = cli(["train", "-m", bert, "--task", "seq-cls", "--train_file", trainTsv, "--peft", "ia3", "--max_steps", "1", "--save_strategy", "no",
    "--output_dir", join(tmp, "ia3"), "--nproc_per_node", "2", "--tensor_parallel_size", "2"]);
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.equal(lines[0], "peft-ts: error: IA3 is not supported on a tensor-parallel model (supported there: LORA)");
});

test("--zero_stage with --tensor_parallel_size: the ranks' ConfigError, reported once by rank 0 (the ranks end MPI together)", { skip: why ?? false }, () => {
  const r = cli(bertArgs(join(tmp, "zero-tp"), ["--nproc_per_node", "2", "--tensor_parallel_size", "2", "--zero_stage", "1"]));
  assert.equal(r.code, 2);
  const ours = r.stderr.split("\n").filter((l) => l.startsWith("peft-ts:"));
  assert.deepEqual(ours, ["peft-ts: error: zero_stage 1 is not supported with tensor_parallel_size 2 (ZeRO slices a flat vector that differs per tp rank); use zero_stage 0"], r.stderr);
  assert.ok(!/MPI_ABORT/.test(r.stderr), r.stderr);
});
