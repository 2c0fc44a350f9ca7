// Gradient × input on the input embeddings: ∂f/∂xᵢ · xᵢ, summed over each token's embedding.
import { Tensor } from "../tensor/tensor.js";
import { noGrad } from "../tensor/autograd.js";
import * as ops from "../ops/index.js";
import { resolveTarget, targetScores } from "./target.js";
import { checkExample, embedIds, explainScope, stepInputs, type ExampleInput, type ExplainableModel } from "./model_access.js";
import { tokenSums, type Attribution, type AttributionOptions } from "./integrated_gradients.js";

export function gradientXInput(model: ExplainableModel, example: ExampleInput, opts: AttributionOptions): Attribution {
  const T = checkExample(example);
  return explainScope(model, () => {
    const x = embedIds(model, example.inputIds);
    const E = x.shape[1];
    const e = new Tensor(Float32Array.from(x.f32()), [1, T, E]).requiresGrad_();
    const out = model.forward(stepInputs(example, e));
    const target = noGrad(() => resolveTarget(opts.target, out, T, opts.output));
    const score = targetScores(out, target, T);
    ops.sum(score).backward();
    const g = e.grad!.f32(), xd = x.f32(), attr = new Float32Array(T * E);
    for (let i = 0; i < attr.length; i++) attr[i] = g[i] * xd[i];
    return { tokenAttributions: tokenSums(attr, T, E), attributions: new Tensor(attr, [T, E]), target, score: score.f32()[0] };
  });
}
