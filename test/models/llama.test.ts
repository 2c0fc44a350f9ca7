import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../src/io/hf_config.js";
import { noGrad } from "../../src/tensor/autograd.js";
import * as ops from "../../src/ops/index.js";
import { AutoModelForCausalLM } from "../../src/models/auto.js";
import { LlamaForCausalLM } from "../../src/models/llama.js";
import { assertClose, GOLDEN, goldenJson, goldenTensors, GRAD_TOL } from "./helpers.js";

const DIR = join(GOLDEN, "llama-tiny-random");
const g = goldenJson("llama-tiny-random");

test("llama-tiny-random: logits, loss and hidden states match transformers", async () => {
  const model = await AutoModelForCausalLM.fromPretrained(DIR);
  assert.ok(model instanceof LlamaForCausalLM);
  assert.notEqual(model.lm_head.weight, model.model.embed_tokens.weight, "untied lm_head");
  const { input_ids, attention_mask, labels } = g.inputs;
  const out = model.forward({ inputIds: input_ids, attentionMask: attention_mask, labels, outputHiddenStates: true });
  const outs = goldenTensors("llama-tiny-random", "golden_outputs.safetensors");
  assertClose(out.logits!, outs.get("logits")!, "logits");
  assertClose(out.loss!, g.loss, "loss");
  assert.equal(out.hiddenStates!.length, 3);
  assertClose(out.hiddenStates![0], outs.get("hidden_states.0")!, "hidden_states.0");
  assertClose(out.hiddenStates![1], outs.get("hidden_states.1")!, "hidden_states.1");
  assertClose(out.hiddenStates![2], outs.get("hidden_states.2")!, "hidden_states.2");
  assertClose(out.hiddenStates![2], outs.get("last_hidden_state_after_final_norm")!, "after final norm");
  const noMask = model.forward({ inputIds: [input_ids[0]] });
  assertClose(noMask.logits!, g.logits_no_attention_mask_first_row, "logits without mask, first row");
});

test("llama-tiny-random: gradients of every parameter match transformers", async () => {
  const model = await AutoModelForCausalLM.fromPretrained(DIR);
  const { input_ids, attention_mask, labels } = g.inputs;
  model.forward({ inputIds: input_ids, attentionMask: attention_mask, labels }).loss!.backward();
  const grads = goldenTensors("llama-tiny-random", "golden_grads.safetensors");
  const params = new Map(model.namedParameters());
  assert.deepEqual([...params.keys()].sort(), [...grads.keys()].sort());
  for (const [name, p] of params) assertClose(p.grad!, grads.get(name)!, `grad ${name}`, GRAD_TOL);
});

test("llama-tiny-random: greedy generation matches transformers, with and without KV cache", async () => {
  const model = await AutoModelForCausalLM.fromPretrained(DIR);
  const gen = g.generate;
  const steps: number[][] = [];
  const cached = model.generate(gen.prompt, { maxNewTokens: gen.max_new_tokens, onToken: (t) => steps.push(t) });
  assert.deepEqual(cached, gen.output_ids);
  assert.equal(steps.length, gen.max_new_tokens);
  assert.deepEqual(steps.map((s) => s[0]), gen.output_ids[0].slice(gen.prompt[0].length));
  assert.deepEqual(model.generate(gen.prompt, { maxNewTokens: gen.max_new_tokens, useCache: false }), gen.manual_greedy_no_cache_output_ids);
});

test("llama-tiny-random: a left-padded batch generates as each prompt alone", async () => {
  const model = await AutoModelForCausalLM.fromPretrained(DIR);
  const prompts = [[1, 17, 42, 99, 7], [1, 5, 9]];
  const batch = model.generate(prompts, { maxNewTokens: 6, eosTokenId: null });
  for (let b = 0; b < prompts.length; b++) {
    const alone = model.generate([prompts[b]], { maxNewTokens: 6, eosTokenId: null });
    const padded = batch[b].slice(batch[b].length - alone[0].length);
    assert.deepEqual(padded, alone[0], `row ${b}`);
  }
  assert.deepEqual(batch[1].slice(0, 2), [0, 0], "left padding with pad_token_id");
});

test("linear rope scaling divides positions by the factor; qwen2/mistral are config switches with HF names", async () => {
  const raw = JSON.parse(readFileSync(join(DIR, "config.json"), "utf8"));
  const plain = await AutoModelForCausalLM.fromPretrained(DIR);
  const scaled = new LlamaForCausalLM(parseConfig({ ...raw, rope_parameters: { rope_theta: 10000, rope_type: "linear", factor: 2 } }, "scaled"));
  scaled.loadWeights(plain.stateDict(), "plain model");
  const ids = [[1, 17, 42, 99, 7]];
  const a = noGrad(() => scaled.forward({ inputIds: ids, positionIds: [[0, 2, 4, 6, 8]] }).logits!);
  const b = noGrad(() => plain.forward({ inputIds: ids, positionIds: [[0, 1, 2, 3, 4]] }).logits!);
  assertClose(a, b, "factor 2 at even positions = default at half positions");
  const qwen = AutoModelForCausalLM.fromConfig(parseConfig({ ...raw, model_type: "qwen2" }, "qwen"));
  const keys = [...qwen.stateDict().keys()].filter((k) => k.includes("layers.0.self_attn"));
  assert.deepEqual(keys.sort(), [
    "model.layers.0.self_attn.k_proj.bias", "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.o_proj.weight",
    "model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.v_proj.bias", "model.layers.0.self_attn.v_proj.weight",
  ]);
  assert.equal(qwen.architectureName, "Qwen2ForCausalLM");
  const mistral = AutoModelForCausalLM.fromConfig(parseConfig({ ...raw, model_type: "mistral" }, "mistral"));
  assert.deepEqual([...mistral.stateDict().keys()].sort(), [...plain.stateDict().keys()].sort());
  const biased = AutoModelForCausalLM.fromConfig(parseConfig({ ...raw, attention_bias: true, mlp_bias: true }, "biased"));
  assert.ok(["model.layers.1.self_attn.o_proj.bias", "model.layers.1.mlp.down_proj.bias"].every((k) => biased.stateDict().has(k)));
});

test("causal LM with labels: loss straight from the hidden states, logits computed on first read (or in forward with keepLogits), same gradients", async () => {
  const model = await AutoModelForCausalLM.fromPretrained(DIR);
  const { input_ids, attention_mask, labels } = g.inputs;
  const inputs = { inputIds: input_ids, attentionMask: attention_mask, labels };
  const run = (keepLogits: boolean) => {
    model.zeroGrad();
    const out = model.forward({ ...inputs, keepLogits });
    const lazy = typeof Object.getOwnPropertyDescriptor(out, "logits")?.get === "function";
    // an extra term on the logits: its gradient must reach the model through them in both forms
    const total = ops.add(out.loss!, ops.scale(ops.mean(ops.square(out.logits!)), 0.1));
    total.backward();
    return { lazy, loss: out.loss!.item(), logits: out.logits!, grads: new Map([...model.namedParameters()].map(([n, p]) => [n, p.grad!.f32().slice()])) };
  };
  const lazy = run(false), eager = run(true);
  assert.equal(lazy.lazy, true, "logits are a getter without keepLogits");
  assert.equal(eager.lazy, false, "keepLogits computes them in forward");
  assertClose(lazy.loss, g.loss, "loss (fused)");
  assertClose(eager.loss, g.loss, "loss (keepLogits)");
  assertClose(lazy.logits, goldenTensors("llama-tiny-random", "golden_outputs.safetensors").get("logits")!, "lazy logits");
  for (const [n, gr] of eager.grads) assertClose(Array.from(lazy.grads.get(n)!), Array.from(gr), `grad ${n}`, GRAD_TOL);
  // under noGrad the loss is only a value, and the lazy logits need no graph
  const ev = noGrad(() => model.forward(inputs));
  assert.equal(ev.loss!.requiresGrad, false);
  assertClose(ev.logits!, lazy.logits, "logits under noGrad");
});
