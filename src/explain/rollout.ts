// Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers"): per
// layer the heads' weights averaged, the identity added for the residual connection and the rows
// renormalised, Ã = norm(mean_h A + I); the layers multiplied through, R = Ã_L · … · Ã_1. Row q
// of R is how much each input token flows into position q's output.
import type { Tensor } from "../tensor/tensor.js";
import { ShapeError } from "../tensor/errors.js";
import { noGrad } from "../tensor/autograd.js";
import { checkExample, explainScope, type ExampleInput, type ExplainableModel } from "./model_access.js";
import type { ModelInputs } from "../models/modeling_utils.js";

/** The rollout matrix [T, T] (row-major, float64) of one batch row of per-layer attentions [B, H, T, T]. */
export function attentionRollout(attentions: Tensor[], batchIndex = 0): { T: number; matrix: Float64Array } {
  if (attentions.length === 0) throw new ShapeError("attention rollout: no attention layers given");
  const [B, , Tq, Tk] = attentions[0].shape;
  if (attentions[0].ndim !== 4 || Tq !== Tk) throw new ShapeError(`attention rollout: expected self-attention weights [batch, heads, T, T], got [${attentions[0].shape}]`);
  if (!(batchIndex >= 0 && batchIndex < B)) throw new ShapeError(`attention rollout: batch index ${batchIndex} is outside the batch of ${B}`);
  const T = Tq;
  let R: Float64Array | null = null;
  attentions.forEach((a, l) => {
    if (a.ndim !== 4 || a.shape[0] !== B || a.shape[2] !== T || a.shape[3] !== T) throw new ShapeError(`attention rollout: layer ${l} has shape [${a.shape}], expected [${B}, heads, ${T}, ${T}]`);
    const h = a.shape[1], d = a.f32(), base = batchIndex * h * T * T;
    const A = new Float64Array(T * T);
    for (let k = 0; k < h; k++) for (let i = 0; i < T * T; i++) A[i] += d[base + k * T * T + i] / h;
    for (let i = 0; i < T; i++) {
      A[i * T + i] += 1;
      let s = 0;
      for (let j = 0; j < T; j++) s += A[i * T + j];
      for (let j = 0; j < T; j++) A[i * T + j] /= s;
    }
    R = R ? matmul(A, R, T) : A;
  });
  return { T, matrix: R! };
}

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) {
    const x = a[i * n + k];
    if (x === 0) continue;
    for (let j = 0; j < n; j++) c[i * n + j] += x * b[k * n + j];
  }
  return c;
}

export interface RolloutResult {
  /** [T]: row `query` of the rollout. */
  tokenScores: number[];
  /** The position whose row is reported. */
  query: number;
  /** [T][T]. */
  matrix: number[][];
  /** The model's attentions [B=1, H, T, T] per layer (for heatmaps). */
  attentions: Tensor[];
}

/**
 * Rollout of one example through a model (outputAttentions). query: the position explained
 * (default 0, the [CLS] token of encoders; pass the last position for decoders).
 */
export function rolloutExplain(model: ExplainableModel, example: ExampleInput, opts: { query?: number } = {}): RolloutResult {
  const T = checkExample(example);
  const query = opts.query ?? 0;
  if (!Number.isInteger(query) || query < 0 || query >= T) throw new ShapeError(`attention rollout: query position ${query} is outside the ${T} tokens`);
  const inputs: ModelInputs = { inputIds: [example.inputIds], outputAttentions: true };
  if (example.attentionMask) inputs.attentionMask = [example.attentionMask];
  if (example.tokenTypeIds) inputs.tokenTypeIds = [example.tokenTypeIds];
  const out = explainScope(model, () => noGrad(() => model.forward(inputs)));
  if (!out.attentions) throw new ShapeError(`attention rollout: ${model.constructor.name} returned no attentions`);
  const { matrix } = attentionRollout(out.attentions);
  const rows = Array.from({ length: T }, (_, i) => Array.from(matrix.subarray(i * T, (i + 1) * T)));
  return { tokenScores: rows[query], query, matrix: rows, attentions: out.attentions };
}
