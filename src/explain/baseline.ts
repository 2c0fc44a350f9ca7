// The Integrated Gradients baseline: the reference input the path starts from, as embeddings [T, E].
import { Tensor } from "../tensor/tensor.js";
import { ConfigError, ShapeError } from "../tensor/errors.js";
import { embedIds, type ExplainableModel } from "./model_access.js";

/**
 * "pad": every token replaced by the pad token (config.pad_token_id), except the ids in
 * keepTokenIds (special tokens such as [CLS]/[SEP], kept as in Captum's BERT tutorials);
 * "zero": the zero embedding; ids: the embeddings of these token ids; a Tensor: embeddings [T, E].
 */
export type Baseline = "pad" | "zero" | number[] | Tensor;

export function baselineEmbeddings(model: ExplainableModel, ids: number[], E: number, baseline: Baseline, keepTokenIds: number[] = []): Tensor {
  const T = ids.length;
  if (baseline === "zero") return Tensor.zeros([T, E]);
  if (baseline === "pad") {
    const pad = model.config.padTokenId;
    if (pad === null || pad === undefined) throw new ConfigError("explain: baseline 'pad' needs the model's pad_token_id (config.json); pass baseline 'zero' or baseline token ids instead");
    const keep = new Set(keepTokenIds);
    return embedIds(model, ids.map((id) => (keep.has(id) ? id : pad)));
  }
  if (Array.isArray(baseline)) {
    if (baseline.length !== T) throw new ShapeError(`explain: the baseline has ${baseline.length} token ids, the input ${T}`);
    return embedIds(model, baseline);
  }
  if (!(baseline instanceof Tensor)) throw new ConfigError(`explain: baseline must be 'pad', 'zero', token ids or a Tensor [${T}, ${E}]`);
  const b = baseline.ndim === 3 && baseline.shape[0] === 1 ? baseline.reshape([T, E]) : baseline;
  if (b.ndim !== 2 || b.shape[0] !== T || b.shape[1] !== E) throw new ShapeError(`explain: the baseline embeddings have shape [${baseline.shape}], expected [${T}, ${E}]`);
  return b.detach();
}
