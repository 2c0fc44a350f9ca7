// Multi-head attention building blocks: heads split from and merged back into the hidden dim, and
// attention with HF eager semantics.
import { Tensor } from "../tensor/tensor.js";
import * as ops from "../ops/index.js";
import { capturingAttentions, reportAttention } from "./attention_capture.js";

/** [B,T,H·D] → [B,H,T,D]. */
export function splitHeads(x: Tensor, heads: number, headDim: number): Tensor {
  const [B, T] = x.shape;
  return x.reshape([B, T, heads, headDim]).transpose(1, 2);
}
/** [B,H,T,D] → [B,T,H·D]. */
export function mergeHeads(x: Tensor): Tensor {
  const [B, H, T, D] = x.shape;
  return x.transpose(1, 2).contiguous().reshape([B, T, H * D]);
}

/**
 * Attention with HF eager semantics (scores → mask → softmax → dropout → ·V) through the fused op;
 * in training the attention dropout is applied to the probabilities inside it, as in PyTorch.
 * Inside an attention capture scope (outputAttentions) the eager kernels run and the weights are
 * reported (`cross`: a cross-attention block).
 */
export function attention(
  q: Tensor, k: Tensor, v: Tensor,
  opts: { keyMask: Tensor | null; causal: boolean; scale: number; dropoutP: number; training: boolean; cross?: boolean },
): Tensor {
  const cross = opts.cross === true;
  return ops.scaledDotProductAttention(q, k, v, {
    keyMask: opts.keyMask, causal: opts.causal, scale: opts.scale, dropoutP: opts.dropoutP, training: opts.training,
    onWeights: capturingAttentions() ? (w) => reportAttention(w, cross) : undefined,
  });
}
