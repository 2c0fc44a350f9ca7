// What the adapter changed: ΔW = s·B·A statistics against a direct computation with the explicit
// [out, in] ΔW, on an adapter saved by HF PEFT (test/fixtures/interop/roberta-lora).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadSafetensors } from "../../src/io/safetensors.js";
import { readJsonFileChecked } from "../../src/io/json.js";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { PeftModel, getPeftModel } from "../../src/peft/peft_model.js";
import { LoraConfig } from "../../src/peft/lora/index.js";
import { svd } from "../../src/peft/linalg.js";
import { adapterDelta, adapterDeltaFromTensors, adapterDeltaJSON, effectiveRank, loraDeltaSingularValues } from "../../src/explain/index.js";
import type { Tensor } from "../../src/tensor/tensor.js";

const FIX = join(import.meta.dirname, "..", "fixtures", "interop");
const close = (a: number, b: number, rel: number, what: string) => assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-12), `${what}: ${a} vs ${b}`);

/** ΔW = s·B·A written out [out, in] in float64. */
function explicitDelta(A: Tensor, B: Tensor, s: number): { d: Float64Array; out: number; inF: number } {
  const [r, inF] = A.shape, out = B.shape[0], a = A.f32(), b = B.f32(), d = new Float64Array(out * inF);
  for (let i = 0; i < out; i++) for (let j = 0; j < inF; j++) {
    let acc = 0;
    for (let k = 0; k < r; k++) acc += b[i * r + k] * a[k * inF + j];
    d[i * inF + j] = s * acc;
  }
  return { d, out, inF };
}

test("adapter delta: ‖ΔW‖, ‖ΔW‖/‖W‖, singular values and effective rank equal the explicit ΔW's (HF PEFT LoRA adapter)", async () => {
  const base = await AutoModelForSequenceClassification.fromPretrained(join(FIX, "roberta-base"), { log: () => {} });
  const pm = await PeftModel.fromPretrained(base, join(FIX, "roberta-lora"), { warn: () => {} });
  const deltas = adapterDelta(pm);
  const tensors = loadSafetensors(join(FIX, "roberta-lora", "adapter_model.safetensors"));
  const cfg = readJsonFileChecked(join(FIX, "roberta-lora", "adapter_config.json"), "adapter_config.json") as { r: number; lora_alpha: number };
  const s = cfg.lora_alpha / cfg.r;
  assert.equal(deltas.length, 2 * 2, "query and value in both layers");
  const state = base.stateDict();
  for (const d of deltas) {
    const A = tensors.get(`base_model.model.${d.name}.lora_A.weight`)!, B = tensors.get(`base_model.model.${d.name}.lora_B.weight`)!;
    assert.ok(A && B, d.name);
    const { d: dw, out, inF } = explicitDelta(A, B, s);
    close(d.deltaNorm, Math.sqrt(dw.reduce((acc, x) => acc + x * x, 0)), 1e-6, `${d.name} ‖ΔW‖`);
    const W = state.get(`${d.name}.base_layer.weight`) ?? state.get(`${d.name}.weight`);
    assert.ok(W, `${d.name} base weight`);
    const wn = Math.sqrt(W!.f32().reduce((acc, x) => acc + x * x, 0));
    close(d.weightNorm!, wn, 1e-6, `${d.name} ‖W‖`);
    close(d.relativeNorm!, d.deltaNorm / wn, 1e-9, `${d.name} relative`);
    const full = Array.from(svd(dw, out, inF).S).sort((x, y) => y - x).slice(0, cfg.r);
    d.singularValues.forEach((sv, k) => close(sv, full[k], 1e-6, `${d.name} σ${k + 1}`));
    const p = full.map((x) => x / full.reduce((a, b) => a + b, 0));
    close(d.effectiveRank, Math.exp(-p.reduce((acc, x) => acc + (x > 0 ? x * Math.log(x) : 0), 0)), 1e-6, `${d.name} effective rank`);
    assert.equal(d.layer, Number(/layer\.(\d+)\./.exec(d.name)![1]));
    assert.ok(d.module === "query" || d.module === "value");
  }
  // from the saved adapter alone: the same ΔW statistics, no base weight
  const alone = adapterDeltaFromTensors(tensors, cfg);
  assert.deepEqual(alone.map((d) => d.name).sort(), deltas.map((d) => d.name).sort());
  for (const d of alone) {
    const m = deltas.find((x) => x.name === d.name)!;
    close(d.deltaNorm, m.deltaNorm, 1e-9, `${d.name} from tensors`);
    assert.equal(d.weightNorm, null);
  }
  const json = adapterDeltaJSON(deltas);
  assert.deepEqual(Object.keys(json.modules[0]), ["name", "layer", "module", "delta_norm", "weight_norm", "relative_norm", "effective_rank", "singular_values"]);
});

test("adapter delta: a fresh LoRA (B = 0) changed nothing; rank-deficient and rank-one ΔW; effective rank bounds", async () => {
  const base = await AutoModelForSequenceClassification.fromPretrained(join(FIX, "roberta-base"), { log: () => {} });
  const pm = getPeftModel(base, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ["query"], taskType: "SEQ_CLS" }));
  for (const d of adapterDelta(pm)) {
    assert.equal(d.deltaNorm, 0);
    assert.equal(d.effectiveRank, 0);
  }
  // B with two equal columns and A with independent rows: rank 1 of r = 2
  const A = Float32Array.from([1, 2, 0, -1, 0.5, 3]), B = Float32Array.from([1, 1, 2, 2, -1, -1, 0, 0]);
  const sv = loraDeltaSingularValues(A, B, 2, 3, 4, 0.5);
  assert.ok(sv[1] < 1e-12 && sv[0] > 0, `rank one: ${sv}`);
  close(effectiveRank(sv), 1, 1e-9, "effective rank of a rank-one ΔW");
  close(effectiveRank([2, 2, 2]), 3, 1e-12, "equal singular values");
});
