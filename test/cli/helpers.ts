// Shared by the CLI tests: the bundled data files, SST-2 slices in a temp folder, running the
// CLI in the test's own process (where a task registered by the test exists), and what the
// multi-process CLI tests share (bert-tiny without dropout, the LoRA train argv, the skip reason).

import assert from "node:assert/strict";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../../src/cli/main.js";

export const ROOT = join(fileURLToPath(import.meta.url), "..", "..", "..");
export const BERT_TINY = join(ROOT, "..", "shared", "golden", "bert-tiny-random");
export const SST2_DEV = existsSync(join(ROOT, "data", "sst2", "dev.tsv")) ? join(ROOT, "data", "sst2", "dev.tsv") : "/work/shared/fixtures/sst2/dev.tsv";

/** bert-tiny-random with dropout off (so one process and several ranks compute the same thing), copied to dir/bert-tiny-nodropout. */
export function bertTinyNoDropout(dir: string): string {
  const model = join(dir, "bert-tiny-nodropout");
  mkdirSync(model, { recursive: true });
  for (const f of readdirSync(BERT_TINY)) if (!f.startsWith("golden")) cpSync(join(BERT_TINY, f), join(model, f), { recursive: true });
  const cfg = JSON.parse(readFileSync(join(BERT_TINY, "config.json"), "utf8"));
  writeFileSync(join(model, "config.json"), JSON.stringify({ ...cfg, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }, null, 2));
  return model;
}

/** node argv of `peft-ts train`: 3 logged LoRA steps (r 4 on query,value) of seq-cls on trainTsv, no checkpoints. */
export function loraTrainArgv(model: string, trainTsv: string, out: string, extra: string[]): string[] {
  return [
    join(ROOT, "bin", "peft-ts.js"), "train", "-m", model, "--task", "seq-cls", "--train_file", trainTsv, "--max_length", "24",
    "--peft", "lora", "--lora_r", "4", "--target_modules", "query,value", "--max_steps", "3", "--learning_rate", "1e-2",
    "--logging_steps", "1", "--save_strategy", "no", "--seed", "0", "--disable_tqdm", "--output_dir", out, ...extra,
  ];
}

/** The training losses a run logged (log_history.jsonl in dir), in step order. */
export function loggedLosses(dir: string): number[] {
  return readFileSync(join(dir, "log_history.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.loss !== undefined).map((e) => e.loss as number);
}

/** train.tsv (SST-2 dev rows 1..train) and dev.tsv (the next `dev` rows) in `dir`, with the header. */
export function writeSst2Split(dir: string, train: number, dev: number): { trainTsv: string; devTsv: string } {
  const lines = readFileSync(SST2_DEV, "utf8").split("\n").filter(Boolean);
  const trainTsv = join(dir, "train.tsv");
  const devTsv = join(dir, "dev.tsv");
  writeFileSync(trainTsv, [lines[0], ...lines.slice(1, 1 + train)].join("\n") + "\n");
  writeFileSync(devTsv, [lines[0], ...lines.slice(1 + train, 1 + train + dev)].join("\n") + "\n");
  return { trainTsv, devTsv };
}

/**
 * Runs `peft-ts <args>` in this process, capturing stderr (stdout is left alone: it carries the
 * test runner's reports, and the CLI's progress lines show up as test output).
 */
export async function cliInProcess(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await main(args), stderr };
  } finally {
    process.stderr.write = write;
  }
}

/** The largest difference between the tensors of two saved adapters (asserting that they hold the same names). */
export function adapterMaxDiff(dirA: string, dirB: string): number {
  const wa = loadSafetensors(join(dirA, "adapter_model.safetensors")), wb = loadSafetensors(join(dirB, "adapter_model.safetensors"));
  assert.deepEqual([...wb.keys()].sort(), [...wa.keys()].sort());
  let worst = 0;
  for (const [k, t] of wa) {
    const x = t.f32(), y = wb.get(k)!.f32();
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
  return worst;
}

/** The text fn writes to stdout (bytes, e.g. the test runner's own messages, still go through). */
export async function captureStdout(fn: () => Promise<unknown>): Promise<string> {
  let text = "";
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof s !== "string") return (write as (...a: unknown[]) => boolean)(s, ...rest);
    text += s;
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = write;
  }
  return text;
}
