// LoRA SEQ_2_SEQ_LM on T5 (and BART/Marian targets): HF PEFT's adapter (test/fixtures/seq2seq/t5-lora) loads with PEFT's
// logits and greedy ids; ours has PEFT's names and config and round-trips; task types are checked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { AutoModelForCausalLM, AutoModelForSeq2SeqLM } from "../../src/models/auto.js";
import { generate } from "../../src/models/generate.js";
import { getPeftModel, PeftModel } from "../../src/peft/peft_model.js";
import { LoraConfig } from "../../src/peft/lora/config.js";
import { PromptTuningConfig } from "../../src/peft/prompt/config.js";
import { assertClose, GOLDEN, GRAD_TOL } from "./helpers.js";

const FIX = join(import.meta.dirname, "..", "fixtures", "seq2seq");
const base = () => AutoModelForSeq2SeqLM.fromPretrained(join(FIX, "t5-tiny-random"), { log: () => {} });
const g = JSON.parse(readFileSync(join(FIX, "t5-lora", "golden.json"), "utf8"));
const inputs = JSON.parse(readFileSync(join(FIX, "t5-tiny-random", "golden.json"), "utf8")).inputs;
const quiet = { warn: () => {} };

test("t5-lora: HF PEFT's SEQ_2_SEQ_LM adapter loads with PEFT's logits, loss and greedy ids", async () => {
  const pm = await PeftModel.fromPretrained(await base(), join(FIX, "t5-lora", "adapter"), quiet);
  const out = noGrad(() => pm.forward({ inputIds: inputs.input_ids, attentionMask: inputs.attention_mask, labels: inputs.labels }));
  assertClose(out.logits!, loadSafetensors(join(FIX, "t5-lora", "golden_outputs.safetensors")).get("logits_with_adapter")!, "logits with adapter");
  assertClose(out.loss!, g.loss, "loss");
  assert.deepEqual(generate(pm, inputs.input_ids, { attentionMask: inputs.attention_mask, maxNewTokens: 8 }), g.greedy_output_ids);
});

test("t5-lora: the LoRA gradients (adapter loaded trainable) match PEFT's", async () => {
  const pm = await PeftModel.fromPretrained(await base(), join(FIX, "t5-lora", "adapter"), { ...quiet, isTrainable: true });
  pm.forward({ inputIds: inputs.input_ids, attentionMask: inputs.attention_mask, labels: inputs.labels }).loss!.backward();
  const want = loadSafetensors(join(FIX, "t5-lora", "golden_lora_grads.safetensors"));
  const got = new Map(pm.namedParameters().filter(([, p]) => p.requiresGrad));
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), "trainable = PEFT's trainable, same names");
  for (const [n, p] of got) assertClose(p.grad!, want.get(n)!, `grad ${n}`, GRAD_TOL);
});

test("t5 LoRA: PEFT's default targets (q, v), PEFT's names and config, round trip", async () => {
  const pm = getPeftModel(await base(), new LoraConfig({ taskType: "SEQ_2_SEQ_LM", r: 4, loraAlpha: 8, initLoraWeights: false }), "default", quiet);
  assert.equal(pm.getNbTrainableParameters()[0], g.trainable_parameters);
  const dir = mkdtempSync(join(tmpdir(), "t5-lora-"));
  try {
    await pm.savePretrained(dir);
    const cfg = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
    assert.equal(cfg.task_type, "SEQ_2_SEQ_LM");
    assert.deepEqual([...cfg.target_modules].sort(), g.target_modules);
    const ours = [...loadSafetensors(join(dir, "adapter_model.safetensors")).keys()].sort();
    const theirs = [...loadSafetensors(join(FIX, "t5-lora", "adapter", "adapter_model.safetensors")).keys()].sort();
    assert.deepEqual(ours, theirs, "adapter tensor names as PEFT's");
    const x = { inputIds: inputs.input_ids, attentionMask: inputs.attention_mask, labels: inputs.labels };
    const before = noGrad(() => pm.forward(x).logits!);
    const back = await PeftModel.fromPretrained(await base(), dir, quiet);
    assertClose(noGrad(() => back.forward(x).logits!), before, "reloaded", { abs: 0, rel: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("task types: a SEQ_2_SEQ_LM adapter on a decoder-only model, and CAUSAL_LM on T5, are clear errors", async () => {
  const llama = await AutoModelForCausalLM.fromPretrained(join(GOLDEN, "llama-tiny-random"));
  assert.throws(() => getPeftModel(llama, new LoraConfig({ taskType: "SEQ_2_SEQ_LM", targetModules: ["q_proj"] }), "default", quiet),
    (e: Error) => e instanceof ConfigError && /SEQ_2_SEQ_LM needs an encoder-decoder/.test(e.message));
  await assert.rejects(PeftModel.fromPretrained(llama, join(FIX, "t5-lora", "adapter"), quiet), /SEQ_2_SEQ_LM needs an encoder-decoder/);
  const t5 = await base();
  assert.throws(() => getPeftModel(t5, new LoraConfig({ taskType: "CAUSAL_LM", targetModules: ["q"] }), "default", quiet),
    (e: Error) => e instanceof ConfigError && /CAUSAL_LM does not fit the encoder-decoder T5ForConditionalGeneration/.test(e.message));
  // prompt learning on encoder-decoders: test/peft/prompt_seq2seq*.test.ts
  assert.throws(() => getPeftModel(t5, new PromptTuningConfig({ taskType: "CAUSAL_LM", numVirtualTokens: 2 }), "default", quiet),
    (e: Error) => e instanceof ConfigError && /CAUSAL_LM does not fit/.test(e.message));
});

test("bart/marian LoRA: PEFT's default targets for bart (q_proj, v_proj); marian has none in PEFT, so target_modules is required", async () => {
  const bart = await AutoModelForSeq2SeqLM.fromPretrained(join(FIX, "bart-tiny-random"), { log: () => {} });
  const pm = getPeftModel(bart, new LoraConfig({ taskType: "SEQ_2_SEQ_LM", r: 2 }), "default", quiet);
  const wrapped = pm.namedParameters().filter(([n]) => n.includes("lora_A")).map(([n]) => n.split(".").slice(-5, -3).join("."));
  assert.deepEqual([...new Set(wrapped)].sort(), ["encoder_attn.q_proj", "encoder_attn.v_proj", "self_attn.q_proj", "self_attn.v_proj"]);
  const marian = await AutoModelForSeq2SeqLM.fromPretrained(join(FIX, "marian-tiny-random"), { log: () => {} });
  assert.throws(() => getPeftModel(marian, new LoraConfig({ taskType: "SEQ_2_SEQ_LM" }), "default", quiet), /target_modules/);
});
