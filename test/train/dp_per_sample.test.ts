// Per-sample gradients (src/train/dp/per_sample.ts). The per-sample pass runs each example as its
// own batch of one; here it is checked against a loop of single-example backward passes through
// the whole padded batch (the gradient of example i's share of the batch loss), so padding, masks
// and any op that mixed examples would show. Then the Linear outer-product form and ghost norms
// against autograd's per-sample gradients of a Linear layer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { tensor, type Tensor } from "../../src/tensor/tensor.js";
import * as ops from "../../src/ops/index.js";
import { manualSeed, Rng } from "../../src/tensor/random.js";
import { Linear } from "../../src/nn/layers.js";
import { getPeftModel } from "../../src/peft/peft_model.js";
import { LoraConfig } from "../../src/peft/lora/index.js";
import { IA3Config } from "../../src/peft/ia3/config.js";
import { PrefixTuningConfig } from "../../src/peft/prompt/index.js";
import { perSampleGradients, sampleNormsSquared, linearPerSampleGrads, linearGhostNormsSquared } from "../../src/train/dp/per_sample.js";
import { bertBatch, gjson, loadBert, loadCausal } from "../peft/helpers.js";
import type { Module } from "../../src/nn/module.js";

type Batch = Record<string, any>;
const rowOf = (b: Batch, i: number): Batch => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, [v[i]]]));

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function check(what: string, model: Module, batch: Batch, causal: boolean, minParams = 1) {
  model.eval(); // no dropout: both sides see the same function
  const named = model.namedParameters().filter(([, p]) => p.requiresGrad);
  assert.ok(named.length >= minParams, `${what}: ${named.length} trainable`);
  const B = batch.inputIds.length;
  const per = perSampleGradients(named, B, (i) => (model as any).forward(rowOf(batch, i)).loss as Tensor);
  // the loop of single-example backward passes through the padded batch: Σ_i w_i g_i is the batch
  // gradient, so example i's gradient is recovered by backpropagating the batch loss with the other
  // examples' rows given a zero weight — done here via a batch whose loss only example i enters
  for (let i = 0; i < B; i++) {
    for (const [, p] of named) p.grad = null;
    const labels = causal
      ? (batch.labels as number[][]).map((r, j) => (j === i ? r : r.map(() => -100)))
      : null;
    let loss: Tensor;
    if (causal) loss = (model as any).forward({ ...batch, labels }).loss;
    else {
      const logits = (model as any).forward({ ...batch, labels: undefined }).logits as Tensor;
      const lp = ops.logSoftmax(logits, -1);
      const mask = new Float32Array(lp.size);
      mask[i * lp.shape[1] + batch.labels[i]] = -1;
      loss = ops.sum(ops.mul(lp, tensor(mask, { shape: lp.shape })));
    }
    loss.backward();
    let worst = 0, scale = 0;
    named.forEach(([, p], k) => {
      const ref = p.grad ? p.grad.contiguous().f32() : new Float32Array(p.size);
      worst = Math.max(worst, maxDiff(per[i][k], ref));
      for (const v of ref) scale = Math.max(scale, Math.abs(v));
    });
    assert.ok(scale > 0, `${what}: example ${i} has a zero gradient`);
    // 1e-6 relative to the gradient's largest entry (f32 sums in another order: the batch of one vs the padded batch)
    assert.ok(worst <= 1e-6 * Math.max(1, scale), `${what}: example ${i} per-sample vs single-example backward: max diff ${worst} (scale ${scale})`);
  }
  for (const [, p] of named) p.grad = null;
  // the norms are the norms of those gradients
  const n2 = sampleNormsSquared(per);
  assert.equal(n2.length, B);
}

const bert = () => bertBatch(gjson("bert-tiny-random/golden.json"));
const llama = () => { const g = gjson("llama-tiny-random/lora/golden.json").inputs; return { inputIds: g.input_ids, attentionMask: g.attention_mask, labels: g.labels }; };

test("per-sample gradients = single-example backward passes: BERT with LoRA, IA3, prefix tuning, full fine-tuning", async () => {
  manualSeed(1);
  const lora = getPeftModel(await loadBert(), new LoraConfig({ taskType: "SEQ_CLS", targetModules: ["query", "value"], r: 2, initLoraWeights: false }));
  await check("bert lora", lora, bert(), false, 4);
  const ia3 = getPeftModel(await loadBert(), new IA3Config({ taskType: "SEQ_CLS", targetModules: ["key", "value", "intermediate.dense"], feedforwardModules: ["intermediate.dense"], initIa3Weights: false }));
  await check("bert ia3", ia3, bert(), false);
  const prefix = getPeftModel(await loadBert(), new PrefixTuningConfig({ taskType: "SEQ_CLS", numVirtualTokens: 3 }));
  await check("bert prefix", prefix, bert(), false);
  const full = await loadBert();
  for (const p of full.parameters()) p.requiresGrad = true;
  await check("bert full (Embedding, LayerNorm, Linear, biases, head)", full, bert(), false, 10);
});

test("per-sample gradients = single-example backward passes: Llama with LoRA, IA3, prefix tuning, full fine-tuning", async () => {
  manualSeed(2);
  const lora = getPeftModel(await loadCausal("llama-tiny-random"), new LoraConfig({ taskType: "CAUSAL_LM", targetModules: ["q_proj", "v_proj"], r: 2, initLoraWeights: false }));
  await check("llama lora", lora, llama(), true, 4);
  const ia3 = getPeftModel(await loadCausal("llama-tiny-random"), new IA3Config({ taskType: "CAUSAL_LM", initIa3Weights: false }));
  await check("llama ia3", ia3, llama(), true);
  const prefix = getPeftModel(await loadCausal("llama-tiny-random"), new PrefixTuningConfig({ taskType: "CAUSAL_LM", numVirtualTokens: 2 }));
  await check("llama prefix", prefix, llama(), true);
  const full = await loadCausal("llama-tiny-random");
  for (const p of full.parameters()) p.requiresGrad = true;
  await check("llama full", full, llama(), true, 10);
});

test("Linear outer-product per-sample gradients and ghost norms equal autograd's per-sample gradients", () => {
  const rng = new Rng(5);
  const [B, T, I, O] = [4, 3, 5, 6];
  const lin = new Linear(I, O, { rng });
  const x = tensor(rng.fillNormal(new Float32Array(B * T * I)), { shape: [B, T, I] });
  const gy = tensor(rng.fillNormal(new Float32Array(B * T * O)), { shape: [B, T, O] });
  // loss_i = Σ y_i ⊙ gy_i has output gradient gy_i
  const slice = (t: Tensor, i: number) => tensor(t.f32().slice(i * T * t.shape[2], (i + 1) * T * t.shape[2]), { shape: [1, T, t.shape[2]] });
  const named: [string, Tensor][] = [["weight", lin.weight], ["bias", lin.bias!]];
  const auto = perSampleGradients(named, B, (i) => ops.sum(ops.mul(lin.forward(slice(x, i)), slice(gy, i))));
  const outer = linearPerSampleGrads(x, gy);
  const ghost = linearGhostNormsSquared(x, gy);
  const explicit = sampleNormsSquared(auto);
  for (let i = 0; i < B; i++) {
    assert.ok(maxDiff(outer.weight[i], auto[i][0]) <= 1e-6, `weight ${i}: ${maxDiff(outer.weight[i], auto[i][0])}`);
    assert.ok(maxDiff(outer.bias[i], auto[i][1]) <= 1e-6);
    assert.ok(Math.abs(ghost.weight[i] - explicit[i][0]) <= 1e-5 * explicit[i][0], `ghost weight norm ${i}: ${ghost.weight[i]} vs ${explicit[i][0]}`);
    assert.ok(Math.abs(ghost.bias[i] - explicit[i][1]) <= 1e-5 * explicit[i][1]);
  }
  assert.throws(() => linearGhostNormsSquared(x, tensor(new Float32Array(B * 2 * O), { shape: [B, 2, O] })), /disagree on batch/);
});

test("a parameter that does not require a gradient is refused by name", () => {
  const lin = new Linear(2, 2);
  lin.bias!.requiresGrad = false;
  assert.throws(() => perSampleGradients([["head.bias", lin.bias!]], 1, () => ops.sum(lin.weight)), /'head\.bias' does not require a gradient/);
});
