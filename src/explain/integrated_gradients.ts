// Integrated Gradients (Sundararajan et al. 2017) on the input embeddings: the attribution of
// embedding element i is (xᵢ − bᵢ)·∫₀¹ ∂f(b + α(x − b))/∂xᵢ dα, the integral by quadrature with
// the path points run as batches; a token's attribution is the sum over its embedding. The
// convergence delta is Σ attributions − (f(x) − f(b)) (completeness; Captum's definition).
import { Tensor } from "../tensor/tensor.js";
import { noGrad } from "../tensor/autograd.js";
import { ConfigError } from "../tensor/errors.js";
import * as ops from "../ops/index.js";
import { integrationPoints, type IntegrationMethod } from "./quadrature.js";
import { resolveTarget, targetScores, type AttributionTarget, type ResolvedTarget, type TargetOutput } from "./target.js";
import { baselineEmbeddings, type Baseline } from "./baseline.js";
import { checkExample, embedIds, explainScope, stepInputs, type ExampleInput, type ExplainableModel } from "./model_access.js";

export interface AttributionOptions {
  target: AttributionTarget;
  /** Which scalar of the target's logits row (default "logit"). */
  output?: TargetOutput;
}

export interface IntegratedGradientsOptions extends AttributionOptions {
  /** Path points (default 50). */
  nSteps?: number;
  /** Quadrature (default "gausslegendre", as Captum). */
  method?: IntegrationMethod;
  /** Default "pad" (falls back to nothing: a model without pad_token_id needs "zero" or ids). */
  baseline?: Baseline;
  /** Token ids a "pad" baseline keeps (special tokens). */
  keepTokenIds?: number[];
  /** Path points per forward/backward (default all nSteps at once). */
  internalBatchSize?: number;
}

/** Per-token and per-element attributions of one example. */
export interface Attribution {
  /** [T]: each token's attribution (sum over its embedding). */
  tokenAttributions: number[];
  /** [T, E]. */
  attributions: Tensor;
  target: ResolvedTarget;
  /** The explained scalar at the input. */
  score: number;
}

export interface IntegratedGradientsResult extends Attribution {
  /** The explained scalar at the baseline. */
  baselineScore: number;
  /** Σ attributions − (score − baselineScore). */
  convergenceDelta: number;
}

export function integratedGradients(model: ExplainableModel, example: ExampleInput, opts: IntegratedGradientsOptions): IntegratedGradientsResult {
  const T = checkExample(example);
  const nSteps = opts.nSteps ?? 50;
  const { alphas, weights } = integrationPoints(nSteps, opts.method ?? "gausslegendre");
  // without a pad token a decoder classifier cannot find its last token in a batch (as transformers):
  // one path point per forward then
  const noPad = model.config.padTokenId === null || model.config.padTokenId === undefined;
  const chunk = noPad ? 1 : opts.internalBatchSize ?? nSteps;
  if (!Number.isInteger(chunk) || chunk < 1) throw new ConfigError(`integrated gradients: internalBatchSize must be a positive integer, got ${chunk}`);
  return explainScope(model, () => {
    const x = embedIds(model, example.inputIds);
    const E = x.shape[1];
    const b = baselineEmbeddings(model, example.inputIds, E, opts.baseline ?? "pad", opts.keepTokenIds);
    const at = (e: Tensor) => noGrad(() => model.forward(stepInputs(example, e)));
    const ends = noPad ? null : at(ops.stack([x, b], 0));
    const atX = ends ?? at(x.reshape([1, T, E]));
    const target = resolveTarget(opts.target, atX, T, opts.output);
    const [score, baselineScore] = ends
      ? noGrad(() => targetScores(ends, target, T).f32())
      : [targetScores(atX, target, T).f32()[0], noGrad(() => targetScores(at(b.reshape([1, T, E])), target, T).f32()[0])];
    const xd = x.f32(), bd = b.f32(), TE = T * E;
    const gsum = new Float64Array(TE);
    for (let s0 = 0; s0 < alphas.length; s0 += chunk) {
      const a = alphas.slice(s0, s0 + chunk), w = weights.slice(s0, s0 + chunk), S = a.length;
      const data = new Float32Array(S * TE);
      for (let s = 0; s < S; s++) for (let i = 0; i < TE; i++) data[s * TE + i] = bd[i] + a[s] * (xd[i] - bd[i]);
      const e = new Tensor(data, [S, T, E]).requiresGrad_();
      const scores = targetScores(model.forward(stepInputs(example, e)), target, T);
      ops.sum(ops.mul(scores, new Tensor(Float32Array.from(w), [S]))).backward();
      const g = e.grad!.f32();
      for (let s = 0; s < S; s++) for (let i = 0; i < TE; i++) gsum[i] += g[s * TE + i];
    }
    const attr = new Float32Array(TE);
    for (let i = 0; i < TE; i++) attr[i] = (xd[i] - bd[i]) * gsum[i];
    const tokenAttributions = tokenSums(attr, T, E);
    const total = tokenAttributions.reduce((p, q) => p + q, 0);
    return {
      tokenAttributions, attributions: new Tensor(attr, [T, E]), target, score, baselineScore,
      convergenceDelta: total - (score - baselineScore),
    };
  });
}

/** Sum over the embedding of each token, in float64. */
export function tokenSums(attr: Float32Array | Float64Array, T: number, E: number): number[] {
  return Array.from({ length: T }, (_, t) => {
    let s = 0;
    for (let i = 0; i < E; i++) s += attr[t * E + i];
    return s;
  });
}
