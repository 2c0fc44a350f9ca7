// PEFT on a tensor-parallel model (one rank here; 2 ranks in test/dist/tp.test.ts): LoRA works and
// equals LoRA on the plain model; the methods and options tensor parallelism cannot shard are a
// PeftError naming them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { LocalGroup } from "../../src/dist/index.js";
import { manualSeed } from "../../src/tensor/random.js";
import { AutoModelForCausalLM } from "../../src/models/auto.js";
import { IA3Config, LoraConfig, getPeftModel } from "../../src/peft/index.js";
import { GOLDEN } from "../models/helpers.js";
import { assertClose } from "../helpers/gradcheck.js";

const LLAMA = join(GOLDEN, "llama-tiny-random");
const load = (tp: boolean) => AutoModelForCausalLM.fromPretrained(LLAMA, tp ? { tensorParallel: new LocalGroup() } : {});
const targets = ["q_proj", "v_proj", "o_proj", "down_proj"];

test("LoRA on a tensor-parallel model (one rank) equals LoRA on the plain model: logits and gradients", async () => {
  const run = async (tp: boolean) => {
    manualSeed(7);
    const pm = getPeftModel(await load(tp), new LoraConfig({ r: 2, initLoraWeights: false, targetModules: targets }));
    const out = pm.forward({ inputIds: [[1, 4, 8, 15, 16]], labels: [[1, 4, 8, 15, 16]] });
    out.loss!.backward();
    return { logits: out.logits!.f32(), grads: pm.namedParameters().filter(([, p]) => p.requiresGrad).map(([n, p]) => [n, p.grad!.f32()] as const) };
  };
  const a = await run(false), b = await run(true);
  assertClose(b.logits, a.logits, 1e-5, 0, "logits");
  assert.equal(b.grads.length, a.grads.length);
  b.grads.forEach(([n, g], i) => {
    assert.equal(n, a.grads[i][0]);
    assertClose(g, a.grads[i][1], 1e-6, 1e-4, n);
  });
});

test("tensor parallelism rejects other PEFT methods, DoRA, PiSSA, LoRA on the vocab-parallel embedding and parallel modules_to_save", async () => {
  const m = await load(true);
  assert.throws(() => getPeftModel(m, new IA3Config({ targetModules: ["k_proj", "down_proj"], feedforwardModules: ["down_proj"] })),
    /IA3 is not supported on a tensor-parallel model \(supported there: LORA\)/);
  assert.throws(() => getPeftModel(m, new LoraConfig({ targetModules: ["q_proj"], useDora: true })), /DoRA \(use_dora\) on the tensor-parallel layer 'model.layers.0.self_attn.q_proj' is not supported/);
  assert.throws(() => getPeftModel(m, new LoraConfig({ targetModules: ["q_proj"], initLoraWeights: "pissa" })), /PiSSA init on the tensor-parallel layer/);
  assert.throws(() => getPeftModel(m, new LoraConfig({ targetModules: ["embed_tokens"] })), /LoRA on the vocab-parallel embedding is not supported/);
  assert.throws(() => getPeftModel(m, new LoraConfig({ targetModules: ["q_proj"], modulesToSave: ["lm_head"] })), /modules_to_save 'lm_head' is a tensor-parallel layer/);
});
