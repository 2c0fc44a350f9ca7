// The shared tuner machinery on small hand-built modules: PEFT target matching, injection,
// freezing (frozen weights never get gradient buffers), LoRA inits, merge invariants, Embedding
// LoRA, bias options, rank/alpha patterns, LN tuning and BitFit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Module, ModuleList } from "../../src/nn/module.js";
import { Embedding, LayerNorm, Linear } from "../../src/nn/layers.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { noGrad } from "../../src/tensor/autograd.js";
import { manualSeed } from "../../src/tensor/random.js";
import { ConfigError, PeftError } from "../../src/tensor/errors.js";
import * as ops from "../../src/ops/index.js";
import { matchTarget } from "../../src/peft/target_matching.js";
import { LoraConfig, LoraLayer } from "../../src/peft/lora/index.js";
import { LNTuningConfig } from "../../src/peft/ln_tuning/index.js";
import { applyBitFit } from "../../src/peft/bitfit.js";
import { IA3Config } from "../../src/peft/ia3/index.js";
import { PeftModel, getPeftModel } from "../../src/peft/peft_model.js";
import type { PreTrainedModel } from "../../src/models/modeling_utils.js";
import { assertClose, bertBatch, gjson, loadBert } from "./helpers.js";

class Block extends Module {
  declare q: Linear;
  declare v: Linear;
  declare norm: LayerNorm;
  constructor(d: number) {
    super();
    this.registerModule("q", new Linear(d, d));
    this.registerModule("v", new Linear(d, d));
    this.registerModule("norm", new LayerNorm(d));
  }
  forward(x: Tensor): Tensor {
    return this.norm.forward(ops.add(this.q.forward(x), this.v.forward(x)));
  }
}
/** A tiny model with the PreTrainedModel surface PeftModel uses (forward(inputs) → {logits, loss}). */
class Body extends Module {
  declare layers: ModuleList<Block>;
  constructor() {
    super();
    this.registerModule("layers", new ModuleList([new Block(6), new Block(6), new Block(6)]));
  }
}
class Tiny extends Module {
  declare emb: Embedding;
  declare body: Body;
  declare head: Linear;
  config = { modelType: "tiny" };
  constructor() {
    super();
    this.registerModule("emb", new Embedding(11, 6));
    this.registerModule("body", new Body());
    this.registerModule("head", new Linear(6, 3));
  }
  getInputEmbeddings(): Embedding {
    return this.emb;
  }
  forward(inputs: { inputIds: number[][]; labels?: number[] }): { logits: Tensor; loss?: Tensor } {
    let h = this.emb.forward(inputs.inputIds);
    for (const b of this.body.layers) h = b.forward(h);
    const logits = this.head.forward(ops.mean(h, 1));
    return { logits, loss: inputs.labels ? ops.crossEntropy(logits, inputs.labels) : undefined };
  }
}
const tiny = () => {
  manualSeed(1);
  return new Tiny() as unknown as PreTrainedModel;
};
const X = { inputIds: [[1, 2, 3, 4], [5, 6, 7, 8]], labels: [0, 2] };
const logitsOf = (m: { forward(i: unknown): { logits?: Tensor } }) => noGrad(() => m.forward(X)).logits!;

test("target matching follows peft: exact, .suffix, regex full match, layers_to_transform, exclude_modules", () => {
  const spec = (o: Record<string, unknown>) => ({ targetModules: null, excludeModules: null, modulesToSave: null, ...o }) as never;
  assert.equal(matchTarget(spec({ targetModules: ["q"] }), "layers.0.q"), true);
  assert.equal(matchTarget(spec({ targetModules: ["q"] }), "layers.0.qq"), false);
  assert.equal(matchTarget(spec({ targetModules: ["0.q"] }), "layers.0.q"), true);
  assert.equal(matchTarget(spec({ targetModules: ["layers.0.q"] }), "layers.0.q"), true);
  assert.equal(matchTarget(spec({ targetModules: "layers\\.\\d\\.q" }), "layers.1.q"), true);
  assert.equal(matchTarget(spec({ targetModules: "q" }), "layers.1.q"), false);
  assert.equal(matchTarget(spec({ targetModules: ["q"], layersToTransform: [1] }), "body.layers.0.q"), false);
  assert.equal(matchTarget(spec({ targetModules: ["q"], layersToTransform: 1 }), "body.layers.1.q"), true);
  // as peft's regex, a layer index needs a parent before the list name
  assert.equal(matchTarget(spec({ targetModules: ["q"], layersToTransform: 1 }), "layers.1.q"), false);
  assert.equal(matchTarget(spec({ targetModules: ["q"], layersToTransform: [2], layersPattern: "layers" }), "model.layers.2.q"), true);
  assert.equal(matchTarget(spec({ targetModules: ["q"], layersToTransform: [2], layersPattern: "blocks" }), "model.layers.2.q"), false);
  assert.equal(matchTarget(spec({ targetModules: ["q"], excludeModules: ["1.q"] }), "layers.1.q"), "excluded");
  assert.equal(matchTarget(spec({ targetModules: ["q"], excludeModules: "layers\\.0\\..*" }), "layers.0.q"), "excluded");
});

test("injection wraps only matches, freezes the base, and base weights never get gradient buffers", () => {
  const pm = getPeftModel(tiny(), new LoraConfig({ r: 2, targetModules: ["q"], layersToTransform: [0, 2], initLoraWeights: false }));
  const layers = pm.getTuner().tunerLayers().map(([k]) => k);
  assert.deepEqual(layers, ["body.layers.0.q", "body.layers.2.q"]);
  const trainable = pm.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n);
  assert.deepEqual(trainable, [
    "base_model.model.body.layers.0.q.lora_A.default.weight", "base_model.model.body.layers.0.q.lora_B.default.weight",
    "base_model.model.body.layers.2.q.lora_A.default.weight", "base_model.model.body.layers.2.q.lora_B.default.weight",
  ]);
  pm.forward(X).loss!.backward();
  for (const [n, p] of pm.namedParameters()) {
    if (p.requiresGrad) assert.ok(p.grad && p.grad.f32().some((g) => g !== 0), `${n} gets a gradient`);
    else assert.equal(p.grad, null, `${n} is frozen and has no gradient buffer`);
  }
});

test("a target that matches nothing is a ConfigError listing the module names", () => {
  assert.throws(() => getPeftModel(tiny(), new LoraConfig({ targetModules: ["query"] })), (e: Error) =>
    e instanceof ConfigError && /Target modules \["query"\] not found/.test(e.message) && /Available module names: .*\bq\b.*\bv\b/.test(e.message));
  assert.throws(() => getPeftModel(tiny(), new LoraConfig({ targetModules: ["q"], excludeModules: ["q"] })), /excluded by exclude_modules/);
  assert.throws(() => getPeftModel(tiny(), new LoraConfig({ targetModules: ["norm"] })), /LayerNorm is not supported by LoRA/);
  assert.throws(() => getPeftModel(tiny(), new LoraConfig({})), /no default for model_type 'tiny'/);
});

test("LoRA init: default (kaiming A, zero B) keeps outputs; gaussian A ~ N(0, 1/r); pissa keeps W = W_res + sBA", () => {
  const base = logitsOf(tiny() as never);
  const pm = getPeftModel(tiny(), new LoraConfig({ r: 4, targetModules: ["q", "v"] }));
  assertClose(logitsOf(pm), base, "identity at init", { abs: 1e-6, rel: 0 });
  const l = pm.getTuner().tunerLayers()[0][1] as LoraLayer;
  const A = l.lora_A.get("default").weight.f32();
  const bound = 1 / Math.sqrt(6);
  assert.ok(A.every((x) => Math.abs(x) <= bound) && A.some((x) => Math.abs(x) > bound / 2));
  assert.ok(l.lora_B.get("default").weight.f32().every((x) => x === 0));
  const pg = getPeftModel(tiny(), new LoraConfig({ r: 4, targetModules: ["q", "v"], initLoraWeights: "gaussian" }));
  const g = (pg.getTuner().tunerLayers()[0][1] as LoraLayer).lora_A.get("default").weight.f32();
  const std = Math.sqrt(g.reduce((s, x) => s + x * x, 0) / g.length);
  assert.ok(std > 0.1 && std < 0.45, `std ${std} near 1/r`);
  const pp = getPeftModel(tiny(), new LoraConfig({ r: 3, loraAlpha: 6, targetModules: ["q"], initLoraWeights: "pissa" }));
  assertClose(logitsOf(pp), base, "pissa keeps the function", { abs: 1e-5, rel: 1e-4 });
  const pl = pp.getTuner().tunerLayers()[0][1] as LoraLayer;
  assert.ok(pl.lora_B.get("default").weight.f32().some((x) => x !== 0));
  const before = logitsOf(pp);
  pp.mergeAdapter();
  assertClose(logitsOf(pp), before, "pissa merged", { abs: 1e-5, rel: 1e-4 });
});

test("merge ≡ unmerged ≡ mergeAndUnload, merge is idempotent, unmerge restores the weights; safe merge catches NaN", () => {
  const pm = getPeftModel(tiny(), new LoraConfig({ r: 2, loraAlpha: 4, targetModules: ["q", "v"], initLoraWeights: false, useRslora: true }));
  const w0 = pm.getBaseModel().stateDict().get("body.layers.1.v.base_layer.weight")!.f32().slice();
  const out = logitsOf(pm);
  pm.mergeAdapter();
  pm.mergeAdapter();
  assertClose(logitsOf(pm), out, "merged", { abs: 1e-5, rel: 1e-4 });
  pm.unmergeAdapter();
  assertClose(pm.getBaseModel().stateDict().get("body.layers.1.v.base_layer.weight")!, Array.from(w0), "weights restored", { abs: 1e-6, rel: 0 });
  const l = pm.getTuner().tunerLayers()[0][1] as LoraLayer;
  (l.lora_B.get("default").weight.data as Float32Array)[0] = NaN;
  assert.throws(() => pm.mergeAdapter({ safeMerge: true }), /NaN\/Inf/);
  (l.lora_B.get("default").weight.data as Float32Array)[0] = 0.5;
  const out2 = logitsOf(pm);
  const plain = pm.mergeAndUnload();
  assert.ok(!plain.namedModules().some(([, m]) => m instanceof LoraLayer));
  assertClose(logitsOf(plain as never), out2, "mergeAndUnload", { abs: 1e-5, rel: 1e-4 });
});

test("LoRA on Embedding: lora_embedding_A/B names, gradients, merge", () => {
  const pm = getPeftModel(tiny(), new LoraConfig({ r: 2, targetModules: ["emb"], initLoraWeights: false }));
  const names = pm.namedParameters().filter(([, p]) => p.requiresGrad).map(([n, p]) => `${n} [${p.shape}]`);
  assert.deepEqual(names, ["base_model.model.emb.lora_embedding_A.default [2,11]", "base_model.model.emb.lora_embedding_B.default [6,2]"]);
  const out = logitsOf(pm);
  assert.notDeepEqual(Array.from(out.f32()), Array.from(pm.disableAdapter(() => logitsOf(pm)).f32()));
  pm.forward(X).loss!.backward();
  for (const [, p] of pm.namedParameters()) if (p.requiresGrad) assert.ok(p.grad);
  pm.mergeAdapter();
  assertClose(logitsOf(pm), out, "embedding merged", { abs: 1e-5, rel: 1e-4 });
});

test("bias='all' / 'lora_only' train and save the right biases; rank_pattern / alpha_pattern per module", async () => {
  const all = getPeftModel(tiny(), new LoraConfig({ r: 2, targetModules: ["q"], bias: "all" }));
  const t = all.namedParameters().filter(([n, p]) => p.requiresGrad && n.endsWith("bias")).map(([n]) => n);
  assert.equal(t.length, 3 * 3 + 1);
  const lo = getPeftModel(tiny(), new LoraConfig({ r: 2, targetModules: ["q"], bias: "lora_only" }));
  const tl = lo.namedParameters().filter(([n, p]) => p.requiresGrad && n.endsWith("bias")).map(([n]) => n);
  assert.deepEqual(tl, ["base_model.model.body.layers.0.q.base_layer.bias", "base_model.model.body.layers.1.q.base_layer.bias", "base_model.model.body.layers.2.q.base_layer.bias"]);
  assert.ok(lo.adapterStateEntries("default").some((e) => e.savedKey === "base_model.model.body.layers.0.q.base_layer.bias"));
  const pat = getPeftModel(tiny(), new LoraConfig({ r: 2, loraAlpha: 2, targetModules: ["q", "v"], rankPattern: { "1.q": 5 }, alphaPattern: { "layers\\.2\\.v": 8 } }));
  const byKey = new Map(pat.getTuner().tunerLayers() as [string, LoraLayer][]);
  assert.equal(byKey.get("body.layers.1.q")!.r.get("default"), 5);
  assert.equal(byKey.get("body.layers.0.q")!.r.get("default"), 2);
  assert.equal(byKey.get("body.layers.2.v")!.scaling.get("default"), 4);
  assert.equal(byKey.get("body.layers.2.q")!.scaling.get("default"), 1);
});

test("modules_to_save wraps the head: original frozen, copy trainable, names and disable", () => {
  const pm = getPeftModel(tiny(), new LoraConfig({ r: 2, targetModules: ["q"], modulesToSave: ["head"], initLoraWeights: false }));
  const names = pm.namedParameters().map(([n]) => n).filter((n) => n.includes("head"));
  assert.deepEqual(names, [
    "base_model.model.head.original_module.weight", "base_model.model.head.original_module.bias",
    "base_model.model.head.modules_to_save.default.weight", "base_model.model.head.modules_to_save.default.bias",
  ]);
  const trainable = new Map(pm.namedParameters().map(([n, p]) => [n, p.requiresGrad]));
  assert.equal(trainable.get("base_model.model.head.original_module.weight"), false);
  assert.equal(trainable.get("base_model.model.head.modules_to_save.default.weight"), true);
  const saved = pm.adapterStateEntries("default").map((e) => e.savedKey);
  assert.ok(saved.includes("base_model.model.head.weight") && saved.includes("base_model.model.head.bias"));
  const head = pm.getBaseModel().getSubmodule("head.modules_to_save.default") as Linear;
  (head.weight.data as Float32Array).fill(0.25);
  const off = pm.disableAdapter(() => logitsOf(pm));
  assertClose(off, logitsOf(tiny() as never), "disabled → original head and no LoRA", { abs: 1e-6, rel: 0 });
});

test("disableAdapter re-enables after an exception; set/delete adapters on a second LoRA", () => {
  const pm = getPeftModel(tiny(), new LoraConfig({ r: 2, targetModules: ["q"], initLoraWeights: false }));
  const out = logitsOf(pm);
  assert.throws(() => pm.disableAdapter(() => { throw new Error("boom"); }), /boom/);
  assertClose(logitsOf(pm), out, "enabled again");
  pm.addAdapter("second", new LoraConfig({ r: 3, targetModules: ["v"], initLoraWeights: false }));
  assert.ok(pm.namedParameters().filter(([n]) => n.includes(".second.")).every(([, p]) => !p.requiresGrad), "new adapter inactive → frozen");
  pm.setAdapter("second");
  assert.ok(pm.namedParameters().filter(([n]) => n.includes(".second.")).every(([, p]) => p.requiresGrad));
  assert.ok(pm.namedParameters().filter(([n]) => n.includes(".default.")).every(([, p]) => !p.requiresGrad));
  assert.notDeepEqual(Array.from(logitsOf(pm).f32()), Array.from(out.f32()));
  pm.deleteAdapter("second");
  assertClose(logitsOf(pm), out, "back to default");
  assert.throws(() => pm.addAdapter("default", new LoraConfig({ targetModules: ["q"] })), PeftError);
});

test("LN tuning: trainable norm copies, saved as ln_tuning_layers, merge swaps the copy in", async () => {
  const G = gjson("bert-lora/golden.json");
  const b = bertBatch(G);
  const inputs = { inputIds: b.inputIds, attentionMask: b.attentionMask, tokenTypeIds: b.tokenTypeIds };
  const pm = getPeftModel(await loadBert(), new LNTuningConfig({ taskType: "SEQ_CLS" }));
  const trainable = pm.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n);
  assert.equal(trainable.length, 5 * 2 + 2);
  assert.ok(trainable.includes("base_model.model.bert.embeddings.LayerNorm.ln_tuning_layers.default.weight"));
  const saved = pm.adapterStateEntries("default").map((e) => e.savedKey);
  assert.ok(saved.includes("base_model.model.bert.embeddings.LayerNorm.ln_tuning_layers.weight"));
  const ln = pm.getBaseModel().getSubmodule("bert.embeddings.LayerNorm.ln_tuning_layers.default") as LayerNorm;
  (ln.weight!.data as Float32Array).fill(1.5);
  const out = noGrad(() => pm.forward(inputs)).logits!;
  assert.notDeepEqual(Array.from(out.f32()), G.logits_adapter_disabled.flat());
  assertClose(noGrad(() => pm.disableAdapter(() => pm.forward(inputs))).logits!, G.logits_adapter_disabled, "disabled = base");
  const plain = pm.mergeAndUnload();
  assertClose(noGrad(() => plain.forward(inputs)).logits!, out, "merged LN tuning");
});

test("IA3 on a hand-built model: feed-forward input scaling vs output scaling", () => {
  const pm = getPeftModel(tiny(), new IA3Config({ targetModules: ["q", "v"], feedforwardModules: ["v"], initIa3Weights: false }));
  const shapes = pm.namedParameters().filter(([, p]) => p.requiresGrad).map(([n, p]) => `${n.replace("base_model.model.", "")} [${p.shape}]`);
  assert.ok(shapes.includes("body.layers.0.q.ia3_l.default [6,1]") && shapes.includes("body.layers.0.v.ia3_l.default [1,6]"));
  const out = logitsOf(pm);
  pm.mergeAdapter();
  assertClose(logitsOf(pm), out, "ia3 merged", { abs: 1e-5, rel: 1e-4 });
  pm.unmergeAdapter();
  assertClose(logitsOf(pm), out, "ia3 unmerged", { abs: 1e-5, rel: 1e-4 });
});

test("applyBitFit trains only biases", async () => {
  const model = await loadBert();
  const names = applyBitFit(model);
  assert.ok(names.length > 0 && names.every((n) => n.endsWith(".bias")));
  for (const [n, p] of model.namedParameters()) assert.equal(p.requiresGrad, n.endsWith(".bias"), n);
  assert.throws(() => applyBitFit(model, { only: /nothing-matches/ }), PeftError);
});

test("PeftModel type surface: baseModel is the tuner, getBaseModel the wrapped model", () => {
  const model = tiny();
  const pm = new PeftModel(model, new LoraConfig({ targetModules: ["q"] }));
  assert.equal(pm.getBaseModel(), model);
  assert.equal(pm.baseModel, pm.getTuner());
  assert.deepEqual(pm.getNbTrainableParameters(), [3 * (8 * 6 * 2), pm.parameters().reduce((s, p) => s + p.size, 0)]);
});

test("LoRA over bf16-stored frozen weights: trains in f32, head copy is f32, merge keeps the storage dtype", async () => {
  const { AutoModelForSequenceClassification } = await import("../../src/models/auto.js");
  const { GOLDEN } = await import("./helpers.js");
  const { join } = await import("node:path");
  const model = await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, "bert-tiny-random"), { numLabels: 2, frozenDtype: "bf16" });
  const G = gjson("bert-lora/golden.json");
  const b = bertBatch(G);
  const inputs = { inputIds: b.inputIds, attentionMask: b.attentionMask, tokenTypeIds: b.tokenTypeIds };
  manualSeed(42);
  const pm = getPeftModel(model, new LoraConfig({ taskType: "SEQ_CLS", r: 4, loraAlpha: 8, targetModules: ["query", "value"], initLoraWeights: false }));
  const sd = pm.stateDict();
  assert.equal(sd.get("base_model.model.bert.encoder.layer.0.attention.self.query.base_layer.weight")!.dtype, "bf16");
  assert.equal(sd.get("base_model.model.classifier.modules_to_save.default.weight")!.dtype, "f32");
  const out = pm.forward({ ...inputs, labels: b.labels });
  out.loss!.backward();
  for (const [n, p] of pm.namedParameters()) if (p.requiresGrad) assert.ok(p.grad, n);
  const logits = noGrad(() => pm.forward(inputs)).logits!;
  pm.mergeAdapter();
  assert.equal(pm.stateDict().get("base_model.model.bert.encoder.layer.0.attention.self.query.base_layer.weight")!.dtype, "bf16");
  assertClose(noGrad(() => pm.forward(inputs)).logits!, logits, "merged into bf16 (bf16 rounding of W+ΔW)", { abs: 5e-3, rel: 5e-2 });
});
