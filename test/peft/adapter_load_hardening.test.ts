// Adapter folders that read well but do not fit the model (found by the adapter_load fuzz target):
// each is a typed error naming what is wrong, never a RangeError/TypeError/SyntaxError.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { PeftModel } from "../../src/peft/index.js";
import { patternKey } from "../../src/peft/target_matching.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { ConfigError, ShapeError } from "../../src/tensor/errors.js";

const GOLDEN = join(import.meta.dirname, "..", "..", "..", "shared", "golden");
const BASE = join(GOLDEN, "bert-tiny-random");

/** A copy of a golden adapter folder with its adapter_config.json edited. */
function adapterWith(name: string, edit: (c: Record<string, unknown>) => void): string {
  const src = join(GOLDEN, name, "adapter"), dir = mkdtempSync(join(tmpdir(), "peft-ts-adapter-"));
  const cfg = JSON.parse(readFileSync(join(src, "adapter_config.json"), "utf8"));
  edit(cfg);
  writeFileSync(join(dir, "adapter_config.json"), JSON.stringify(cfg));
  copyFileSync(join(src, "adapter_model.safetensors"), join(dir, "adapter_model.safetensors"));
  return dir;
}
const load = async (dir: string) => PeftModel.fromPretrained(await AutoModelForSequenceClassification.fromPretrained(BASE, { log: () => {} }), dir, { warn: () => {} });

test("a tensor too large for the runtime is a ShapeError with its size, not a RangeError", () => {
  assert.throws(() => Tensor.zeros([2 ** 20, 2 ** 20]), (e: Error) => e instanceof ShapeError && /^cannot allocate a f32 tensor of 1099511627776 elements \(4096\.0 GiB\)/.test(e.message));
  assert.throws(() => Tensor.empty([2 ** 20, 2 ** 20]), ShapeError);
});

test("prefix tuning whose num_layers / token_dim differ from the model's is a ConfigError naming both", async () => {
  await assert.rejects(load(adapterWith("bert-prefix-tuning", (c) => { c.num_layers = 5; })),
    (e: Error) => e instanceof ConfigError && e.message === "PREFIX_TUNING: num_layers 5 differs from the model's 2 layers");
  await assert.rejects(load(adapterWith("bert-prefix-tuning", (c) => { c.token_dim = 2 ** 30; })),
    (e: Error) => e instanceof ConfigError && e.message === `PREFIX_TUNING: token_dim ${2 ** 30} differs from the model's hidden size 32`);
  await assert.rejects(load(adapterWith("bert-prompt-tuning", (c) => { c.num_virtual_tokens = 2 ** 31 - 1; })),
    (e: Error) => e instanceof ShapeError && /cannot allocate a f32 tensor/.test(e.message));
});

test("rank_pattern / alpha_pattern: null is no pattern, a key that is not a regular expression is a ConfigError", async () => {
  assert.equal(patternKey(null, "bert.encoder.layer.0.attention.self.query"), null);
  assert.throws(() => patternKey({ "query(": 4 }, "bert.encoder.layer.0.attention.self.query"),
    (e: Error) => e instanceof ConfigError && /^rank_pattern\/alpha_pattern key "query\(" is not a valid regular expression/.test(e.message));
  const ok = await load(adapterWith("bert-lora", (c) => { c.alpha_pattern = null; }));
  assert.ok(ok instanceof PeftModel);
});
