// Integrated Gradients and gradient × input against PyTorch autograd on the same transformers models
// (test/fixtures/attributions/ig_golden.json, made by scripts/fixtures/make_ig_goldens.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AutoModelForCausalLM, AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { gradientXInput, integratedGradients, type AttributionTarget, type ExplainableModel, type IntegrationMethod } from "../../src/explain/index.js";
import { assertClose, GOLDEN } from "../models/helpers.js";

interface Case {
  model: string; auto: string; input_ids: number[]; keep_token_ids?: number[]; baseline?: "pad" | "zero"; target: AttributionTarget;
  n_steps?: number; method: string; expected: { token_attributions: number[]; score: number; baseline_score?: number; convergence_delta?: number };
}
const cases: Case[] = JSON.parse(readFileSync(join(import.meta.dirname, "..", "fixtures", "attributions", "ig_golden.json"), "utf8")).cases;

for (const c of cases) {
  test(`${c.method} on ${c.model} (${c.target.kind}) equals PyTorch's`, async () => {
    const Auto = c.auto === "causal-lm" ? AutoModelForCausalLM : AutoModelForSequenceClassification;
    const model = (await Auto.fromPretrained(join(GOLDEN, c.model), { log: () => {} })) as unknown as ExplainableModel;
    const ex = { inputIds: c.input_ids };
    const tol = { abs: 2e-6, rel: 1e-4 };
    if (c.method === "grad_x_input") {
      const r = gradientXInput(model, ex, { target: c.target });
      assertClose(r.tokenAttributions, c.expected.token_attributions, "token attributions", tol);
      assertClose(r.score, c.expected.score, "score", tol);
      return;
    }
    const r = integratedGradients(model, ex, {
      target: c.target, nSteps: c.n_steps, method: c.method as IntegrationMethod, baseline: c.baseline, keepTokenIds: c.keep_token_ids,
    });
    assertClose(r.tokenAttributions, c.expected.token_attributions, "token attributions", tol);
    assertClose(r.score, c.expected.score, "f(x)", tol);
    assertClose(r.baselineScore, c.expected.baseline_score!, "f(baseline)", tol);
    assertClose(r.convergenceDelta, c.expected.convergence_delta!, "convergence delta", { abs: 2e-6, rel: 1e-3 });
  });
}
