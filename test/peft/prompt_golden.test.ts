// Prompt tuning and prefix tuning on BERT against peft 0.21 (golden/bert-prompt-tuning,
// golden/bert-prefix-tuning): logits, loss, grads, counts, names and saved layout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { manualSeed } from "../../src/tensor/random.js";
import { readSafetensorsHeader } from "../../src/io/safetensors.js";
import { PeftModel, getPeftModel } from "../../src/peft/peft_model.js";
import { PrefixTuningConfig, PromptTuningConfig, PromptEncoderConfig, promptEncoderOf } from "../../src/peft/prompt/index.js";
import { GOLDEN, GRAD_TOL, assertClose, bertBatch, gjson, gtensors, loadBert, sortedKeys, tmp } from "./helpers.js";

for (const dir of ["bert-prompt-tuning", "bert-prefix-tuning"]) {
  test(`golden ${dir}: logits, loss, grads, counts, names, saved layout`, async () => {
    const G = gjson(`${dir}/golden.json`);
    const adapter = join(GOLDEN, dir, "adapter");
    const b = bertBatch(G);
    const inputs = { inputIds: b.inputIds, attentionMask: b.attentionMask, tokenTypeIds: b.tokenTypeIds };
    const frozen = await PeftModel.fromPretrained(await loadBert(), adapter);
    assertClose(noGrad(() => frozen.forward(inputs)).logits!, G.logits, "logits (inference mode)");
    const pm = await PeftModel.fromPretrained(await loadBert(), adapter, { isTrainable: true });
    assert.equal(pm.trainableParametersLine(), G.print_trainable_parameters);
    const ours: Record<string, number[]> = {};
    for (const [k, t] of pm.stateDict()) ours[k] = t.shape;
    assert.deepEqual(sortedKeys(ours), sortedKeys(G.peft_state_dict_keys_and_shapes));
    for (const [k, s] of Object.entries(G.peft_state_dict_keys_and_shapes)) assert.deepEqual(ours[k], s, k);
    assertClose(noGrad(() => pm.forward(inputs)).logits!, G.logits, "logits");
    const out = pm.forward({ ...inputs, labels: b.labels });
    assertClose(out.loss!, G.loss, "loss");
    out.loss!.backward();
    const params = new Map(pm.namedParameters());
    const grads = gtensors(`${dir}/grads.safetensors`);
    assert.deepEqual(sortedKeys(grads), [...G.grad_names].sort());
    for (const [k, g] of grads) assertClose(params.get(k)!.grad!, g, `grad ${k}`, GRAD_TOL);
    for (const [n, p] of params) if (!p.requiresGrad) assert.equal(p.grad, null, `frozen ${n} has no gradient buffer`);
    const off = noGrad(() => pm.disableAdapter(() => pm.forward(inputs))).logits!;
    assertClose(off, gjson("bert-tiny-random/golden.json").logits, "adapter disabled = base logits");
    // our save: same keys/shapes/dtypes and config as peft's file
    const out2 = tmp();
    await pm.savePretrained(out2);
    const h1 = readSafetensorsHeader(join(out2, "adapter_model.safetensors"));
    const h2 = readSafetensorsHeader(join(adapter, "adapter_model.safetensors"));
    assert.deepEqual(h1.metadata, h2.metadata);
    assert.deepEqual([...h1.tensors.keys()].sort(), [...h2.tensors.keys()].sort());
    for (const [k, e] of h2.tensors) assert.deepEqual([h1.tensors.get(k)!.shape, h1.tensors.get(k)!.dtype], [e.shape, e.dtype], k);
    const c1 = JSON.parse(readFileSync(join(out2, "adapter_config.json"), "utf8"));
    const c2 = JSON.parse(readFileSync(join(adapter, "adapter_config.json"), "utf8"));
    delete c1.base_model_name_or_path;
    delete c2.base_model_name_or_path;
    assert.deepEqual(c1, c2);
  });
}

test("fresh prompt/prefix tuning configs give peft's config fields and parameter counts", async () => {
  for (const [dir, cfg] of [
    ["bert-prompt-tuning", new PromptTuningConfig({ taskType: "SEQ_CLS", numVirtualTokens: 4, promptTuningInit: "RANDOM" })],
    ["bert-prefix-tuning", new PrefixTuningConfig({ taskType: "SEQ_CLS", numVirtualTokens: 4 })],
  ] as const) {
    manualSeed(13);
    const pm = getPeftModel(await loadBert(), cfg);
    const G = gjson(`${dir}/golden.json`);
    assert.equal(pm.trainableParametersLine(), G.print_trainable_parameters);
    const d = tmp();
    await pm.savePretrained(d);
    const c1 = JSON.parse(readFileSync(join(d, "adapter_config.json"), "utf8"));
    const c2 = JSON.parse(readFileSync(join(GOLDEN, dir, "adapter", "adapter_config.json"), "utf8"));
    delete c1.base_model_name_or_path;
    delete c2.base_model_name_or_path;
    assert.deepEqual(c1, c2, dir);
  }
});

test("prompt tuning TEXT init copies the init text's word embeddings (repeated to fill)", async () => {
  const model = await loadBert();
  const cfg = new PromptTuningConfig({ taskType: "SEQ_CLS", numVirtualTokens: 5, promptTuningInit: "TEXT", promptTuningInitText: "hello world" });
  const pm = getPeftModel(model, cfg, "default", { tokenizer: { encode: () => [2, 13, 14, 3] } });
  const w = model.getInputEmbeddings().weight.toArray() as number[][];
  const p = promptEncoderOf(pm).get("default").embedding.weight.toArray() as number[][];
  assert.deepEqual(p, [w[2], w[13], w[14], w[3], w[2]]);
  assert.throws(() => getPeftModel(model, cfg), /needs a tokenizer/);
});

test("p-tuning (MLP encoder): trains embedding and MLP, saves encoded prompts, reloads for inference with equal logits", async () => {
  manualSeed(3);
  const G = gjson("bert-lora/golden.json");
  const b = bertBatch(G);
  const inputs = { inputIds: b.inputIds, attentionMask: b.attentionMask, tokenTypeIds: b.tokenTypeIds };
  const pm = getPeftModel(await loadBert(), new PromptEncoderConfig({ taskType: "SEQ_CLS", numVirtualTokens: 3, encoderHiddenSize: 16 }));
  const names = pm.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n).sort();
  assert.deepEqual(names, [
    "base_model.classifier.modules_to_save.default.bias", "base_model.classifier.modules_to_save.default.weight",
    "prompt_encoder.default.embedding.weight",
    "prompt_encoder.default.mlp_head.0.bias", "prompt_encoder.default.mlp_head.0.weight",
    "prompt_encoder.default.mlp_head.2.bias", "prompt_encoder.default.mlp_head.2.weight",
    "prompt_encoder.default.mlp_head.4.bias", "prompt_encoder.default.mlp_head.4.weight",
  ]);
  const out = pm.forward({ ...inputs, labels: b.labels });
  out.loss!.backward();
  for (const [n, p] of pm.namedParameters()) if (p.requiresGrad) assert.ok(p.grad, `${n} has a gradient`);
  const logits = noGrad(() => pm.forward(inputs)).logits!;
  const d = tmp();
  await pm.savePretrained(d);
  const again = await PeftModel.fromPretrained(await loadBert(), d);
  assertClose(noGrad(() => again.forward(inputs)).logits!, logits, "reloaded p-tuning logits");
  await assert.rejects(PeftModel.fromPretrained(await loadBert(), d, { isTrainable: true }), /encoded prompts only/);
});

test("prefix tuning with projection: trains embedding + MLP, saves the projected prefix, reloads for inference", async () => {
  manualSeed(21);
  const G = gjson("bert-lora/golden.json");
  const b = bertBatch(G);
  const inputs = { inputIds: b.inputIds, attentionMask: b.attentionMask, tokenTypeIds: b.tokenTypeIds };
  const pm = getPeftModel(await loadBert(), new PrefixTuningConfig({ taskType: "SEQ_CLS", numVirtualTokens: 3, prefixProjection: true, encoderHiddenSize: 16 }));
  const shapes = pm.namedParameters().filter(([n]) => n.startsWith("prompt_encoder")).map(([n, p]) => `${n} [${p.shape}]`);
  assert.deepEqual(shapes, [
    "prompt_encoder.default.embedding.weight [3,32]",
    "prompt_encoder.default.transform.0.weight [16,32]", "prompt_encoder.default.transform.0.bias [16]",
    "prompt_encoder.default.transform.2.weight [128,16]", "prompt_encoder.default.transform.2.bias [128]",
  ]);
  pm.forward({ ...inputs, labels: b.labels }).loss!.backward();
  for (const [n, p] of pm.namedParameters()) if (n.startsWith("prompt_encoder")) assert.ok(p.grad, n);
  const logits = noGrad(() => pm.forward(inputs)).logits!;
  const d = tmp();
  await pm.savePretrained(d);
  assert.deepEqual(readSafetensorsHeader(join(d, "adapter_model.safetensors")).tensors.get("prompt_embeddings")!.shape, [3, 128]);
  const again = await PeftModel.fromPretrained(await loadBert(), d);
  assertClose(noGrad(() => again.forward(inputs)).logits!, logits, "reloaded projected prefix");
});
