// adapter_config.json from other PEFT versions (test/fixtures/interop/config_versions, see its
// SOURCES.md) and typed fields: a value of the wrong JSON type is a ConfigError naming the file,
// the field and the expected type, not a JS truthiness guess.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, cpSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { PeftModel, getPeftModel } from "../../src/peft/peft_model.js";
import { configFromJSON, loadPeftConfig } from "../../src/peft/config.js";
import { LoraConfig } from "../../src/peft/lora/index.js";
import { IA3Config } from "../../src/peft/ia3/index.js";
import { AdaLoraConfig } from "../../src/peft/adalora/index.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { assertClose, tmp } from "./helpers.js";

const FIX = join(import.meta.dirname, "..", "fixtures", "interop");
const VERSIONS = join(FIX, "config_versions");
const INPUTS = { inputIds: [[5, 17, 9, 33, 21, 8], [12, 40, 7, 3, 29, 44]], attentionMask: [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]] };

/** An adapter folder with `configFile` as its adapter_config.json and the weights of fixture `weightsOf`. */
function adapterWith(configFile: string, weightsOf: string): string {
  const dir = tmp("peft-version-");
  copyFileSync(join(VERSIONS, configFile), join(dir, "adapter_config.json"));
  copyFileSync(join(FIX, weightsOf, "adapter_model.safetensors"), join(dir, "adapter_model.safetensors"));
  return dir;
}

const OLD: [string, string, string][] = [
  ["lora-0.6.2.json", "roberta-lora", "roberta"],
  ["lora-0.10.0.json", "roberta-lora", "roberta"],
  ["lora-0.14.0.json", "roberta-lora", "roberta"],
  ["ia3-0.6.2.json", "roberta-ia3", "roberta"],
  ["adalora-0.6.2.json", "bert-adalora", "bert"],
];
for (const [file, weights, kind] of OLD) {
  test(`${file}: an older PEFT's key set loads without warnings and, with PEFT's weights, gives PEFT's logits`, async () => {
    const dir = adapterWith(file, weights);
    const warnings: string[] = [];
    const pm = await PeftModel.fromPretrained(await AutoModelForSequenceClassification.fromPretrained(join(FIX, `${kind}-base`)), dir, { warn: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
    const expected = JSON.parse(readFileSync(join(FIX, weights, "expected.json"), "utf8")).logits;
    assertClose(noGrad(() => pm.forward(INPUTS)).logits!, expected, `${file} logits`);
  });
}

test("older files: missing fields take PEFT 0.21's defaults; AdaLoRA 0.6's deltaT is read", () => {
  const lora = loadPeftConfig(adapterWith("lora-0.6.2.json", "roberta-lora"), () => assert.fail("no warning expected")) as LoraConfig;
  assert.ok(lora instanceof LoraConfig);
  assert.equal(lora.useDora, false);
  assert.equal(lora.useRslora, false);
  assert.equal(lora.excludeModules, null);
  assert.deepEqual(lora.modulesToSave, ["classifier", "score"]);
  const ia3 = loadPeftConfig(adapterWith("ia3-0.6.2.json", "roberta-ia3"), () => assert.fail("no warning expected")) as IA3Config;
  assert.deepEqual(ia3.feedforwardModules, ["output.dense"]);
  const ada = loadPeftConfig(adapterWith("adalora-0.6.2.json", "bert-adalora"), () => assert.fail("no warning expected")) as AdaLoraConfig;
  assert.equal(ada.deltaT, 3);
  assert.equal(ada.totalStep, 20);
});

test("a newer PEFT's file: unknown fields are ignored with one warning naming them, the adapter still gives PEFT's logits", async () => {
  const dir = adapterWith("lora-0.23.0.dev0.json", "roberta-lora");
  const warnings: string[] = [];
  const pm = await PeftModel.fromPretrained(await AutoModelForSequenceClassification.fromPretrained(join(FIX, "roberta-base")), dir, { warn: (m) => warnings.push(m) });
  assert.deepEqual(warnings, [`${join(dir, "adapter_config.json")}: ignoring unknown LORA config field(s): another_future_config, some_future_option`]);
  assert.equal(pm.activeConfig.peftVersion, "0.23.0.dev0");
  const expected = JSON.parse(readFileSync(join(FIX, "roberta-lora", "expected.json"), "utf8")).logits;
  assertClose(noGrad(() => pm.forward(INPUTS)).logits!, expected, "logits");
});

test("typed fields: a wrong JSON type is a ConfigError naming the file, the field and the expected type", () => {
  const good = JSON.parse(readFileSync(join(FIX, "roberta-lora", "adapter_config.json"), "utf8"));
  const cases: [Record<string, unknown>, string][] = [
    [{ use_dora: [] }, "use_dora must be a boolean (true or false), got []"],
    [{ use_rslora: "false" }, 'use_rslora must be a boolean (true or false), got "false"'],
    [{ inference_mode: 1 }, "inference_mode must be a boolean (true or false), got 1"],
    [{ lora_alpha: "16" }, 'lora_alpha must be a number, got "16"'],
    [{ modules_to_save: "classifier" }, 'modules_to_save must be null or a list of module names (strings), got "classifier"'],
    [{ modules_to_save: ["classifier", 3] }, 'modules_to_save must be null or a list of module names (strings), got ["classifier",3]'],
    [{ layers_to_transform: "0" }, 'layers_to_transform must be null, an integer or a list of integers, got "0"'],
    [{ layers_to_transform: [0, 1.5] }, "layers_to_transform must be null, an integer or a list of integers, got [0,1.5]"],
    [{ layers_pattern: 3 }, "layers_pattern must be null, a string or a list of strings, got 3"],
    [{ rank_pattern: [] }, "rank_pattern must be null or an object, got []"],
    [{ base_model_name_or_path: 7 }, "base_model_name_or_path must be null or a string, got 7"],
  ];
  for (const [patch, msg] of cases) {
    assert.throws(() => configFromJSON({ ...good, ...patch }, "cfg/adapter_config.json"), { name: "ConfigError", message: `cfg/adapter_config.json: LoraConfig: ${msg}` }, JSON.stringify(patch));
  }
  // the same checks apply to configs built in code, and to every method's fields
  assert.throws(() => new LoraConfig({ useDora: [] as unknown as boolean }), { name: "ConfigError", message: "LoraConfig: use_dora must be a boolean (true or false), got []" });
  assert.throws(() => new IA3Config({ fanInFanOut: 0 as unknown as boolean }), { name: "ConfigError", message: "IA3Config: fan_in_fan_out must be a boolean (true or false), got 0" });
  assert.throws(() => new AdaLoraConfig({ totalStep: 10, deltaT: "2" as unknown as number }), { name: "ConfigError", message: 'AdaLoraConfig: deltaT must be a number, got "2"' });
});

test("modules_to_save as a string fails as a ConfigError before anything is wrapped (no TypeError from push)", async () => {
  const dir = tmp("peft-mts-string-");
  cpSync(join(FIX, "roberta-lora"), dir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
  writeFileSync(join(dir, "adapter_config.json"), JSON.stringify({ ...cfg, modules_to_save: "classifier" }));
  const model = await AutoModelForSequenceClassification.fromPretrained(join(FIX, "roberta-base"));
  await assert.rejects(PeftModel.fromPretrained(model, dir), {
    name: "ConfigError", message: `${join(dir, "adapter_config.json")}: LoraConfig: modules_to_save must be null or a list of module names (strings), got "classifier"`,
  });
  assert.throws(() => getPeftModel(model, new LoraConfig({ taskType: "SEQ_CLS", modulesToSave: "classifier" as unknown as string[] })), ConfigError);
});

test("LoraConfig's layer options checked as PEFT's __post_init__ (layers_to_transform 0 is a value, not 'unset')", () => {
  assert.equal(new LoraConfig({ targetModules: ["q_lin"], layersToTransform: 0, layersPattern: "layer" }).layersToTransform, 0);
  assert.throws(() => new LoraConfig({ targetModules: ".*q_lin", layersToTransform: [0] }), {
    name: "ConfigError", message: "LoraConfig: layers_to_transform cannot be used when target_modules is a str (regex)",
  });
  assert.throws(() => new LoraConfig({ targetModules: ["q_lin"], layersPattern: "layer" }), {
    name: "ConfigError", message: "LoraConfig: when layers_pattern is specified, layers_to_transform must also be specified",
  });
  assert.throws(() => new AdaLoraConfig({ totalStep: 10, targetModules: ["query"], layersPattern: "layer" }), {
    name: "ConfigError", message: "LoraConfig: when layers_pattern is specified, layers_to_transform must also be specified",
  });
});
