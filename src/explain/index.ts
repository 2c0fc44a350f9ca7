// Interpretability: token attributions (Integrated Gradients, gradient × input), attention
// rollout, and what a LoRA adapter changed (ΔW norms and effective rank). Browser-safe.
export { integratedGradients, tokenSums } from "./integrated_gradients.js";
export type { Attribution, AttributionOptions, IntegratedGradientsOptions, IntegratedGradientsResult } from "./integrated_gradients.js";
export { gradientXInput } from "./grad_x_input.js";
export { attentionRollout, rolloutExplain } from "./rollout.js";
export type { RolloutResult } from "./rollout.js";
export { integrationPoints, gaussLegendre, INTEGRATION_METHODS } from "./quadrature.js";
export type { IntegrationMethod, IntegrationPoints } from "./quadrature.js";
export { resolveTarget, targetScores } from "./target.js";
export type { AttributionTarget, ResolvedTarget, TargetOutput } from "./target.js";
export { baselineEmbeddings } from "./baseline.js";
export type { Baseline } from "./baseline.js";
export { inputEmbeddingsOf } from "./model_access.js";
export type { ExampleInput, ExplainableModel } from "./model_access.js";
export { adapterDelta, adapterDeltaFromTensors, adapterDeltaJSON, effectiveRank, formatAdapterDelta, loraDeltaSingularValues, moduleDelta } from "./adapter_delta.js";
export type { LoraScalingConfig, ModuleDelta } from "./adapter_delta.js";
export { renderExplainHtml, formatTokenScores, escapeHtml } from "./explain_html.js";
export type { ExplainPage, PredictionRow } from "./explain_html.js";
