import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { AutoModelForCausalLM } from "../../src/models/auto.js";
import { GPT2LMHeadModel } from "../../src/models/gpt2.js";
import { Conv1D } from "../../src/nn/conv1d.js";
import { assertClose, GOLDEN, goldenJson, goldenTensors, GRAD_TOL } from "./helpers.js";

const DIR = join(GOLDEN, "gpt2-tiny-random");
const g = goldenJson("gpt2-tiny-random");

test("gpt2-tiny-random: logits, loss and hidden states match transformers", async () => {
  const model = await AutoModelForCausalLM.fromPretrained(DIR);
  assert.ok(model instanceof GPT2LMHeadModel);
  assert.ok(model.transformer.h.get(0).attn.c_attn instanceof Conv1D);
  assert.deepEqual(model.transformer.h.get(0).attn.c_attn.weight.shape, [32, 96]);
  assert.equal(model.lm_head.weight, model.transformer.wte.weight, "lm_head is tied to wte");
  const { input_ids, attention_mask, labels } = g.inputs;
  const out = model.forward({ inputIds: input_ids, attentionMask: attention_mask, labels, outputHiddenStates: true });
  const outs = goldenTensors("gpt2-tiny-random", "golden_outputs.safetensors");
  assertClose(out.logits!, outs.get("logits")!, "logits");
  assertClose(out.loss!, g.loss, "loss");
  assert.equal(out.hiddenStates!.length, 3);
  out.hiddenStates!.forEach((h, i) => assertClose(h, outs.get(`hidden_states.${i}`)!, `hidden_states.${i}`));
  const noMask = model.forward({ inputIds: [input_ids[0]] });
  assertClose(noMask.logits!, g.logits_no_attention_mask_first_row, "logits without mask, first row");
});

test("gpt2-tiny-random: gradients of every parameter match transformers", async () => {
  const model = await AutoModelForCausalLM.fromPretrained(DIR);
  const { input_ids, attention_mask, labels } = g.inputs;
  model.forward({ inputIds: input_ids, attentionMask: attention_mask, labels }).loss!.backward();
  const grads = goldenTensors("gpt2-tiny-random", "golden_grads.safetensors");
  const params = new Map(model.namedParameters());
  assert.deepEqual([...params.keys()].sort(), [...grads.keys()].sort());
  for (const [name, p] of params) assertClose(p.grad!, grads.get(name)!, `grad ${name}`, GRAD_TOL);
});

test("gpt2-tiny-random: KV cache gives the same logits as a full forward", async () => {
  const model = await AutoModelForCausalLM.fromPretrained(DIR);
  const ids = g.inputs.input_ids[0] as number[];
  const full = model.forward({ inputIds: [ids] }).logits!;
  const first = model.forward({ inputIds: [ids.slice(0, 5)], useCache: true });
  const rest = model.forward({ inputIds: [ids.slice(5)], pastKeyValues: first.pastKeyValues, useCache: true });
  assert.deepEqual(rest.pastKeyValues![0].key.shape, [1, 2, 8, 16]);
  assertClose(rest.logits!, full.slice(1, 5), "cached logits");
});
