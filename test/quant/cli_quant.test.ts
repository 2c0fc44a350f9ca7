// The CLI on a quantised base: `peft-ts train --load_in_4bit --bnb_4bit_quant_type nf4` trains LoRA on
// an NF4 base (same adapter files as the f32 run), `merge --load_in_4bit …` prints the
// re-quantisation error per module and writes a full-precision model; bad flags are usage errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { BERT_TINY, captureStdout, cliInProcess, loggedLosses, writeSst2Split } from "../cli/helpers.js";
import { loadSafetensors } from "../../src/io/safetensors.js";

const dir = mkdtempSync(join(tmpdir(), "cli-quant-"));
const { trainTsv } = writeSst2Split(dir, 16, 4);
const train = (out: string, extra: string[]) => cliInProcess([
  "train", "-m", BERT_TINY, "--task", "seq-cls", "--train_file", trainTsv, "--max_length", "24", "--peft", "lora", "--lora_r", "4",
  "--target_modules", "all-linear", "--max_steps", "4", "--learning_rate", "1e-2", "--logging_steps", "1", "--save_strategy", "no",
  "--seed", "0", "--disable_tqdm", "--per_device_train_batch_size", "4", "--output_dir", out, ...extra,
]);

/** fn's result with what it wrote to stdout (the test runner's byte writes still go through). */
async function withStdout<T>(fn: () => Promise<T>): Promise<{ value: T; out: string }> {
  let value!: T;
  const out = await captureStdout(async () => { value = await fn(); });
  return { value, out };
}

test("train --load_in_4bit --bnb_4bit_quant_type nf4 and --load_in_8bit: LoRA adapters like the f32 run's, losses close", async () => {
  const f32 = join(dir, "f32"), nf4 = join(dir, "nf4"), i8 = join(dir, "int8");
  assert.equal((await train(f32, [])).code, 0);
  const r4 = await withStdout(() => train(nf4, ["--load_in_4bit", "--bnb_4bit_quant_type", "nf4", "--bnb_4bit_use_double_quant"]));
  assert.equal(r4.value.code, 0, r4.value.stderr);
  assert.equal((await train(i8, ["--load_in_8bit"])).code, 0);
  const keys = (d: string) => [...loadSafetensors(join(d, "adapter_model.safetensors")).keys()].sort();
  assert.deepEqual(keys(nf4), keys(f32));
  assert.deepEqual(keys(i8), keys(f32));
  const cfg = (d: string) => JSON.parse(readFileSync(join(d, "adapter_config.json"), "utf8"));
  assert.deepEqual(cfg(nf4), cfg(f32));
  const lf = loggedLosses(f32), l4 = loggedLosses(nf4), l8 = loggedLosses(i8);
  assert.equal(l4.length, lf.length);
  lf.forEach((l, i) => {
    assert.ok(Math.abs(l4[i] - l) < 0.05, `nf4 step ${i}: ${l4[i]} vs ${l}`);
    assert.ok(Math.abs(l8[i] - l) < 0.01, `int8 step ${i}: ${l8[i]} vs ${l}`);
  });
});

test("merge --load_in_4bit: prints the re-quantisation error per module and writes a full-precision model", async () => {
  const adapter = join(dir, "nf4"), merged = join(dir, "merged");
  if (!existsSync(join(adapter, "adapter_model.safetensors"))) assert.equal((await train(adapter, ["--load_in_4bit", "--bnb_4bit_quant_type", "nf4"])).code, 0);
  const r = await withStdout(() => cliInProcess(["merge", "-m", BERT_TINY, "--adapter", adapter, "--load_in_4bit", "--bnb_4bit_quant_type", "nf4", "--output_dir", merged]));
  assert.equal(r.value.code, 0, r.value.stderr);
  assert.match(r.out, /base was quantised \(nf4\)/);
  assert.match(r.out, /bert\.encoder\.layer\.0\.attention\.self\.query: max abs [0-9.e+-]+, relative Frobenius [0-9.e+-]+/);
  assert.match(r.out, /worst: .* written in full precision/);
  const w = loadSafetensors(join(merged, "model.safetensors"));
  const q = w.get("bert.encoder.layer.0.attention.self.query.weight")!;
  assert.equal(q.dtype, "f32");
  assert.deepEqual(q.shape, [32, 32]);
});

test("bad quantisation flags are usage errors naming the flag", async () => {
  const both = await train(join(dir, "bad1"), ["--load_in_4bit", "--load_in_8bit"]);
  assert.notEqual(both.code, 0);
  assert.match(both.stderr, /--load_in_4bit and --load_in_8bit are both true/);
  const lone = await train(join(dir, "bad2"), ["--bnb_4bit_quant_type", "nf4"]);
  assert.notEqual(lone.code, 0);
  assert.match(lone.stderr, /--bnb_4bit_quant_type needs --load_in_4bit or --load_in_8bit/);
  const dtype = await train(join(dir, "bad3"), ["--load_in_4bit", "--bnb_4bit_quant_type", "int4"]);
  assert.notEqual(dtype.code, 0);
  assert.match(dtype.stderr, /bnb_4bit_quant_type/);
});
