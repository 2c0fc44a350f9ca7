// LoHa, LoKr and VeRA on BERT (no peft golden files for these): peft's parameter and saved key
// names, identity at init, merge ≡ unmerged ≡ mergeAndUnload, gradients only on adapter
// parameters, and save → reload round trips.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { noGrad } from "../../src/tensor/autograd.js";
import { manualSeed } from "../../src/tensor/random.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { readSafetensorsHeader } from "../../src/io/safetensors.js";
import { PeftModel, getPeftModel } from "../../src/peft/peft_model.js";
import type { PeftConfig } from "../../src/peft/config.js";
import { LoHaConfig } from "../../src/peft/loha/index.js";
import { LoKrConfig, factorization, kron } from "../../src/peft/lokr/index.js";
import { VeraConfig } from "../../src/peft/vera/index.js";
import { assertClose, bertBatch, gjson, loadBert, tmp } from "./helpers.js";

const G = gjson("bert-lora/golden.json");
const b = bertBatch(G);
const inputs = { inputIds: b.inputIds, attentionMask: b.attentionMask, tokenTypeIds: b.tokenTypeIds };
const TOL = { abs: 2e-5, rel: 1e-4 };

const CASES: { name: string; make: (init: boolean) => PeftConfig; saved: string[] }[] = [
  {
    name: "LoHa",
    make: (init) => new LoHaConfig({ r: 4, alpha: 8, targetModules: ["query", "value"], initWeights: init }),
    saved: ["hada_w1_a [32,4]", "hada_w1_b [4,32]", "hada_w2_a [32,4]", "hada_w2_b [4,32]"],
  },
  {
    name: "LoKr",
    make: (init) => new LoKrConfig({ r: 1, alpha: 2, targetModules: ["query", "value"], initWeights: init, decomposeBoth: true }),
    saved: ["lokr_w1_a [4,1]", "lokr_w1_b [1,4]", "lokr_w2_a [8,1]", "lokr_w2_b [1,8]"],
  },
  {
    name: "VeRA",
    make: (init) => new VeraConfig({ r: 8, targetModules: ["query", "value"], initWeights: init }),
    saved: ["vera_lambda_b [32]", "vera_lambda_d [8]"],
  },
];

for (const c of CASES) {
  test(`${c.name}: names, identity at init, merge invariants, gradients, save/load`, async () => {
    const base = gjson("bert-tiny-random/golden.json").logits;
    manualSeed(5);
    const fresh = getPeftModel(await loadBert(), c.make(true));
    assertClose(noGrad(() => fresh.forward(inputs)).logits!, base, "identity at init", { abs: 1e-6, rel: 1e-5 });
    manualSeed(6);
    const pm = getPeftModel(await loadBert(), c.make(false));
    const out = noGrad(() => pm.forward(inputs)).logits!;
    assert.notDeepEqual(Array.from(out.f32()), base.flat());
    pm.forward({ ...inputs, labels: b.labels }).loss!.backward();
    for (const [n, p] of pm.namedParameters()) {
      if (p.requiresGrad) assert.ok(p.grad, `${n} has a gradient`);
      else assert.equal(p.grad, null, `${n} frozen without gradient buffer`);
    }
    const dir = tmp();
    await pm.savePretrained(dir);
    const h = readSafetensorsHeader(join(dir, "adapter_model.safetensors"));
    const q0 = "base_model.model.bert.encoder.layer.0.attention.self.query.";
    const got = [...h.tensors.entries()].filter(([k]) => k.startsWith(q0)).map(([k, e]) => `${k.slice(q0.length)} [${e.shape}]`).sort();
    assert.deepEqual(got, c.saved.slice().sort());
    if (c.name === "VeRA") assert.deepEqual([...h.tensors.keys()].filter((k) => !k.startsWith("base_model.model.")).sort(), ["base_model.vera_A", "base_model.vera_B"]);
    manualSeed(99);
    const again = await PeftModel.fromPretrained(await loadBert(), dir);
    assertClose(noGrad(() => again.forward(inputs)).logits!, out, "reloaded", { abs: 1e-6, rel: 1e-5 });
    pm.mergeAdapter();
    assertClose(noGrad(() => pm.forward(inputs)).logits!, out, "merged", TOL);
    pm.unmergeAdapter();
    assertClose(noGrad(() => pm.forward(inputs)).logits!, out, "unmerged", TOL);
    assertClose(noGrad(() => pm.mergeAndUnload().forward(inputs)).logits!, out, "mergeAndUnload", TOL);
  });
}

test("LoKr factorization and kron follow peft / torch.kron", () => {
  assert.deepEqual(factorization(32), [4, 8]);
  assert.deepEqual(factorization(37), [1, 37]);
  assert.deepEqual(factorization(64, 4), [4, 16]);
  assert.deepEqual(factorization(36), [6, 6]);
  const k = kron(Tensor.from([[1, 2], [3, 4]]), Tensor.from([[0, 5], [6, 7]]));
  assert.deepEqual(k.toArray(), [[0, 5, 0, 10], [6, 7, 12, 14], [0, 15, 0, 20], [18, 21, 24, 28]]);
});

test("VeRA rejects save_projection=false (projections cannot be regenerated as torch does)", () => {
  assert.throws(() => new VeraConfig({ saveProjection: false }), /save_projection=false is not supported/);
});
