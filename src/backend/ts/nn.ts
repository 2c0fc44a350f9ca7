// Reference kernels for softmax, norms, cross entropy, embedding, attention, AdamW and bf16 conversion.
// Each family lives in its own file; this module gathers them for the TS backend's kernel table.
import type { F32 } from "../backend.js";
import { bf16ArrayToF32, f32ArrayToBf16 } from "../../tensor/dtype.js";

export { softmax, softmaxBackward, logSoftmax, logSoftmaxBackward } from "./softmax.js";
export { layerNorm, layerNormBackward, rmsNorm, rmsNormBackward } from "./norm.js";
export { crossEntropy, crossEntropyBackward } from "./cross_entropy.js";
export { attention, attentionBackward } from "./attention.js";
export { flashAttention, flashAttentionBackward } from "./flash_attention.js";
export { adamw } from "./adamw.js";
export { rotary } from "./rotary.js";
export { dropoutMask, dropoutApply } from "./dropout.js";
export { siluMul, siluMulBackward } from "./swiglu.js";

export function embedding(weight: F32, ids: Int32Array, out: F32, dim: number): void {
  for (let t = 0; t < ids.length; t++) out.set(weight.subarray(ids[t] * dim, ids[t] * dim + dim), t * dim);
}
export function embeddingBackward(gOut: F32, ids: Int32Array, gWeight: F32, dim: number): void {
  for (let t = 0; t < ids.length; t++) {
    const r = ids[t] * dim, o = t * dim;
    for (let i = 0; i < dim; i++) gWeight[r + i] += gOut[o + i];
  }
}
export function f32ToBf16(x: F32, out: Uint16Array): void { f32ArrayToBf16(x, out); }
export function bf16ToF32(x: Uint16Array, out: F32): void { bf16ArrayToF32(x, out); }
