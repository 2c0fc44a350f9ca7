// Which modules PEFT adapts and which it wraps for modules_to_save, for target_modules (regex string,
// list: exact or ".name" suffix), exclude_modules, layers_to_transform/layers_pattern and
// modules_to_save (plain suffix, no dot: "classifier" catches "pre_classifier"): each case's expected
// names were recorded from PEFT 0.21 (test/fixtures/interop/matching.json, scripts/fixtures/make_interop.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { getPeftModel } from "../../src/peft/peft_model.js";
import { LoraConfig } from "../../src/peft/lora/index.js";
import { BaseTunerLayer } from "../../src/peft/tuner_layer.js";
import { modulesToSaveWrappers } from "../../src/peft/modules_to_save.js";
import { snakeToCamel } from "../../src/peft/config.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { matchTarget, type TargetSpec } from "../../src/peft/target_matching.js";

const FIX = join(import.meta.dirname, "..", "fixtures", "interop");
const MATCHING = JSON.parse(readFileSync(join(FIX, "matching.json"), "utf8"));

interface MatchCase {
  model: "distilbert" | "bert" | "roberta";
  adapted?: string[];
  wrapped?: string[];
  config_modules_to_save?: string[] | null;
  error?: string;
  [k: string]: unknown;
}

function optionsOf(c: MatchCase): Record<string, unknown> {
  const opts: Record<string, unknown> = { r: 2 };
  for (const [k, v] of Object.entries(c)) {
    if (["model", "adapted", "wrapped", "config_modules_to_save", "error"].includes(k)) continue;
    opts[snakeToCamel(k)] = v;
  }
  return opts;
}

for (const c of MATCHING.cases as MatchCase[]) {
  const label = `${c.model} ${JSON.stringify(optionsOf(c))}`;
  test(`matching as PEFT: ${label}`, async () => {
    const model = await AutoModelForSequenceClassification.fromPretrained(join(FIX, `${c.model}-base`));
    const make = () => getPeftModel(model, new LoraConfig(optionsOf(c)), "default", { warn: () => {} });
    if (c.error) {
      // PEFT raises here (NoMatchingPeftModuleError / TypeError); we raise a ConfigError
      assert.throws(make, ConfigError, `PEFT: ${c.error}`);
      return;
    }
    const pm = make();
    const inner = pm.getBaseModel();
    const adapted = inner.namedModules().filter(([, m]) => m instanceof BaseTunerLayer).map(([k]) => k).sort();
    assert.deepEqual(adapted, c.adapted, "adapted modules");
    assert.deepEqual(modulesToSaveWrappers(inner).map(([k]) => k).sort(), c.wrapped, "modules_to_save wrappers");
    assert.deepEqual((pm.activeConfig as LoraConfig).modulesToSave, c.config_modules_to_save, "modules_to_save in the config");
  });
}

test("the PEFT error cases fail with messages that say why", async () => {
  const distil = () => AutoModelForSequenceClassification.fromPretrained(join(FIX, "distilbert-base"));
  const m1 = await distil();
  assert.throws(() => getPeftModel(m1, new LoraConfig({ targetModules: "q_lin" })), {
    name: "ConfigError", message: /^Target modules "q_lin" not found in the base model\. Available module names: .*q_lin/,
  });
  const m2 = await distil();
  assert.throws(() => getPeftModel(m2, new LoraConfig({ taskType: "SEQ_CLS", targetModules: "all-linear" }), "default", { warn: () => {} }), {
    name: "ConfigError",
    message: "modules_to_save [\"classifier\",\"score\"] matches 'pre_classifier', which is an adapter layer (LoraLayer); a module cannot be both adapted and saved whole: remove it from target_modules or modules_to_save",
  });
  const m3 = await distil();
  assert.throws(() => getPeftModel(m3, new LoraConfig({ targetModules: ["q_lin"], layersToTransform: [0], layersPattern: "transformer" })), {
    name: "ConfigError", message: 'layers_pattern "transformer" names no numbered layer list in the model, so layers_to_transform [0] selects nothing',
  });
});

test("layers_to_transform out of range: ConfigError naming the field, the value and the model's layer count", async () => {
  const model = await AutoModelForSequenceClassification.fromPretrained(join(FIX, "distilbert-base"));
  assert.throws(() => getPeftModel(model, new LoraConfig({ targetModules: ["q_lin"], layersToTransform: [2, 5] })), {
    name: "ConfigError", message: "layers_to_transform [2,5] is out of range: index 2, 5 is not a layer of the model, which has 2 layers (0..1)",
  });
  assert.throws(() => getPeftModel(model, new LoraConfig({ targetModules: ["q_lin"], layersToTransform: 3, layersPattern: "layer" })), {
    name: "ConfigError", message: "layers_to_transform 3 is out of range: index 3 is not a layer of the model, which has 2 layers (0..1)",
  });
});

test("modules_to_save naming a module inside an adapter layer is a ConfigError (PEFT: ValueError), not a wrapped LoRA slot", async () => {
  const model = await AutoModelForSequenceClassification.fromPretrained(join(FIX, "bert-base"));
  assert.throws(() => getPeftModel(model, new LoraConfig({ targetModules: ["query"], modulesToSave: ["default"] })), {
    name: "ConfigError", message: /matches 'bert\.encoder\.layer\.0\.attention\.self\.query\.lora_A\.default', which is inside the adapter layer 'bert\.encoder\.layer\.0\.attention\.self\.query'/,
  });
});

test("matchTarget agrees with PEFT's check_target_module_exists on nested layer indices, key-start patterns and regex entries", () => {
  for (const { spec, results } of MATCHING.key_cases as { spec: Record<string, unknown>; results: Record<string, boolean | "excluded"> }[]) {
    const s: TargetSpec = { targetModules: null, excludeModules: null, layersToTransform: null, layersPattern: null, modulesToSave: null };
    for (const [k, v] of Object.entries(spec)) (s as unknown as Record<string, unknown>)[snakeToCamel(k)] = v;
    for (const [key, want] of Object.entries(results)) assert.equal(matchTarget(s, key), want, `${JSON.stringify(spec)} on '${key}'`);
  }
});
