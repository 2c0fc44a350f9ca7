// The registry is the one list of PEFT methods: every method has a CLI name, declares its flags,
// builds its config from those flags' defaults and trains on a tiny Llama; CLI names and aliases
// resolve case-insensitively; conflicting flag declarations are caught; PeftModel knows no method.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { manualSeed } from "../../src/tensor/random.js";
import { ConfigError, PeftError } from "../../src/tensor/errors.js";
import {
  getPeftModel, peftCliFields, peftConfigFromCli, peftMethodByCliName, registeredPeftMethods, registeredPeftTypes,
} from "../../src/peft/index.js";
import type { PeftCliContext, PeftMethod } from "../../src/peft/index.js";
import { IA3Config } from "../../src/peft/ia3/index.js";
import { gjson, loadCausal } from "./helpers.js";

const CTX: PeftCliContext = { taskType: "CAUSAL_LM", baseModelNameOrPath: "/models/tiny" };
const PEFT_SRC = join(import.meta.dirname, "..", "..", "src", "peft");

test("every registered method has a lower-case cliName and builds its config from default flags", () => {
  const methods = registeredPeftMethods();
  assert.deepEqual(methods.map((m) => m.peftType), registeredPeftTypes());
  assert.equal(methods.length, 10);
  for (const m of methods) {
    assert.equal(m.cliName, m.peftType.toLowerCase(), m.peftType);
    assert.ok(m.cliFields.length > 0, `${m.peftType} declares CLI flags`);
    const cfg = peftConfigFromCli(m, {}, CTX);
    assert.equal(cfg.peftType, m.peftType);
    assert.equal(cfg.taskType, "CAUSAL_LM");
    assert.equal(cfg.baseModelNameOrPath, "/models/tiny");
  }
});

test("today's CLI flags keep their defaults and meaning", () => {
  const lora = peftConfigFromCli(peftMethodByCliName("lora"), {}, CTX) as any;
  assert.deepEqual([lora.r, lora.loraAlpha, lora.loraDropout, lora.bias, lora.initLoraWeights, lora.targetModules], [8, 16, 0, "none", true, null]);
  const lora2 = peftConfigFromCli(peftMethodByCliName("lora"), {
    lora_r: 4, lora_alpha: 8, init_lora_weights: "false", target_modules: ["all-linear"], bias: "all", use_rslora: true, num_virtual_tokens: 3,
  }, CTX) as any;
  assert.deepEqual([lora2.r, lora2.loraAlpha, lora2.initLoraWeights, lora2.targetModules, lora2.bias, lora2.useRslora], [4, 8, false, "all-linear", "all", true]);
  assert.equal((peftConfigFromCli(peftMethodByCliName("lora"), { init_lora_weights: "gaussian" }, CTX) as any).initLoraWeights, "gaussian");
  const ia3 = peftConfigFromCli(peftMethodByCliName("ia3"), { target_modules: ["k_proj", "down_proj"], feedforward_modules: ["down_proj"] }, CTX) as any;
  assert.deepEqual([ia3.targetModules, ia3.feedforwardModules], [["k_proj", "down_proj"], ["down_proj"]]);
  const pt = peftConfigFromCli(peftMethodByCliName("prompt"), {}, CTX) as any;
  assert.deepEqual([pt.numVirtualTokens, pt.promptTuningInit, pt.tokenizerNameOrPath], [8, "RANDOM", null]);
  const text = peftConfigFromCli(peftMethodByCliName("prompt"), { prompt_tuning_init: "TEXT", prompt_tuning_init_text: "hello" }, CTX) as any;
  assert.deepEqual([text.promptTuningInit, text.promptTuningInitText, text.tokenizerNameOrPath], ["TEXT", "hello", "/models/tiny"]);
  const prefix = peftConfigFromCli(peftMethodByCliName("prefix"), { num_virtual_tokens: 4, prefix_projection: true, encoder_hidden_size: 12 }, CTX) as any;
  assert.deepEqual([prefix.numVirtualTokens, prefix.prefixProjection, prefix.encoderHiddenSize], [4, true, 12]);
  assert.equal((peftConfigFromCli(peftMethodByCliName("vera"), {}, CTX) as any).r, 256);
  assert.equal((peftConfigFromCli(peftMethodByCliName("adalora"), {}, { ...CTX, totalSteps: 50 }) as any).totalStep, 50);
  assert.equal((peftConfigFromCli(peftMethodByCliName("adalora"), { total_step: 7 }, { ...CTX, totalSteps: 50 }) as any).totalStep, 7);
  assert.equal((peftConfigFromCli(peftMethodByCliName("loha"), { lora_r: 2 }, CTX) as any).r, 2);
});

test("every registered method trains on a tiny Llama from its default flags (target_modules where no default exists)", async () => {
  const G = gjson("llama-tiny-random/lora/golden.json");
  for (const m of registeredPeftMethods()) {
    manualSeed(1);
    const model = await loadCausal("llama-tiny-random");
    let pm;
    try {
      pm = getPeftModel(model, peftConfigFromCli(m, {}, CTX), "default", { warn: () => {} });
    } catch (e) {
      assert.ok(e instanceof ConfigError && /target_modules is not set/.test(e.message), `${m.peftType}: ${(e as Error).message}`);
      pm = getPeftModel(model, peftConfigFromCli(m, { target_modules: ["q_proj", "v_proj"] }, CTX), "default", { warn: () => {} });
    }
    pm.train();
    const out = pm.forward({ inputIds: G.inputs.input_ids, attentionMask: G.inputs.attention_mask, labels: G.inputs.labels });
    assert.ok(Number.isFinite(out.loss!.item()), m.peftType);
    out.loss!.backward();
    const trainable = pm.namedParameters().filter(([, p]) => p.requiresGrad);
    assert.ok(trainable.length > 0, `${m.peftType} has trainable parameters`);
    assert.ok(trainable.some(([, p]) => p.grad && p.grad.f32().some((g) => g !== 0)), `${m.peftType} gets gradients`);
    assert.equal(pm.isPromptLearning, m.createHost !== undefined, m.peftType);
  }
});

test("peftMethodByCliName: names and aliases, case-insensitive; unknown names list the choices", () => {
  assert.equal(peftMethodByCliName("prompt").peftType, "PROMPT_TUNING");
  assert.equal(peftMethodByCliName("PROMPT_TUNING").peftType, "PROMPT_TUNING");
  assert.equal(peftMethodByCliName("Prefix").peftType, "PREFIX_TUNING");
  assert.equal(peftMethodByCliName("LoRA").peftType, "LORA");
  assert.equal(peftMethodByCliName("p_tuning").peftType, "P_TUNING");
  assert.throws(() => peftMethodByCliName("bogus"), (e: Error) =>
    e instanceof ConfigError && /'bogus'/.test(e.message) && /lora, ia3/.test(e.message) && /prompt_tuning \(prompt\)/.test(e.message) && /adalora/.test(e.message));
});

test("peftCliFields: one entry per flag; a conflicting declaration names both methods", () => {
  const fields = peftCliFields();
  const flags = fields.map((f) => f.flag);
  assert.equal(new Set(flags).size, flags.length);
  for (const f of ["lora_r", "lora_alpha", "lora_dropout", "target_modules", "modules_to_save", "bias", "use_rslora", "use_dora", "init_lora_weights",
    "feedforward_modules", "num_virtual_tokens", "prompt_tuning_init", "prompt_tuning_init_text", "prefix_projection", "encoder_hidden_size"]) {
    assert.ok(flags.includes(f), f);
  }
  const byFlag = new Map(fields.map((f) => [f.flag, f]));
  assert.equal(byFlag.get("lora_r")!.default, 8);
  assert.equal(byFlag.get("lora_alpha")!.default, 16);
  assert.equal(byFlag.get("num_virtual_tokens")!.default, 8);
  assert.deepEqual(byFlag.get("bias")!.choices, ["none", "all", "lora_only"]);
  const fake: PeftMethod = {
    ...peftMethodByCliName("lora"), cliName: "fake_lora", cliFields: [{ flag: "lora_r", option: "r", kind: "int", default: 4, help: "other rank" }],
  };
  assert.throws(() => peftCliFields([...registeredPeftMethods(), fake]), (e: Error) =>
    e instanceof ConfigError && /--lora_r/.test(e.message) && /\blora\b/.test(e.message) && /fake_lora/.test(e.message));
});

test("addWeightedAdapter is LoRA's capability: other adapters get the same PeftError", async () => {
  const pm = getPeftModel(await loadCausal("llama-tiny-random"), new IA3Config({ taskType: "CAUSAL_LM" }));
  assert.throws(() => pm.addWeightedAdapter(["default"], [1], "mix"), (e: Error) => e instanceof PeftError && e.message === "addWeightedAdapter works on LoRA adapters, not IA3");
});

/** Relative runtime imports (not `import type`) of a source file, resolved to .ts paths. */
function runtimeImports(file: string): string[] {
  const src = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of src.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^;]*?\sfrom\s+)?["'](\.[^"']+)["']/gms)) {
    if (!m[1]) out.push(resolve(dirname(file), m[2]).replace(/\.js$/, ".ts"));
  }
  return out;
}

test("peft_model.ts imports no method folder, and src/peft has no runtime import cycle", () => {
  const pm = readFileSync(join(PEFT_SRC, "peft_model.ts"), "utf8");
  assert.ok(!/from\s+["']\.\/(prompt|lora)\//.test(pm), "peft_model.ts imports prompt/ or lora/");
  assert.ok(!/instanceof\s+(BaseTuner|LoraModel)/.test(pm), "peft_model.ts tells methods apart by class");
  const files: string[] = [];
  const walk = (d: string) => { for (const n of readdirSync(d)) { const p = join(d, n); if (statSync(p).isDirectory()) walk(p); else if (p.endsWith(".ts")) files.push(p); } };
  walk(PEFT_SRC);
  const graph = new Map(files.map((f) => [f, runtimeImports(f).filter((t) => t.startsWith(PEFT_SRC))]));
  const state = new Map<string, "open" | "done">();
  const visit = (f: string, path: string[]): void => {
    state.set(f, "open");
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === "open") assert.fail(`import cycle: ${[...path, f, d].map((x) => x.slice(PEFT_SRC.length + 1)).join(" -> ")}`);
      if (!state.has(d)) visit(d, [...path, f]);
    }
    state.set(f, "done");
  };
  for (const f of files) if (!state.has(f)) visit(f, []);
  // nothing below PeftModel refers back to it, types included (the old peft_model ↔ prompt/model cycle)
  for (const f of files) {
    if (f.endsWith("peft_model.ts") || f === join(PEFT_SRC, "index.ts")) continue;
    assert.ok(!/from\s+["'][./]*peft_model\.js["']/.test(readFileSync(f, "utf8")), `${f.slice(PEFT_SRC.length + 1)} imports peft_model.ts`);
  }
});
