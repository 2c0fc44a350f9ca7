import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Tensor } from "../../src/tensor/tensor.js";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { BertForSequenceClassification } from "../../src/models/bert_heads.js";
import { assertClose, GOLDEN, goldenJson, goldenTensors, GRAD_TOL } from "./helpers.js";

const DIR = join(GOLDEN, "bert-tiny-random");
const g = goldenJson("bert-tiny-random");

test("bert-tiny-random: logits, loss, hidden states and pooler match transformers", async () => {
  const model = await AutoModelForSequenceClassification.fromPretrained(DIR);
  assert.ok(model instanceof BertForSequenceClassification);
  assert.equal(model.numParameters(), g.num_parameters);
  assert.deepEqual([...model.stateDict().keys()].sort(), [...g.state_dict_keys].sort());
  const { input_ids, attention_mask, token_type_ids, labels } = g.inputs;
  const out = model.forward({ inputIds: input_ids, attentionMask: attention_mask, tokenTypeIds: token_type_ids, labels, outputHiddenStates: true });
  const outs = goldenTensors("bert-tiny-random", "golden_outputs.safetensors");
  assertClose(out.logits!, outs.get("logits")!, "logits");
  assertClose(out.logits!, g.logits, "logits (json)");
  assertClose(out.loss!, g.loss, "loss");
  assertClose(out.poolerOutput!, outs.get("pooler_output")!, "pooler_output");
  assertClose(out.lastHiddenState!, outs.get("last_hidden_state")!, "last_hidden_state");
  assert.equal(out.hiddenStates!.length, 3);
  out.hiddenStates!.forEach((h, i) => assertClose(h, outs.get(`hidden_states.${i}`)!, `hidden_states.${i}`));
});

test("bert-tiny-random: token_type_ids and attention_mask may be omitted", async () => {
  const model = await AutoModelForSequenceClassification.fromPretrained(DIR);
  const { input_ids, attention_mask, token_type_ids } = g.inputs;
  assertClose(model.forward({ inputIds: input_ids, attentionMask: attention_mask }).logits!, g.logits_without_token_type_ids, "no token types");
  assertClose(model.forward({ inputIds: input_ids, tokenTypeIds: token_type_ids }).logits!, g.logits_without_attention_mask, "no mask");
});

test("bert-tiny-random: gradients of every parameter match transformers", async () => {
  const model = await AutoModelForSequenceClassification.fromPretrained(DIR);
  const { input_ids, attention_mask, token_type_ids, labels } = g.inputs;
  const out = model.forward({ inputIds: input_ids, attentionMask: attention_mask, tokenTypeIds: token_type_ids, labels });
  out.loss!.backward();
  const grads = goldenTensors("bert-tiny-random", "golden_grads.safetensors");
  const params = new Map(model.namedParameters());
  assert.deepEqual([...params.keys()].sort(), [...grads.keys()].sort());
  for (const [name, p] of params) {
    assert.ok(p.grad, `${name} has no gradient`);
    assertClose(p.grad!, grads.get(name)!, `grad ${name}`, GRAD_TOL);
  }
});

test("bert-tiny-random: inputsEmbeds equals the embedding lookup", async () => {
  const model = await AutoModelForSequenceClassification.fromPretrained(DIR);
  const { input_ids, attention_mask, token_type_ids } = g.inputs;
  const emb = model.getInputEmbeddings().forward(input_ids);
  const out = model.forward({ inputsEmbeds: emb, attentionMask: attention_mask, tokenTypeIds: token_type_ids });
  assertClose(out.logits!, g.logits, "logits from inputsEmbeds");
});

test("bert-tiny-random: Tensor inputs (i32 or f32) work like nested arrays", async () => {
  const model = await AutoModelForSequenceClassification.fromPretrained(DIR);
  const { input_ids, attention_mask, token_type_ids, labels } = g.inputs;
  const out = model.forward({
    inputIds: Tensor.from(input_ids, undefined, "i32"), attentionMask: Tensor.from(attention_mask), tokenTypeIds: Tensor.from(token_type_ids, undefined, "i32"),
    labels: Tensor.from(labels, undefined, "i32"),
  });
  assertClose(out.logits!, g.logits, "logits");
  assertClose(out.loss!, g.loss, "loss");
});
