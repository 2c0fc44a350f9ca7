// Several adapters on one model (golden/bert-multi-adapter): loadAdapter, setAdapter, the three
// weighted combinations vs peft (linear/cat factors exactly, svd via ΔW and logits), save layout
// with the non-default adapter in a subfolder, deleteAdapter.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { PeftModel } from "../../src/peft/peft_model.js";
import { LoraLayer } from "../../src/peft/lora/index.js";
import { GOLDEN, MERGE_TOL, assertClose, bertBatch, gjson, gtensors, loadBert, tmp } from "./helpers.js";

const G = gjson("bert-multi-adapter/golden.json");
const DIR = join(GOLDEN, "bert-multi-adapter", "adapters");
const b = bertBatch(G);
const inputs = { inputIds: b.inputIds, attentionMask: b.attentionMask, tokenTypeIds: b.tokenTypeIds };

async function twoAdapters(): Promise<PeftModel> {
  const pm = await PeftModel.fromPretrained(await loadBert(), DIR);
  pm.loadAdapter(join(DIR, "other"), "other");
  return pm;
}

test("multi-adapter: each adapter's logits after setAdapter", async () => {
  const pm = await twoAdapters();
  assertClose(noGrad(() => pm.forward(inputs)).logits!, G.logits_default, "default");
  pm.setAdapter("other");
  assertClose(noGrad(() => pm.forward(inputs)).logits!, G.logits_other, "other");
  pm.setAdapter("default");
  assertClose(noGrad(() => pm.forward(inputs)).logits!, G.logits_default, "default again");
});

for (const [name, spec] of Object.entries(G.combined as Record<string, any>)) {
  test(`multi-adapter: add_weighted_adapter ${spec.combination_type} matches peft`, async () => {
    const pm = await twoAdapters();
    pm.addWeightedAdapter(["default", "other"], spec.weights, name, spec.combination_type, spec.kwargs.svd_rank);
    pm.setAdapter(name);
    assertClose(noGrad(() => pm.forward(inputs)).logits!, spec.logits, `${name} logits`, MERGE_TOL);
    const layers = pm.getTuner().tunerLayers() as [string, LoraLayer][];
    for (const [k, l] of layers) assert.equal(l.scaling.get(name), G.scaling_of_combined[name][`base_model.model.${k}`]);
    const deltas = gtensors(`bert-multi-adapter/${name}_delta_weights.safetensors`);
    for (const [k, l] of layers) assertClose(l.getDeltaWeight(name), deltas.get(`base_model.model.${k}.delta_weight`)!, `${name} ΔW ${k}`, { abs: 1e-6, rel: 1e-4 });
    if (spec.combination_type !== "svd") {
      const params = new Map(pm.namedParameters());
      for (const [k, t] of gtensors(`bert-multi-adapter/${name}_weights.safetensors`)) assertClose(params.get(k)!, t, k, { abs: 1e-6, rel: 1e-4 });
    }
  });
}

test("multi-adapter: save puts the non-default adapter in a subfolder; delete removes it", async () => {
  const pm = await twoAdapters();
  const dir = tmp();
  await pm.savePretrained(dir);
  for (const f of G.saved_layout as string[]) if (f !== "README.md") assert.ok(existsSync(join(dir, f)), f);
  const cfg = JSON.parse(readFileSync(join(dir, "other", "adapter_config.json"), "utf8"));
  const gold = JSON.parse(readFileSync(join(DIR, "other", "adapter_config.json"), "utf8"));
  delete cfg.base_model_name_or_path;
  delete gold.base_model_name_or_path;
  cfg.target_modules.sort();
  gold.target_modules.sort();
  assert.deepEqual(cfg, gold);
  const again = await PeftModel.fromPretrained(await loadBert(), join(dir, "other"), { adapterName: "other" });
  assertClose(noGrad(() => again.forward(inputs)).logits!, G.logits_other, "other reloaded from subfolder");
  pm.deleteAdapter("other");
  assert.deepEqual([...pm.peftConfig.keys()], ["default"]);
  assert.ok(!pm.stateDict().has("base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.other.weight"));
  assertClose(noGrad(() => pm.forward(inputs)).logits!, G.logits_default, "default after delete");
  assert.throws(() => pm.setAdapter("other"), /not found/);
});
