// LoRA on BERT against peft 0.21 (golden/bert-lora): logits, loss, grads, AdamW step, merge,
// disable, save/load layouts, and the in-memory parameter names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { manualSeed } from "../../src/tensor/random.js";
import { loadSafetensors, readSafetensorsHeader } from "../../src/io/safetensors.js";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { PeftModel, getPeftModel } from "../../src/peft/peft_model.js";
import { LoraConfig } from "../../src/peft/lora/index.js";
import {
  GOLDEN, GRAD_TOL, MERGE_TOL, MiniAdamW, adamwFirstStep, assertClose, bertBatch, clipGradNorm, gjson, gtensors, loadBert, sortedKeys, tmp,
} from "./helpers.js";

const G = gjson("bert-lora/golden.json");
const ADAPTER = join(GOLDEN, "bert-lora", "adapter");
const batch = bertBatch(G);
const inputs = { inputIds: batch.inputIds, attentionMask: batch.attentionMask, tokenTypeIds: batch.tokenTypeIds };

test("bert-lora: reloaded adapter reproduces peft's logits; disabled adapter gives the base logits", async () => {
  const pm = await PeftModel.fromPretrained(await loadBert(), ADAPTER);
  const out = noGrad(() => pm.forward(inputs));
  assertClose(out.logits!, G.logits_with_adapter, "logits_with_adapter");
  const off = noGrad(() => pm.disableAdapter(() => pm.forward(inputs)));
  assertClose(off.logits!, G.logits_adapter_disabled, "logits_adapter_disabled");
  assertClose(noGrad(() => pm.forward(inputs)).logits!, G.logits_with_adapter, "logits after re-enabling");
  assert.equal(pm.trainableParametersLine(), "trainable params: 0 || all params: 23,406 || trainable%: 0.0000");
});

test("bert-lora: in-memory names and shapes equal peft's state_dict", async () => {
  const pm = await PeftModel.fromPretrained(await loadBert(), ADAPTER, { isTrainable: true });
  const ours: Record<string, number[]> = {};
  for (const [k, t] of pm.stateDict()) ours[k] = t.shape;
  assert.deepEqual(sortedKeys(ours), sortedKeys(G.peft_state_dict_keys_and_shapes));
  for (const [k, s] of Object.entries(G.peft_state_dict_keys_and_shapes)) assert.deepEqual(ours[k], s, k);
  assert.equal(pm.trainableParametersLine(), G.print_trainable_parameters);
  const trainable = pm.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n);
  assert.deepEqual(trainable.sort(), [...G.trainable_param_names].sort());
});

test("bert-lora: loss, adapter gradients (base weights get no gradient buffers) and one AdamW step", async () => {
  const pm = await PeftModel.fromPretrained(await loadBert(), ADAPTER, { isTrainable: true });
  const init = gtensors("bert-lora/initial_trainable_params.safetensors");
  const params = new Map(pm.namedParameters());
  for (const [k, t] of init) assertClose(params.get(k)!, t, `initial ${k}`, { abs: 0, rel: 0 });
  const out = pm.forward({ ...inputs, labels: batch.labels });
  assertClose(out.loss!, G.loss, "loss");
  out.loss!.backward();
  const grads = gtensors("bert-lora/grads.safetensors");
  assert.deepEqual(sortedKeys(grads), [...G.grad_names].sort());
  for (const [k, g] of grads) assertClose(params.get(k)!.grad!, g, `grad ${k}`, GRAD_TOL);
  for (const [n, p] of params) {
    if (!p.requiresGrad) assert.equal(p.grad, null, `frozen ${n} must not get a gradient buffer`);
  }
  const a = G.adamw_one_step;
  adamwFirstStep(pm.parameters().filter((p) => p.requiresGrad), { lr: a.lr, weightDecay: a.weight_decay, betas: a.betas, eps: a.eps });
  const after = gtensors("bert-lora/after_one_adamw_step.safetensors");
  for (const [k, t] of after) assertClose(params.get(k)!, t, `after step ${k}`, { abs: 1e-6, rel: 1e-4 });
  const loss2 = noGrad(() => pm.forward({ ...inputs, labels: batch.labels })).loss!;
  assertClose(loss2, a.loss_after_step, "loss after one AdamW step");
});

test("bert-lora: merge / unmerge / mergeAndUnload match peft, and a merged model saves as a plain model", async () => {
  const pm = await PeftModel.fromPretrained(await loadBert(), ADAPTER);
  pm.mergeAdapter();
  assertClose(noGrad(() => pm.forward(inputs)).logits!, G.logits_merged, "merged logits", MERGE_TOL);
  pm.unmergeAdapter();
  assertClose(noGrad(() => pm.forward(inputs)).logits!, G.logits_with_adapter, "unmerged logits", MERGE_TOL);
  const merged = pm.mergeAndUnload();
  const sel = gtensors("bert-lora/merged_selected_weights.safetensors");
  const sd = merged.stateDict();
  for (const [k, t] of sel) assertClose(sd.get(k)!, t, `merged ${k}`, MERGE_TOL);
  assert.ok(![...sd.keys()].some((k) => k.includes("lora_") || k.includes("base_layer") || k.includes("modules_to_save")), "plain names after mergeAndUnload");
  const logits = noGrad(() => merged.forward(inputs)).logits!;
  assertClose(logits, G.logits_merged, "mergeAndUnload logits", MERGE_TOL);
  const dir = tmp();
  await merged.savePretrained(dir);
  const again = await AutoModelForSequenceClassification.fromPretrained(dir, { numLabels: 2 });
  assertClose(noGrad(() => again.forward(inputs)).logits!, logits, "reloaded merged model", { abs: 0, rel: 0 });
});

test("bert-lora: savePretrained writes peft's layout (keys, shapes, dtypes, metadata, config) and reloads", async () => {
  const pm = await PeftModel.fromPretrained(await loadBert(), ADAPTER);
  const dir = tmp();
  await pm.savePretrained(dir);
  const ours = readSafetensorsHeader(join(dir, "adapter_model.safetensors"));
  const theirs = readSafetensorsHeader(join(ADAPTER, "adapter_model.safetensors"));
  assert.deepEqual(ours.metadata, { format: "pt" });
  assert.deepEqual([...ours.tensors.keys()].sort(), [...theirs.tensors.keys()].sort());
  for (const [k, e] of theirs.tensors) {
    assert.deepEqual(ours.tensors.get(k)!.shape, e.shape, k);
    assert.equal(ours.tensors.get(k)!.dtype, e.dtype, k);
  }
  const a = loadSafetensors(join(dir, "adapter_model.safetensors"));
  for (const [k, t] of loadSafetensors(join(ADAPTER, "adapter_model.safetensors"))) assertClose(a.get(k)!, t, k, { abs: 0, rel: 0 });
  const ourCfg = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
  const theirCfg = JSON.parse(readFileSync(join(ADAPTER, "adapter_config.json"), "utf8"));
  delete ourCfg.base_model_name_or_path;
  delete theirCfg.base_model_name_or_path;
  assert.deepEqual(ourCfg, theirCfg);
  const again = await PeftModel.fromPretrained(await loadBert(), dir);
  assertClose(noGrad(() => again.forward(inputs)).logits!, G.logits_with_adapter, "logits after our save + reload");
});

test("bert-lora: a fresh getPeftModel has peft's names, counts and saved config", async () => {
  manualSeed(42);
  const cfg = new LoraConfig({ taskType: "SEQ_CLS", r: 4, loraAlpha: 8, targetModules: ["query", "value"], loraDropout: 0, initLoraWeights: false });
  const pm = getPeftModel(await loadBert(), cfg);
  assert.equal(pm.trainableParametersLine(), G.print_trainable_parameters);
  const ours: Record<string, number[]> = {};
  for (const [k, t] of pm.stateDict()) ours[k] = t.shape;
  assert.deepEqual(ours, G.peft_state_dict_keys_and_shapes);
  const dir = tmp();
  await pm.savePretrained(dir);
  const text = readFileSync(join(dir, "adapter_config.json"), "utf8");
  assert.equal(JSON.parse(text).base_model_name_or_path, join(GOLDEN, "bert-tiny-random"), "the base model's folder, as peft records it");
  const golden = readFileSync(join(ADAPTER, "adapter_config.json"), "utf8");
  const norm = (s: string) => {
    const o = JSON.parse(s);
    delete o.base_model_name_or_path;
    o.target_modules = [...o.target_modules].sort();
    return o;
  };
  assert.deepEqual(norm(text), norm(golden));
  // Python's json.dumps(indent=2, sort_keys=True): same text once the free fields agree
  const canon = (s: string) => s.replace(/"base_model_name_or_path": [^\n]*\n/, "").replace(/"target_modules": \[[^\]]*\]/, "T");
  assert.equal(canon(text), canon(golden));
  // B is random (init_lora_weights=false) so the adapter changes the logits
  const base = noGrad(() => pm.disableAdapter(() => pm.forward(inputs))).logits!;
  const withA = noGrad(() => pm.forward(inputs)).logits!;
  assert.notDeepEqual(Array.from(base.f32()), Array.from(withA.f32()));
});

test("an adapter written by transformers.Trainer loads with the trained values (golden/bert-lora-trainer)", async () => {
  const pm = await PeftModel.fromPretrained(await loadBert(), join(GOLDEN, "bert-lora-trainer", "adapter_after_training"), { isTrainable: true });
  const params = new Map(pm.namedParameters());
  const final = gtensors("bert-lora-trainer/final_trainable_params.safetensors");
  assert.deepEqual([...final.keys()].sort(), pm.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n).sort());
  for (const [k, t] of final) assertClose(params.get(k)!, t, k, { abs: 0, rel: 0 });
});

for (const [key, file, maxNorm] of [["train_10_steps", "after_10_steps", 1.0], ["train_10_steps_clip_0.1", "after_10_steps_clip0.1", 0.1]] as const) {
  test(`bert-lora: ${key} replays peft's 10-step run (losses, grad norms, final params and logits)`, async () => {
    const run = G.train_10_steps;
    const log = G[key].log;
    const pm = await PeftModel.fromPretrained(await loadBert(), ADAPTER, { isTrainable: true });
    const params = pm.parameters().filter((p) => p.requiresGrad);
    const opt = new MiniAdamW(params, { weightDecay: 0.01, betas: [0.9, 0.999], eps: 1e-8 });
    const lrAt = (step: number) => 1e-3 * (step < 2 ? step / 2 : Math.max(0, (10 - step) / 8));
    for (let k = 1; k <= 10; k++) {
      const r0 = ((k - 1) % 3) * 4;
      const rows = (x: number[][] | number[]) => x.slice(r0, r0 + 4);
      const out = pm.forward({ inputIds: rows(run.input_ids), attentionMask: rows(run.attention_mask), tokenTypeIds: rows(run.token_type_ids), labels: rows(run.labels) as number[] });
      assertClose(out.loss!, log[k - 1].loss, `loss at step ${k}`, { abs: 1e-5, rel: 1e-4 });
      out.loss!.backward();
      const norm = clipGradNorm(params, maxNorm);
      assertClose(norm, log[k - 1].grad_norm_before_clip, `grad norm at step ${k}`, { abs: 1e-5, rel: 1e-3 });
      assert.equal(lrAt(k - 1), log[k - 1].lr);
      opt.step(lrAt(k - 1));
      pm.zeroGrad();
    }
    const named = new Map(pm.namedParameters());
    for (const [n, t] of gtensors(`bert-lora/${file}.safetensors`)) assertClose(named.get(n)!, t, `final ${n}`, { abs: 1e-5, rel: 1e-4 });
    assertClose(noGrad(() => pm.forward(inputs)).logits!, G[key].final_logits_on_fixed_batch, "final logits");
  });
}
