// Prompt learning on decoder models: prompt tuning on GPT-2 (virtual tokens get label -100, so the
// loss equals the loss on the real tokens' positions), prefix tuning on Llama with GQA (keys/values
// per layer [B, num_key_value_heads, V, head_dim]), and LoRA dropout in train vs eval mode.
import { test } from "node:test";
import assert from "node:assert/strict";
import { noGrad } from "../../src/tensor/autograd.js";
import { manualSeed } from "../../src/tensor/random.js";
import { getPeftModel } from "../../src/peft/peft_model.js";
import { PrefixTuningConfig, PromptTuningConfig, prefixKeyValues, promptEncoderOf } from "../../src/peft/prompt/index.js";
import type { PromptLearningConfig } from "../../src/peft/prompt/config.js";
import { LoraConfig } from "../../src/peft/lora/index.js";
import { assertClose, gjson, loadCausal } from "./helpers.js";

test("prompt tuning on GPT-2: logits cover virtual + real tokens, labels of virtual tokens are ignored", async () => {
  const G = gjson("gpt2-tiny-random/lora/golden.json");
  manualSeed(2);
  const pm = getPeftModel(await loadCausal("gpt2-tiny-random"), new PromptTuningConfig({ taskType: "CAUSAL_LM", numVirtualTokens: 3 }));
  const out = pm.forward({ inputIds: G.inputs.input_ids, attentionMask: G.inputs.attention_mask, labels: G.inputs.labels });
  assert.deepEqual(out.logits!.shape, [3, 11, 320]);
  assert.ok(Number.isFinite(out.loss!.item()));
  out.loss!.backward();
  const trainable = pm.namedParameters().filter(([, p]) => p.requiresGrad);
  assert.deepEqual(trainable.map(([n]) => n), ["prompt_encoder.default.embedding.weight"]);
  assert.ok(trainable[0][1].grad!.f32().some((g) => g !== 0));
  for (const [n, p] of pm.namedParameters()) if (!p.requiresGrad) assert.equal(p.grad, null, n);
});

test("prefix tuning on Llama (GQA): per-layer keys/values use num_key_value_heads, and the model runs with them", async () => {
  manualSeed(3);
  const model = await loadCausal("llama-tiny-random");
  const pm = getPeftModel(model, new PrefixTuningConfig({ taskType: "CAUSAL_LM", numVirtualTokens: 2 }));
  const cfg = pm.activeConfig as PromptLearningConfig;
  assert.equal(cfg.numAttentionHeads, 2);
  assert.equal(cfg.tokenDim, 16);
  assert.deepEqual(promptEncoderOf(pm).get("default").embedding.weight.shape, [2, 2 * 2 * 16]);
  const kv = prefixKeyValues(promptEncoderOf(pm).get("default").embedding.weight, 3, cfg);
  assert.equal(kv.length, 2);
  assert.deepEqual(kv[0].key.shape, [3, 2, 2, 8]);
  // layer l takes row 2l for keys and 2l+1 for values, head-major within a row
  const w = promptEncoderOf(pm).get("default").embedding.weight.toArray() as number[][];
  assert.equal((kv[1].value.toArray() as number[][][][])[2][1][0][3], w[0][3 * 16 + 1 * 8 + 3]);
  const G = gjson("llama-tiny-random/lora/golden.json");
  const out = pm.forward({ inputIds: G.inputs.input_ids, attentionMask: G.inputs.attention_mask, labels: G.inputs.labels });
  assert.deepEqual(out.logits!.shape, [3, 8, 256]);
  out.loss!.backward();
  assert.ok(promptEncoderOf(pm).get("default").embedding.weight.grad!.f32().some((g) => g !== 0));
  const off = noGrad(() => pm.disableAdapter(() => pm.forward({ inputIds: G.inputs.input_ids, attentionMask: G.inputs.attention_mask }))).logits!;
  const base = noGrad(() => model.forward({ inputIds: G.inputs.input_ids, attentionMask: G.inputs.attention_mask })).logits!;
  assertClose(off, base, "disabled prefix = base model", { abs: 0, rel: 0 });
});

test("LoRA dropout is active in train mode only", async () => {
  manualSeed(8);
  const G = gjson("llama-tiny-random/lora/golden.json");
  const x = { inputIds: G.inputs.input_ids, attentionMask: G.inputs.attention_mask };
  const pm = getPeftModel(await loadCausal("llama-tiny-random"), new LoraConfig({ targetModules: ["q_proj", "v_proj"], r: 2, loraDropout: 0.5, initLoraWeights: false }));
  pm.train();
  const a = noGrad(() => pm.forward(x)).logits!.f32(), b = noGrad(() => pm.forward(x)).logits!.f32();
  assert.ok(a.some((v, i) => v !== b[i]), "two train-mode passes differ");
  pm.eval();
  assertClose(noGrad(() => pm.forward(x)).logits!, noGrad(() => pm.forward(x)).logits!, "eval deterministic", { abs: 0, rel: 0 });
});

test("generation with a prompt-tuning adapter: uncached greedy decoding works, cached decoding is refused clearly", async () => {
  const { generate } = await import("../../src/models/generate.js");
  manualSeed(12);
  const pm = getPeftModel(await loadCausal("gpt2-tiny-random"), new PromptTuningConfig({ taskType: "CAUSAL_LM", numVirtualTokens: 2 }));
  const out = generate(pm, [[5, 6, 7]], { maxNewTokens: 4, useCache: false, eosTokenId: null });
  assert.equal(out[0].length, 7);
  assert.deepEqual(out[0].slice(0, 3), [5, 6, 7]);
  assert.throws(() => generate(pm, [[5, 6, 7]], { maxNewTokens: 2, eosTokenId: null }), /not supported with prompt-learning adapters/);
});
