// Bad adapters and names: shapes that do not fit the base, escaping adapter names and folders,
// corrupt or foreign files — each a typed error that names what was found and what was expected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync, statSync, renameSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, FormatError, PeftError, ShapeError } from "../../src/tensor/errors.js";
import { saveSafetensors } from "../../src/io/safetensors.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { PeftModel, getPeftModel } from "../../src/peft/peft_model.js";
import { LoraConfig } from "../../src/peft/lora/index.js";
import { GOLDEN, loadBert, tmp } from "./helpers.js";

const ADAPTER = join(GOLDEN, "bert-lora", "adapter");
function copyAdapter(): string {
  const d = join(tmp(), "adapter");
  cpSync(ADAPTER, d, { recursive: true });
  return d;
}
function editConfig(dir: string, f: (c: Record<string, unknown>) => void): void {
  const p = join(dir, "adapter_config.json");
  const c = JSON.parse(readFileSync(p, "utf8"));
  f(c);
  writeFileSync(p, JSON.stringify(c));
}

test("an adapter whose shapes do not fit the config/base names the tensor and both shapes", async () => {
  const d = copyAdapter();
  editConfig(d, (c) => (c.r = 8));
  await assert.rejects(PeftModel.fromPretrained(await loadBert(), d), (e: Error) =>
    e instanceof ShapeError && /base_model\.model\.bert\.encoder\.layer\.\d\.attention\.self\.(query|value)\.lora_A\.weight/.test(e.message) && /\[4,32\]/.test(e.message) && /\[8,32\]/.test(e.message));
});

test("escaping adapter names and folders are rejected", async () => {
  const pm = getPeftModel(await loadBert(), new LoraConfig({ targetModules: ["query"], taskType: "SEQ_CLS" }));
  for (const bad of ["../evil", "a/b", "..", "", "x.y"]) {
    assert.throws(() => pm.addAdapter(bad, new LoraConfig({ targetModules: ["value"] })), (e: Error) => e instanceof PeftError && /invalid adapter name/.test(e.message), bad);
  }
  await assert.rejects(PeftModel.fromPretrained(await loadBert(), ADAPTER, { adapterName: "../up" }), /invalid adapter name/);
  await assert.rejects(pm.savePretrained(tmp(), { selectedAdapters: ["../x"] }), /does not exist/);
  // a subfolder that is a symlink leading outside the save directory
  pm.addAdapter("other", new LoraConfig({ targetModules: ["value"] }));
  const root = tmp(), outside = tmp();
  symlinkSync(outside, join(root, "other"));
  await assert.rejects(pm.savePretrained(root), (e: Error) => e instanceof PeftError && /outside/.test(e.message));
});

test("corrupt, truncated or foreign adapter files are FormatErrors", async () => {
  const d = copyAdapter();
  const f = join(d, "adapter_model.safetensors");
  truncateSync(f, statSync(f).size - 10);
  await assert.rejects(PeftModel.fromPretrained(await loadBert(), d), FormatError);
  writeFileSync(f, Buffer.from([1, 2, 3]));
  await assert.rejects(PeftModel.fromPretrained(await loadBert(), d), FormatError);
  const d2 = copyAdapter();
  saveSafetensors(join(d2, "adapter_model.safetensors"), new Map([["base_model.model.bert.nonsense.lora_A.weight", Tensor.zeros([4, 32])]]));
  await assert.rejects(PeftModel.fromPretrained(await loadBert(), d2), (e: Error) => e instanceof FormatError && /unexpected tensor\(s\) 'base_model\.model\.bert\.nonsense\.lora_A\.weight'/.test(e.message));
  const d3 = copyAdapter();
  renameSync(join(d3, "adapter_model.safetensors"), join(d3, "adapter_model.bin"));
  await assert.rejects(PeftModel.fromPretrained(await loadBert(), d3), (e: Error) => e instanceof FormatError && /adapter_model\.bin/.test(e.message));
  const d4 = copyAdapter();
  editConfig(d4, (c) => delete c.peft_type);
  await assert.rejects(PeftModel.fromPretrained(await loadBert(), d4), (e: Error) => e instanceof ConfigError && /missing 'peft_type'/.test(e.message));
  const d5 = copyAdapter();
  editConfig(d5, (c) => (c.target_modules = ["nope"]));
  await assert.rejects(PeftModel.fromPretrained(await loadBert(), d5), (e: Error) => e instanceof ConfigError && /not found.*Available module names/.test(e.message));
  rmSync(join(d5, "adapter_config.json"));
  await assert.rejects(PeftModel.fromPretrained(await loadBert(), d5), ConfigError);
});

test("a failed loadAdapter leaves the model as it was", async () => {
  const pm = await PeftModel.fromPretrained(await loadBert(), ADAPTER);
  const before = pm.stateDict().size;
  const d = copyAdapter();
  editConfig(d, (c) => (c.r = 2));
  assert.throws(() => pm.loadAdapter(d, "other"), ShapeError);
  assert.deepEqual([...pm.peftConfig.keys()], ["default"]);
  assert.equal(pm.stateDict().size, before);
});
