// Other peft 0.21 golden cases: rsLoRA, DoRA, all-linear, IA3, GPT-2 (Conv1D, fan_in_fan_out) and
// Llama LoRA. Each: reload peft's adapter, compare logits, loss, grads, merged logits, the
// trainable-parameter line, and our own savePretrained layout against peft's file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { readSafetensorsHeader } from "../../src/io/safetensors.js";
import { PeftModel } from "../../src/peft/peft_model.js";
import type { PreTrainedModel } from "../../src/models/modeling_utils.js";
import {
  GOLDEN, GRAD_TOL, MERGE_TOL, assertClose, bertBatch, gjson, gtensors, loadBert, loadCausal, sortedKeys, tmp,
} from "./helpers.js";

async function sameSavedLayout(pm: PeftModel, goldenAdapter: string): Promise<void> {
  const dir = tmp();
  await pm.savePretrained(dir);
  const ours = readSafetensorsHeader(join(dir, "adapter_model.safetensors"));
  const theirs = readSafetensorsHeader(join(goldenAdapter, "adapter_model.safetensors"));
  assert.deepEqual(ours.metadata, theirs.metadata);
  assert.deepEqual([...ours.tensors.keys()].sort(), [...theirs.tensors.keys()].sort());
  for (const [k, e] of theirs.tensors) {
    assert.deepEqual(ours.tensors.get(k)!.shape, e.shape, k);
    assert.equal(ours.tensors.get(k)!.dtype, e.dtype, k);
  }
  const a = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
  const b = JSON.parse(readFileSync(join(goldenAdapter, "adapter_config.json"), "utf8"));
  for (const o of [a, b]) {
    delete o.base_model_name_or_path;
    if (Array.isArray(o.target_modules)) o.target_modules.sort();
    if (Array.isArray(o.feedforward_modules)) o.feedforward_modules.sort();
  }
  assert.deepEqual(a, b);
}

interface BertCase {
  name: string;
  dir: string;
  logitsKey: string;
  merge: boolean;
}
const BERT_CASES: BertCase[] = [
  { name: "rslora+dora", dir: "bert-lora-rslora-dora", logitsKey: "logits", merge: true },
  { name: "rslora only", dir: "bert-lora-rslora-dora/rslora_only", logitsKey: "logits", merge: true },
  { name: "all-linear", dir: "bert-lora-all-linear", logitsKey: "logits", merge: true },
  { name: "ia3", dir: "bert-ia3", logitsKey: "logits", merge: true },
];

for (const c of BERT_CASES) {
  test(`golden ${c.name}: logits, loss, grads, merged logits, counts, saved layout`, async () => {
    const G = gjson(`${c.dir}/golden.json`);
    const adapter = join(GOLDEN, c.dir, "adapter");
    const b = bertBatch(G);
    const inputs = { inputIds: b.inputIds, attentionMask: b.attentionMask, tokenTypeIds: b.tokenTypeIds };
    const pm = await PeftModel.fromPretrained(await loadBert(), adapter, { isTrainable: true });
    assert.equal(pm.trainableParametersLine(), G.print_trainable_parameters);
    const ours: Record<string, number[]> = {};
    for (const [k, t] of pm.stateDict()) ours[k] = t.shape;
    assert.deepEqual(ours, Object.fromEntries(Object.entries(G.peft_state_dict_keys_and_shapes)));
    assertClose(noGrad(() => pm.forward(inputs)).logits!, G[c.logitsKey], "logits");
    const out = pm.forward({ ...inputs, labels: b.labels });
    assertClose(out.loss!, G.loss, "loss");
    out.loss!.backward();
    const params = new Map(pm.namedParameters());
    const grads = gtensors(`${c.dir}/grads.safetensors`);
    assert.deepEqual(sortedKeys(grads), [...G.grad_names].sort());
    for (const [k, g] of grads) assertClose(params.get(k)!.grad!, g, `grad ${k}`, GRAD_TOL);
    for (const [n, p] of params) if (!p.requiresGrad) assert.equal(p.grad, null, `frozen ${n} has no gradient buffer`);
    await sameSavedLayout(pm, adapter);
    if (c.merge) {
      pm.mergeAdapter();
      assertClose(noGrad(() => pm.forward(inputs)).logits!, G.logits_merged, "merged logits", MERGE_TOL);
      pm.unmergeAdapter();
      assertClose(noGrad(() => pm.forward(inputs)).logits!, G[c.logitsKey], "unmerged logits", MERGE_TOL);
      const plain = pm.mergeAndUnload();
      assertClose(noGrad(() => plain.forward(inputs)).logits!, G.logits_merged, "mergeAndUnload logits", MERGE_TOL);
    }
  });
}

test("golden ia3: adapted and feed-forward modules resolve as peft's", async () => {
  const G = gjson("bert-ia3/golden.json");
  const pm = await PeftModel.fromPretrained(await loadBert(), join(GOLDEN, "bert-ia3", "adapter"));
  const layers = pm.getTuner().tunerLayers();
  assert.deepEqual(layers.map(([k]) => `base_model.model.${k}`).sort(), [...G.adapted_modules].sort());
  const ff = layers.filter(([, l]) => (l as unknown as { isFeedforward: boolean }).isFeedforward).map(([k]) => `base_model.model.${k}`);
  assert.deepEqual(ff.sort(), [...G.feedforward_modules_resolved].sort());
});

test("golden all-linear: the saved config lists the resolved module names", async () => {
  const G = gjson("bert-lora-all-linear/golden.json");
  const pm = await PeftModel.fromPretrained(await loadBert(), join(GOLDEN, "bert-lora-all-linear", "adapter"));
  assert.deepEqual(pm.getTuner().tunerLayers().map(([k]) => `base_model.model.${k}`).sort(), [...G.adapted_modules].sort());
});

async function causalCase(name: "gpt2-tiny-random" | "llama-tiny-random"): Promise<{ pm: PeftModel; G: any; inputs: any; labels: number[][] }> {
  const G = gjson(`${name}/lora/golden.json`);
  const model: PreTrainedModel = await loadCausal(name);
  const pm = await PeftModel.fromPretrained(model, join(GOLDEN, name, "lora", "adapter"), { isTrainable: true });
  return { pm, G, inputs: { inputIds: G.inputs.input_ids, attentionMask: G.inputs.attention_mask }, labels: G.inputs.labels };
}

for (const name of ["gpt2-tiny-random", "llama-tiny-random"] as const) {
  test(`golden ${name} LoRA: logits, merged logits, loss, grads, counts, saved layout`, async () => {
    const { pm, G, inputs, labels } = await causalCase(name);
    assert.equal(pm.trainableParametersLine(), G.print_trainable_parameters);
    const ours: Record<string, number[]> = {};
    for (const [k, t] of pm.stateDict()) ours[k] = t.shape;
    for (const [k, s] of Object.entries(G.peft_state_dict_keys_and_shapes)) assert.deepEqual(ours[k], s, k);
    const gl = gtensors(`${name}/lora/logits.safetensors`);
    assertClose(noGrad(() => pm.forward(inputs)).logits!, gl.get("logits")!, "logits");
    const out = pm.forward({ ...inputs, labels });
    assertClose(out.loss!, G.loss, "loss");
    out.loss!.backward();
    const params = new Map(pm.namedParameters());
    const grads = gtensors(`${name}/lora/grads.safetensors`);
    assert.deepEqual(sortedKeys(grads), [...G.grad_names].sort());
    for (const [k, g] of grads) assertClose(params.get(k)!.grad!, g, `grad ${k}`, GRAD_TOL);
    for (const [n, p] of params) if (!p.requiresGrad) assert.equal(p.grad, null, `frozen ${n} has no gradient buffer`);
    await sameSavedLayout(pm, join(GOLDEN, name, "lora", "adapter"));
    pm.mergeAdapter();
    assertClose(noGrad(() => pm.forward(inputs)).logits!, gl.get("logits_merged")!, "merged logits", MERGE_TOL);
    pm.unmergeAdapter();
    const plain = pm.mergeAndUnload();
    const merged = noGrad(() => plain.forward(inputs)).logits!;
    assertClose(merged, gl.get("logits_merged")!, "mergeAndUnload logits", MERGE_TOL);
    const dir = tmp();
    await plain.savePretrained(dir);
    const again = await loadCausal(name);
    const reloaded = await (again.constructor as unknown as { fromPretrained(d: string): Promise<PreTrainedModel> }).fromPretrained(dir);
    assertClose(noGrad(() => reloaded.forward(inputs)).logits!, merged, "merged model saved and reloaded", { abs: 0, rel: 0 });
  });
}

test("golden llama LoRA: greedy generation through the PeftModel equals peft's", async () => {
  const { generate } = await import("../../src/models/generate.js");
  const G = gjson("llama-tiny-random/lora/golden.json");
  const pm = await PeftModel.fromPretrained(await loadCausal("llama-tiny-random"), join(GOLDEN, "llama-tiny-random", "lora", "adapter"));
  const prompt = G.greedy_generate_with_adapter[0].slice(0, 5);
  const out = generate(pm, [prompt], { maxNewTokens: 10 });
  assert.deepEqual(out, G.greedy_generate_with_adapter);
  const merged = pm.mergeAndUnload();
  assert.deepEqual(generate(merged as never, [prompt], { maxNewTokens: 10 }), G.greedy_generate_with_adapter);
});
