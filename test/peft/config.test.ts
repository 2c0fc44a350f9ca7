// adapter_config.json reading/writing: PEFT field names and defaults, Python's JSON text,
// unknown fields, missing/unknown peft_type, round trips for every golden config.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, FormatError } from "../../src/tensor/errors.js";
import { configFromJSON, loadPeftConfig, pythonJson } from "../../src/peft/config.js";
import "../../src/peft/methods.js";
import { LoraConfig } from "../../src/peft/lora/index.js";
import { IA3Config } from "../../src/peft/ia3/index.js";
import { PrefixTuningConfig, PromptTuningConfig } from "../../src/peft/prompt/index.js";
import { GOLDEN, tmp } from "./helpers.js";

const GOLDEN_CONFIGS = [
  "bert-lora/adapter", "bert-lora-rslora-dora/adapter", "bert-lora-rslora-dora/rslora_only/adapter", "bert-lora-all-linear/adapter",
  "bert-ia3/adapter", "bert-prompt-tuning/adapter", "bert-prefix-tuning/adapter", "bert-multi-adapter/adapters",
  "bert-multi-adapter/adapters/other", "gpt2-tiny-random/lora/adapter", "llama-tiny-random/lora/adapter",
];

test("every golden adapter_config.json reads without warnings and writes back byte for byte", () => {
  for (const rel of GOLDEN_CONFIGS) {
    const warnings: string[] = [];
    const text = readFileSync(join(GOLDEN, rel, "adapter_config.json"), "utf8");
    const cfg = loadPeftConfig(join(GOLDEN, rel), (w) => warnings.push(w));
    assert.deepEqual(warnings, [], rel);
    assert.equal(cfg.toJsonString(), text, rel);
  }
});

test("LoraConfig: camelCase options, PEFT defaults and snake_case JSON keys", () => {
  const c = new LoraConfig({ r: 8, loraAlpha: 16, targetModules: ["query", "value"], taskType: "SEQ_CLS" });
  const j = c.toJSON();
  assert.equal(j.peft_type, "LORA");
  assert.equal(j.lora_alpha, 16);
  assert.equal(j.lora_dropout, 0);
  assert.equal(j.init_lora_weights, true);
  assert.equal(j.bias, "none");
  assert.deepEqual(j.rank_pattern, {});
  assert.equal(j.megatron_core, "megatron.core");
  assert.equal(j.qalora_group_size, 16);
  assert.match(c.toJsonString(), /"lora_dropout": 0\.0,/);
  const golden = JSON.parse(readFileSync(join(GOLDEN, "bert-lora/adapter/adapter_config.json"), "utf8"));
  assert.deepEqual(Object.keys(j).sort(), Object.keys(golden).sort());
  assert.deepEqual(Object.keys(new IA3Config().toJSON()).sort(), Object.keys(JSON.parse(readFileSync(join(GOLDEN, "bert-ia3/adapter/adapter_config.json"), "utf8"))).sort());
  assert.deepEqual(Object.keys(new PromptTuningConfig({ numVirtualTokens: 2 }).toJSON()).sort(), Object.keys(JSON.parse(readFileSync(join(GOLDEN, "bert-prompt-tuning/adapter/adapter_config.json"), "utf8"))).sort());
  assert.deepEqual(Object.keys(new PrefixTuningConfig({ numVirtualTokens: 2 }).toJSON()).sort(), Object.keys(JSON.parse(readFileSync(join(GOLDEN, "bert-prefix-tuning/adapter/adapter_config.json"), "utf8"))).sort());
});

test("Python json.dumps formatting: floats, exponents, non-ASCII, empty containers, sorted keys", () => {
  const floats = new Set(["f"]);
  assert.equal(pythonJson({ f: 0 }, floats), '{\n  "f": 0.0\n}');
  assert.equal(pythonJson({ f: 1e-8 }, floats), '{\n  "f": 1e-08\n}');
  assert.equal(pythonJson({ f: 0.00001 }, floats), '{\n  "f": 1e-05\n}');
  assert.equal(pythonJson({ f: 0.0001 }, floats), '{\n  "f": 0.0001\n}');
  assert.equal(pythonJson({ f: 0.1 }, floats), '{\n  "f": 0.1\n}');
  assert.equal(pythonJson({ b: [], a: {}, c: "é" }), '{\n  "a": {},\n  "b": [],\n  "c": "\\u00e9"\n}');
  assert.throws(() => pythonJson({ f: NaN }, floats), ConfigError);
});

test("unknown fields are ignored with a warning; bad options and values are ConfigErrors", () => {
  const warnings: string[] = [];
  const cfg = configFromJSON({ peft_type: "LORA", r: 2, some_future_field: 1, lora_alpha: 4 }, "x.json", (w) => warnings.push(w));
  assert.equal((cfg as LoraConfig).r, 2);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /some_future_field/);
  assert.throws(() => configFromJSON({ r: 2 }, "x.json"), (e: Error) => e instanceof ConfigError && /missing 'peft_type'/.test(e.message));
  assert.throws(() => configFromJSON({ peft_type: "FOO" }, "x.json"), (e: Error) => e instanceof ConfigError && /'FOO' is not supported.*LORA/.test(e.message));
  assert.throws(() => configFromJSON({ peft_type: "LORA", r: 0 }, "x.json"), /r must be a positive integer/);
  assert.throws(() => new LoraConfig({ r: 4, lorAlpha: 3 } as never), /unknown option 'lorAlpha'/);
  assert.throws(() => new LoraConfig({ bias: "some" as never }), /bias must be one of/);
  assert.throws(() => new LoraConfig({ useQalora: true }), /use_qalora=true is not supported/);
  assert.throws(() => new IA3Config({ targetModules: ["key"], feedforwardModules: ["output.dense"] }), /subset of target_modules/);
  assert.throws(() => new PromptTuningConfig({}), /num_virtual_tokens is required/);
});

test("loadPeftConfig: missing file is a ConfigError, invalid JSON a FormatError", () => {
  const d = tmp();
  assert.throws(() => loadPeftConfig(d), ConfigError);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "adapter_config.json"), "{ not json");
  assert.throws(() => loadPeftConfig(d), FormatError);
});
