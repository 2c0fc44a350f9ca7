// Neural-network ops: softmax family, norms, embedding, dropout, attention, rotary embedding.
// TODO(ops helper): implement each with its backward, dispatching to getBackend() kernels.
import { Tensor } from "../tensor/tensor.js";
import { Rng, globalRng } from "../tensor/random.js";
import type { TensorLike } from "./util.js";

const todo = (name: string): never => {
  throw new Error(`op '${name}' is not implemented yet`);
};

/** Softmax over `dim` (default last). */
export function softmax(x: TensorLike, dim = -1): Tensor { return todo("softmax"); }
/** log(softmax(x)) over `dim` (default last), computed stably. */
export function logSoftmax(x: TensorLike, dim = -1): Tensor { return todo("logSoftmax"); }
/** LayerNorm over the last dim; weight/bias [C] optional. */
export function layerNorm(x: TensorLike, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor { return todo("layerNorm"); }
/** RMSNorm over the last dim (Llama): x · rsqrt(mean(x²)+eps) · weight. */
export function rmsNorm(x: TensorLike, weight: Tensor | null, eps = 1e-6): Tensor { return todo("rmsNorm"); }
/** Rows of weight [V, D] selected by integer ids (any shape) → [...ids.shape, D]; scatter-add backward. */
export function embedding(weight: Tensor, ids: Tensor | number[] | number[][]): Tensor { return todo("embedding"); }
/** Inverted dropout: zeroes with probability p and scales survivors by 1/(1−p); identity when !training or p=0. */
export function dropout(x: TensorLike, p: number, training: boolean, rng: Rng = globalRng): Tensor { return todo("dropout"); }
/**
 * Scaled dot-product attention. q [B,H,Tq,D], k/v [B,Hkv,Tk,D] (GQA when Hkv < H).
 * keyMask: [B,Tk] 1/0 (1 = attend) or null; causal masks future keys; scale defaults to 1/√D.
 */
export function scaledDotProductAttention(
  q: Tensor, k: Tensor, v: Tensor,
  opts?: { keyMask?: Tensor | number[][] | null; causal?: boolean; scale?: number },
): Tensor { return todo("scaledDotProductAttention"); }
/** Rotary embedding in HF's rotate_half layout: x·cos + rotate_half(x)·sin; x [B,H,T,D], cos/sin [T,D] or [B,T,D]. */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor { return todo("applyRotary"); }
/** cos/sin tables [T, D] for positions (HF default rope; linear scaling divides positions by factor). */
export function rotaryTables(positions: number[], headDim: number, theta: number, scalingFactor = 1): { cos: Tensor; sin: Tensor } { return todo("rotaryTables"); }
