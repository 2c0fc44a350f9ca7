// Interop with HF PEFT on SEQ_CLS heads and GPT-2 (issue #16), against adapters written by PEFT 0.21
// (scripts/fixtures/make_interop.py → test/fixtures/interop). Each case both ways: PEFT's adapter
// loads here and gives PEFT's logits; the adapter we write for the same config has PEFT's tensor
// names and PEFT's adapter_config.json (every field, same values), and reloads to our own logits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { loadSafetensors, readSafetensorsHeader } from "../../src/io/safetensors.js";
import { AutoModelForCausalLM, AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { PeftModel, getPeftModel } from "../../src/peft/peft_model.js";
import { configFromJSON, type PeftConfig } from "../../src/peft/config.js";
import { LoraConfig } from "../../src/peft/lora/index.js";
import { IA3Config } from "../../src/peft/ia3/index.js";
import { AdaLoraConfig } from "../../src/peft/adalora/index.js";
import { LoHaConfig } from "../../src/peft/loha/index.js";
import { PromptTuningConfig } from "../../src/peft/prompt/index.js";
import { GOLDEN, assertClose, perturbTrainable, tmp } from "./helpers.js";

const FIX = join(import.meta.dirname, "..", "fixtures", "interop");
const INPUTS = { inputIds: [[5, 17, 9, 33, 21, 8], [12, 40, 7, 3, 29, 44]], attentionMask: [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]] };
const quiet = () => {};

function json(path: string): any {
  return JSON.parse(readFileSync(path, "utf8"));
}
function savedKeys(dir: string): string[] {
  return [...readSafetensorsHeader(join(dir, "adapter_model.safetensors")).tensors.keys()].sort();
}
async function base(kind: "roberta" | "distilbert" | "bert") {
  return AutoModelForSequenceClassification.fromPretrained(join(FIX, `${kind}-base`));
}
function readBias(dir: string) {
  return loadSafetensors(join(dir, "adapter_model.safetensors")).get("base_model.model.classifier.bias")!;
}
function logitsOf(pm: PeftModel): number[] {
  return Array.from(noGrad(() => pm.forward(INPUTS)).logits!.f32());
}

/** Every field of PEFT's adapter_config.json with the same value (lists that PEFT builds from sets compared as sets). */
function assertSameConfig(oursDir: string, peftDir: string, ignore: string[] = ["base_model_name_or_path"]): void {
  const ours = json(join(oursDir, "adapter_config.json")), theirs = json(join(peftDir, "adapter_config.json"));
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(theirs).sort(), "adapter_config.json field names");
  for (const k of Object.keys(theirs)) {
    if (ignore.includes(k)) continue;
    const norm = (v: unknown) => (k === "target_modules" && Array.isArray(v) ? [...v].sort() : v);
    assert.deepEqual(norm(ours[k]), norm(theirs[k]), `adapter_config.json field ${k}`);
  }
}

interface Case {
  name: string;
  kind: "roberta" | "distilbert" | "bert";
  config: () => PeftConfig;
}
const CASES: Case[] = [
  { name: "roberta-lora", kind: "roberta", config: () => new LoraConfig({ taskType: "SEQ_CLS", r: 2, loraAlpha: 4, initLoraWeights: false }) },
  { name: "roberta-ia3", kind: "roberta", config: () => new IA3Config({ taskType: "SEQ_CLS", initIa3Weights: false }) },
  { name: "roberta-loha", kind: "roberta", config: () => new LoHaConfig({ taskType: "SEQ_CLS", targetModules: ["query", "value"], r: 2, alpha: 4, initWeights: false }) },
  { name: "roberta-prompt-tuning", kind: "roberta", config: () => new PromptTuningConfig({ taskType: "SEQ_CLS", numVirtualTokens: 3 }) },
  { name: "distilbert-lora", kind: "distilbert", config: () => new LoraConfig({ taskType: "SEQ_CLS", targetModules: ["q_lin", "v_lin"], r: 2, loraAlpha: 4, initLoraWeights: false }) },
  { name: "bert-lora-bias-all", kind: "bert", config: () => new LoraConfig({ taskType: "SEQ_CLS", r: 2, loraAlpha: 4, bias: "all", initLoraWeights: false }) },
  { name: "bert-lora-bias-lora_only", kind: "bert", config: () => new LoraConfig({ taskType: "SEQ_CLS", r: 2, loraAlpha: 4, bias: "lora_only", initLoraWeights: false }) },
  {
    name: "bert-adalora", kind: "bert",
    config: () => new AdaLoraConfig({ taskType: "SEQ_CLS", initR: 4, targetR: 2, tinit: 2, tfinal: 3, deltaT: 3, totalStep: 20, loraAlpha: 4 }),
  },
];

for (const c of CASES) {
  test(`${c.name}: PEFT's adapter loads (every saved tensor used) and gives PEFT's logits`, async () => {
    const dir = join(FIX, c.name);
    const warnings: string[] = [];
    const pm = await PeftModel.fromPretrained(await base(c.kind), dir, { warn: (m) => warnings.push(m) });
    assert.deepEqual(warnings, [], "no missing or unknown keys");
    assertClose(logitsOf(pm), json(join(dir, "expected.json")).logits, `${c.name} logits`);
  });

  test(`${c.name}: the adapter we write has PEFT's tensor names and adapter_config.json, and reloads to our logits`, async () => {
    const pm = getPeftModel(await base(c.kind), c.config(), "default", { warn: quiet });
    // move every trainable tensor off its initial value so that a dropped tensor shows in the logits
    perturbTrainable(pm);
    pm.eval();
    const ours = logitsOf(pm);
    const out = tmp("interop-");
    await pm.savePretrained(out);
    const peftDir = join(FIX, c.name);
    assert.deepEqual(savedKeys(out), json(join(peftDir, "expected.json")).saved_keys, "saved tensor names");
    assertSameConfig(out, peftDir);
    const warnings: string[] = [];
    const back = await PeftModel.fromPretrained(await base(c.kind), out, { warn: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
    assertClose(logitsOf(back), ours, `${c.name} reloaded logits`, { abs: 1e-6, rel: 1e-6 });
  });
}

test("distilbert SEQ_CLS: modules_to_save 'classifier' also wraps pre_classifier (PEFT's endswith), so both train", async () => {
  const pm = getPeftModel(await base("distilbert"), CASES.find((c) => c.name === "distilbert-lora")!.config(), "default", { warn: quiet });
  const trainable = pm.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n).filter((n) => !n.includes("lora_"));
  assert.deepEqual(trainable.sort(), [
    "base_model.model.classifier.modules_to_save.default.bias", "base_model.model.classifier.modules_to_save.default.weight",
    "base_model.model.pre_classifier.modules_to_save.default.bias", "base_model.model.pre_classifier.modules_to_save.default.weight",
  ]);
});

test("bias='all' on SEQ_CLS: PEFT's classifier.modules_to_save.bias and classifier.original_module.bias load into the copy and the original", async () => {
  const dir = join(FIX, "bert-lora-bias-all");
  const pm = await PeftModel.fromPretrained(await base("bert"), dir, { warn: quiet });
  const saved = savedKeys(dir);
  assert.ok(saved.includes("base_model.model.classifier.modules_to_save.bias") && saved.includes("base_model.model.classifier.original_module.bias"));
  const params = new Map(pm.namedParameters());
  const plain = await base("bert");
  // the original head keeps the base model's bias; disabling the adapter gives the base logits
  assertClose(params.get("base_model.model.classifier.original_module.bias")!, plain.stateDict().get("classifier.bias")!, "original_module.bias", { abs: 0, rel: 0 });
  assertClose(params.get("base_model.model.classifier.modules_to_save.default.bias")!, readBias(dir), "the copy's bias", { abs: 0, rel: 0 });
});

test("AdaLoRA: adapter_config.json spells deltaT as PEFT does; both spellings are read, PEFT's wins", async () => {
  const peftCfg = json(join(FIX, "bert-adalora", "adapter_config.json"));
  assert.equal(peftCfg.deltaT, 3);
  const pm = await PeftModel.fromPretrained(await base("bert"), join(FIX, "bert-adalora"), { warn: quiet });
  assert.equal((pm.activeConfig as AdaLoraConfig).deltaT, 3);
  const out = tmp("interop-adalora-");
  await pm.savePretrained(out);
  const ours = json(join(out, "adapter_config.json"));
  assert.equal(ours.deltaT, 3);
  assert.equal("delta_t" in ours, false);
  const warned: string[] = [];
  const note = (m: string) => void warned.push(m);
  const { deltaT: _, ...withoutDeltaT } = peftCfg;
  const snake = configFromJSON({ ...withoutDeltaT, delta_t: 5 }, "old.json", note) as AdaLoraConfig;
  assert.equal(snake.deltaT, 5);
  const both = configFromJSON({ ...peftCfg, delta_t: 5 }, "both.json", note) as AdaLoraConfig;
  assert.equal(both.deltaT, 3);
  assert.deepEqual(warned, []);
  // camelCase is PEFT's spelling for deltaT only: a camelCase spelling of another field is an unknown field
  const other = configFromJSON({ ...peftCfg, initR: 7 }, "camel.json", note) as AdaLoraConfig;
  assert.equal(other.initR, 4);
  assert.deepEqual(warned, ["camel.json: ignoring unknown ADALORA config field(s): initR"]);
});

test("GPT-2 LoRA: the config we write says fan_in_fan_out: true (Conv1D), field for field as PEFT's", async () => {
  const peftDir = join(GOLDEN, "gpt2-tiny-random", "lora", "adapter");
  const model = await AutoModelForCausalLM.fromPretrained(join(GOLDEN, "gpt2-tiny-random"));
  const cfg = new LoraConfig({ taskType: "CAUSAL_LM", r: 4, loraAlpha: 8, targetModules: ["c_attn"], initLoraWeights: false });
  const pm = getPeftModel(model, cfg, "default", { warn: quiet });
  assert.equal((pm.activeConfig as LoraConfig).fanInFanOut, true);
  assert.equal(cfg.fanInFanOut, false, "the caller's config object is not changed");
  const out = tmp("interop-gpt2-");
  await pm.savePretrained(out);
  assert.equal(json(join(out, "adapter_config.json")).fan_in_fan_out, true);
  assertSameConfig(out, peftDir);
  assert.deepEqual(savedKeys(out), savedKeys(peftDir));
});

test("a second adapter with a bias option is refused, as in PEFT (only 1 adapter with bias)", async () => {
  const pm = getPeftModel(await base("bert"), new LoraConfig({ taskType: "SEQ_CLS", r: 2, bias: "all" }), "default", { warn: quiet });
  assert.throws(() => pm.addAdapter("other", new LoraConfig({ taskType: "SEQ_CLS", r: 2, bias: "lora_only" })), {
    name: "ConfigError",
    message: "LoraModel supports only 1 adapter with bias (adding 'other' with bias=\"lora_only\"). When using multiple adapters, set bias to 'none' for all adapters.",
  });
  pm.addAdapter("plain", new LoraConfig({ taskType: "SEQ_CLS", r: 2 }));
  assert.deepEqual([...pm.peftConfig.keys()], ["default", "plain"]);
});
