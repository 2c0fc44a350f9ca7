// AdaLoRA: SVD-form layers with peft's names, the orthogonality term in the loss, budget
// allocation down to target_r per layer, and saving cut to the rank pattern + reloading.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { noGrad } from "../../src/tensor/autograd.js";
import { manualSeed } from "../../src/tensor/random.js";
import { readSafetensorsHeader } from "../../src/io/safetensors.js";
import { PeftModel, getPeftModel } from "../../src/peft/peft_model.js";
import { AdaLoraConfig, AdaLoraModel, AdaLoraLayer } from "../../src/peft/adalora/index.js";
import { assertClose, bertBatch, gjson, loadBert, tmp } from "./helpers.js";

const G = gjson("bert-lora/golden.json");
const b = bertBatch(G);
const inputs = { inputIds: b.inputIds, attentionMask: b.attentionMask, tokenTypeIds: b.tokenTypeIds };

test("AdaLoRA: names, orth regulariser, budget schedule to target_r, save cut to the rank pattern, reload", async () => {
  manualSeed(4);
  const cfg = new AdaLoraConfig({ taskType: "SEQ_CLS", initR: 6, targetR: 2, tinit: 1, tfinal: 2, deltaT: 1, totalStep: 8, loraAlpha: 8, targetModules: ["query", "value"] });
  const pm = getPeftModel(await loadBert(), cfg);
  const names = pm.namedParameters().filter(([n]) => n.includes("layer.0.attention.self.query")).map(([n, p]) => `${n.split("query.")[1]} [${p.shape}] ${p.requiresGrad}`);
  assert.deepEqual(names, ["base_layer.weight [32,32] false", "base_layer.bias [32] false", "lora_A.default [6,32] true", "lora_B.default [32,6] true", "lora_E.default [6,1] true", "ranknum.default [1] false"]);
  const tuner = pm.getTuner() as AdaLoraModel;
  // E starts at 0: the adapter is the identity, and the loss carries the orthogonality term
  const plain = noGrad(() => pm.getBaseModel().forward({ ...inputs, labels: b.labels })) as { loss: { item(): number } };
  const withReg = noGrad(() => pm.forward({ ...inputs, labels: b.labels })).loss!.item();
  assert.ok(withReg > plain.loss.item() + 1e-3, `regulariser adds to the loss (${withReg} vs ${plain.loss.item()})`);
  const lr = 0.05;
  for (let step = 1; step <= 8; step++) {
    const out = pm.forward({ ...inputs, labels: b.labels });
    out.loss!.backward();
    noGrad(() => {
      for (const p of pm.parameters()) {
        if (!p.requiresGrad || !p.grad) continue;
        const d = p.data as Float32Array, g = p.grad.f32();
        for (let i = 0; i < d.length; i++) d[i] -= lr * g[i];
      }
    });
    // as peft's loop: backward → optimizer step → update_and_allocate → zero_grad
    tuner.updateAndAllocate(step);
    pm.zeroGrad();
  }
  const pattern = (pm.peftConfig.get("default") as AdaLoraConfig).rankPattern!;
  assert.deepEqual(Object.keys(pattern).sort(), [0, 1].flatMap((l) => [`bert.encoder.layer.${l}.attention.self.query.lora_E`, `bert.encoder.layer.${l}.attention.self.value.lora_E`]).sort());
  const kept = Object.values(pattern).reduce((s, k) => s + k.filter(Boolean).length, 0);
  assert.equal(kept, 2 * 4, "budget = target_r × layers");
  for (const [key, l] of tuner.adaLayers()) {
    const e = (l as AdaLoraLayer).lora_E.get("default").f32();
    pattern[`${key}.lora_E`].forEach((k, j) => { if (!k) assert.equal(e[j], 0); });
  }
  const logits = noGrad(() => pm.forward(inputs)).logits!;
  const dir = tmp();
  await pm.savePretrained(dir);
  const saved = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
  assert.equal(saved.peft_type, "ADALORA");
  assert.deepEqual(saved.rank_pattern, pattern);
  const h = readSafetensorsHeader(join(dir, "adapter_model.safetensors"));
  const q = "base_model.model.bert.encoder.layer.0.attention.self.query";
  const r = pattern["bert.encoder.layer.0.attention.self.query.lora_E"].filter(Boolean).length;
  assert.deepEqual(h.tensors.get(`${q}.lora_A`)!.shape, [r, 32]);
  assert.deepEqual(h.tensors.get(`${q}.lora_B`)!.shape, [32, r]);
  assert.deepEqual(h.tensors.get(`${q}.lora_E`)!.shape, [r, 1]);
  assert.ok(!h.tensors.has(`${q}.ranknum`));
  const again = await PeftModel.fromPretrained(await loadBert(), dir);
  assertClose(noGrad(() => again.forward(inputs)).logits!, logits, "reloaded AdaLoRA logits");
  pm.mergeAdapter();
  assertClose(noGrad(() => pm.forward(inputs)).logits!, logits, "merged AdaLoRA", { abs: 2e-5, rel: 1e-4 });
});

test("AdaLoRA config checks: total_step required, schedule must leave a budgeting phase", () => {
  assert.throws(() => new AdaLoraConfig({}), /total_step/);
  assert.throws(() => new AdaLoraConfig({ totalStep: 10, tinit: 5, tfinal: 5 }), /no budgeting phase/);
});
