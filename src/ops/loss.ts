// Losses: cross entropy (ignore_index, label smoothing), MSE, KL divergence, cosine similarity.
// TODO(ops helper): implement each with its backward.
import { Tensor } from "../tensor/tensor.js";
import type { TensorLike } from "./util.js";

const todo = (name: string): never => {
  throw new Error(`op '${name}' is not implemented yet`);
};

export type Reduction = "mean" | "sum" | "none";

/**
 * Cross entropy of logits [N, C] (or [..., C], flattened) against integer labels [N] (or [...]).
 * Labels equal to ignoreIndex (default −100) contribute nothing; "mean" divides by the number of
 * non-ignored labels (PyTorch semantics). labelSmoothing ε as torch.nn.functional.cross_entropy.
 */
export function crossEntropy(logits: Tensor, labels: Tensor | number[] | Int32Array, opts: { ignoreIndex?: number; labelSmoothing?: number; reduction?: Reduction } = {}): Tensor { return todo("crossEntropy"); }
/** Mean squared error. */
export function mseLoss(input: TensorLike, target: TensorLike, reduction: Reduction = "mean"): Tensor { return todo("mseLoss"); }
/**
 * torch.nn.functional.kl_div: input is log-probabilities, target probabilities (or log-probs with logTarget).
 * reduction "batchmean" divides the sum by input.shape[0].
 */
export function klDiv(input: TensorLike, target: TensorLike, opts: { reduction?: Reduction | "batchmean"; logTarget?: boolean } = {}): Tensor { return todo("klDiv"); }
/** Cosine similarity along dim (default −1): a·b / max(‖a‖‖b‖, eps). */
export function cosineSimilarity(a: TensorLike, b: TensorLike, dim = -1, eps = 1e-8): Tensor { return todo("cosineSimilarity"); }
