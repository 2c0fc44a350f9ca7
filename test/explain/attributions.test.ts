// Integrated Gradients and gradient × input: analytic answers on a bag-of-words network, finite
// differences, completeness on SST-2 sentences through the bundled pretrained BERT, and the
// token-classification / causal-LM targets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Tensor } from "../../src/tensor/tensor.js";
import { manualSeed, Rng } from "../../src/tensor/random.js";
import { noGrad } from "../../src/tensor/autograd.js";
import { ConfigError, ShapeError } from "../../src/tensor/errors.js";
import * as ops from "../../src/ops/index.js";
import { getBackend } from "../../src/backend/registry.js";
import { Module } from "../../src/nn/module.js";
import { Embedding, Linear } from "../../src/nn/layers.js";
import type { ModelInputs, ModelOutput } from "../../src/models/modeling_utils.js";
import { AutoModelForCausalLM, AutoModelForSequenceClassification, AutoModelForTokenClassification } from "../../src/models/auto.js";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { integratedGradients, gradientXInput, integrationPoints, gaussLegendre } from "../../src/explain/index.js";
import type { ExplainableModel } from "../../src/explain/index.js";
import { FIXTURES, GOLDEN } from "../models/helpers.js";

/**
 * Bag of words: mean of the token embeddings (masked) → u·mean + c. Logit 0 is that score, logit 1
 * its square: IG of logit 0 is (xₜ − bₜ)·u/T exactly for any quadrature; of logit 1 with a zero
 * baseline it is (xₜ·u/T)·2s·∫α dα = (xₜ·u/T)·s with s = u·mean(x) (the quadrature's ∫α).
 */
class BagOfWords extends Module {
  declare emb: Embedding;
  declare u: Linear;
  config = { padTokenId: 0, numLabels: 2 };
  constructor(V: number, E: number) {
    super();
    const rng = new Rng(3);
    this.registerModule("emb", new Embedding(V, E, { rng }));
    this.registerModule("u", new Linear(E, 1, { rng }));
  }
  getInputEmbeddings(): Embedding {
    return this.emb;
  }
  forward(inputs: ModelInputs): ModelOutput {
    const e = (inputs.inputsEmbeds as Tensor) ?? this.emb.forward(inputs.inputIds as number[][]);
    const [B, T] = e.shape;
    const s = this.u.forward(ops.scale(ops.sum(e, 1), 1 / T)); // [B, 1]
    void B;
    return { logits: ops.cat([s, ops.mul(s, s)], 1) };
  }
}

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);

test("IG equals the analytic attributions of a bag-of-words network (linear logit: any quadrature; square: ∫α of each)", () => {
  const m = new BagOfWords(20, 6) as unknown as ExplainableModel & BagOfWords;
  const ids = [3, 7, 11, 7, 2];
  const T = ids.length, E = 6, W = m.emb.weight.f32(), u = m.u.weight.f32();
  const x = ids.map((id) => Array.from(W.subarray(id * E, (id + 1) * E)));
  const dot = (v: number[]) => v.reduce((s, vi, i) => s + vi * u[i], 0);
  const s = x.reduce((acc, v) => acc + dot(v) / T, 0) + m.u.bias!.f32()[0];
  const padRow = Array.from(W.subarray(0, E));
  for (const method of ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"] as const) {
    const r = integratedGradients(m, { inputIds: ids }, { target: { kind: "sequence-classification", label: 0 }, nSteps: 7, method });
    r.tokenAttributions.forEach((a, t) => close(a, (dot(x[t]) - dot(padRow)) / T, 1e-6, `${method} token ${t}`));
    close(r.convergenceDelta, 0, 1e-6, `${method} delta`);
  }
  const c = m.u.bias!.f32()[0];
  for (const [method, integralOfAlpha] of [["gausslegendre", 0.5], ["riemann_middle", 0.5], ["riemann_left", 4 / 10], ["riemann_right", 6 / 10]] as const) {
    // logit 1 = s(α)² with s(α) = α·(s − c) + c (zero baseline): d/dα-weighted gradient 2s(α)·uᵀxₜ/T
    const r = integratedGradients(m, { inputIds: ids }, { target: { kind: "sequence-classification", label: 1 }, nSteps: 5, method, baseline: "zero" });
    r.tokenAttributions.forEach((a, t) => close(a, (dot(x[t]) / T) * 2 * ((s - c) * integralOfAlpha + c), 1e-5, `${method} square token ${t}`));
  }
  // the predicted label is the default target
  const pred = integratedGradients(m, { inputIds: ids }, { target: { kind: "sequence-classification" }, nSteps: 4 });
  assert.equal(pred.target.index, s > s * s ? 0 : 1);
  assert.equal(m.emb.weight.grad, null, "parameters get no gradient");
});

test("quadrature: Captum's points and weights; Gauss–Legendre integrates degree 2n−1 exactly", () => {
  assert.deepEqual(integrationPoints(4, "riemann_left").alphas, [0, 0.25, 0.5, 0.75]);
  assert.deepEqual(integrationPoints(4, "riemann_trapezoid").weights.map((w) => w * 6), [1, 2, 2, 1]);
  const { nodes, weights } = gaussLegendre(5);
  for (let k = 0; k <= 9; k++) close(nodes.reduce((a, x, i) => a + weights[i] * x ** k, 0), k % 2 ? 0 : 2 / (k + 1), 1e-13, `∫x^${k}`);
  assert.throws(() => integrationPoints(0), ConfigError);
  assert.throws(() => integrationPoints(3, "simpson" as never), /unknown method 'simpson'/);
});

test("gradient × input equals central finite differences along each token's embedding (tiny BERT)", async () => {
  const model = (await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, "bert-tiny-random"), { log: () => {} })) as unknown as ExplainableModel;
  const ex = { inputIds: [2, 5, 6, 7, 8, 3], attentionMask: [1, 1, 1, 1, 1, 1] };
  const r = gradientXInput(model, ex, { target: { kind: "sequence-classification", label: 1 } });
  const W = (model as unknown as { getInputEmbeddings(): Embedding }).getInputEmbeddings().weight.f32();
  const E = W.length / (model as unknown as { getInputEmbeddings(): Embedding }).getInputEmbeddings().numEmbeddings;
  const x = new Float32Array(ex.inputIds.length * E);
  ex.inputIds.forEach((id, t) => x.set(W.subarray(id * E, (id + 1) * E), t * E));
  const f = (d: Float32Array) => noGrad(() => model.forward({ inputsEmbeds: new Tensor(d, [1, ex.inputIds.length, E]), attentionMask: [ex.attentionMask] }).logits!.f32()[1]);
  const h = 1e-2;
  ex.inputIds.forEach((_, t) => {
    // d/dε f(x + ε·xₜ at token t) at 0 = Σᵢ ∂f/∂xₜᵢ·xₜᵢ
    const p = Float32Array.from(x), q = Float32Array.from(x);
    for (let i = 0; i < E; i++) {
      p[t * E + i] *= 1 + h;
      q[t * E + i] *= 1 - h;
    }
    close(r.tokenAttributions[t], (f(p) - f(q)) / (2 * h), 2e-3 * Math.max(1, Math.abs(r.tokenAttributions[t])), `token ${t}`);
  });
});

// the reference TS kernels are ~10× slower than native GEMM: fewer sentences there (all 50: scripts/ig_completeness.ts)
const reference = getBackend().name !== "native";
for (const [name, count] of [["bert-mini-en", reference ? 3 : 50], ["llama-mini-en", reference ? 2 : 20]] as const) {
  test(`IG completeness within 1% on ${count} SST-2 dev sentences (bundled pretrained ${name}, new seeded head, n_steps = 50)`, async () => {
    manualSeed(0);
    const dir = join(FIXTURES, name);
    const model = (await AutoModelForSequenceClassification.fromPretrained(dir, { numLabels: 2, log: () => {} })) as unknown as ExplainableModel;
    const tok = await AutoTokenizer.fromPretrained(dir);
    const rows = readFileSync(join(FIXTURES, "..", "sst2", "dev.tsv"), "utf8").trim().split("\n").slice(1).map((l) => l.split("\t")[0]);
    for (const text of rows.slice(0, count)) {
      const inputIds = tok.encode(text);
      const r = integratedGradients(model, { inputIds }, { target: { kind: "sequence-classification" }, nSteps: 50, keepTokenIds: tok.allSpecialIds });
      const gap = r.score - r.baselineScore;
      assert.ok(Math.abs(r.convergenceDelta) <= 0.01 * Math.abs(gap), `"${text}": delta ${r.convergenceDelta} vs f(x) − f(b) = ${gap}`);
      assert.equal(r.tokenAttributions.length, inputIds.length);
    }
  });
}

test("IG targets: token classification (a token + label) and causal LM (the next token); typed errors", async () => {
  const tc = (await AutoModelForTokenClassification.fromPretrained(join(GOLDEN, "bert-tiny-random"), { log: () => {} })) as unknown as ExplainableModel;
  const r = integratedGradients(tc, { inputIds: [2, 5, 6, 3] }, { target: { kind: "token-classification", token: 2, label: 1 }, nSteps: 32 });
  assert.equal(r.target.position, 2);
  assert.ok(Math.abs(r.convergenceDelta) <= 0.01 * Math.abs(r.score - r.baselineScore) + 1e-6);
  const lm = (await AutoModelForCausalLM.fromPretrained(join(GOLDEN, "gpt2-tiny-random"), { log: () => {} })) as unknown as ExplainableModel;
  const g = integratedGradients(lm, { inputIds: [5, 9, 14, 3] }, { target: { kind: "causal-lm" }, output: "log-probability", baseline: "zero", nSteps: 32 });
  const next = noGrad(() => lm.forward({ inputIds: [[5, 9, 14, 3]] }).logits!);
  const row = Array.from(next.f32().subarray(3 * next.shape[2], 4 * next.shape[2]));
  assert.equal(g.target.index, row.indexOf(Math.max(...row)), "the greedy next token");
  assert.ok(Math.abs(g.convergenceDelta) <= 0.01 * Math.abs(g.score - g.baselineScore) + 1e-6);
  assert.throws(() => integratedGradients(lm, { inputIds: [5, 9] }, { target: { kind: "causal-lm" }, nSteps: 2 }), /baseline 'pad' needs the model's pad_token_id/);
  assert.throws(() => integratedGradients(tc, { inputIds: [2, 5] }, { target: { kind: "token-classification", token: 5 } }), (e: Error) => e instanceof ShapeError && /position 5/.test(e.message));
  assert.throws(() => integratedGradients(tc, { inputIds: [2, 5] }, { target: { kind: "sequence-classification" } }), /sequence-classification target needs logits \[batch, labels\]/);
});

test("IG on a decoder classifier without a pad token (GPT-2): one path point per forward, still complete", async () => {
  const m = (await AutoModelForSequenceClassification.fromPretrained(join(GOLDEN, "gpt2-tiny-random"), { numLabels: 2, log: () => {} })) as unknown as ExplainableModel;
  assert.equal(m.config.padTokenId ?? null, null);
  const r = integratedGradients(m, { inputIds: [5, 9, 14, 3] }, { target: { kind: "sequence-classification" }, baseline: "zero", nSteps: 16 });
  assert.ok(Math.abs(r.convergenceDelta) <= 0.01 * Math.abs(r.score - r.baselineScore), `delta ${r.convergenceDelta}, gap ${r.score - r.baselineScore}`);
});
