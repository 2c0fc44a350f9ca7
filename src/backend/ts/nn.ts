// Reference kernels for softmax, norms, cross entropy, embedding, attention, AdamW and bf16 conversion.
// TODO(ops helper): implement each kernel per the contract in ../backend.ts.
import type { AdamWParams, AttentionParams, F32 } from "../backend.js";
import { bf16ArrayToF32, f32ArrayToBf16 } from "../../tensor/dtype.js";

const todo = (name: string): never => {
  throw new Error(`TS kernel '${name}' is not implemented yet`);
};

export function softmax(x: F32, out: F32, rows: number, cols: number): void { todo("softmax"); }
export function softmaxBackward(y: F32, gy: F32, gx: F32, rows: number, cols: number): void { todo("softmaxBackward"); }
export function logSoftmax(x: F32, out: F32, rows: number, cols: number): void { todo("logSoftmax"); }
export function logSoftmaxBackward(y: F32, gy: F32, gx: F32, rows: number, cols: number): void { todo("logSoftmaxBackward"); }
export function layerNorm(x: F32, w: F32 | null, b: F32 | null, out: F32, mean: F32, rstd: F32, rows: number, cols: number, eps: number): void { todo("layerNorm"); }
export function layerNormBackward(x: F32, w: F32 | null, mean: F32, rstd: F32, gy: F32, gx: F32, gw: F32 | null, gb: F32 | null, rows: number, cols: number): void { todo("layerNormBackward"); }
export function rmsNorm(x: F32, w: F32 | null, out: F32, rstd: F32, rows: number, cols: number, eps: number): void { todo("rmsNorm"); }
export function rmsNormBackward(x: F32, w: F32 | null, rstd: F32, gy: F32, gx: F32, gw: F32 | null, rows: number, cols: number): void { todo("rmsNormBackward"); }
export function crossEntropy(logits: F32, labels: Int32Array, loss: F32, probs: F32, rows: number, cols: number, ignoreIndex: number, labelSmoothing: number): void { todo("crossEntropy"); }
export function crossEntropyBackward(probs: F32, labels: Int32Array, gLoss: F32, gLogits: F32, rows: number, cols: number, ignoreIndex: number, labelSmoothing: number): void { todo("crossEntropyBackward"); }
export function attention(q: F32, k: F32, v: F32, mask: F32 | null, out: F32, probs: F32, p: AttentionParams): void { todo("attention"); }
export function attentionBackward(q: F32, k: F32, v: F32, probs: F32, gOut: F32, gq: F32, gk: F32, gv: F32, p: AttentionParams): void { todo("attentionBackward"); }
export function embedding(weight: F32, ids: Int32Array, out: F32, dim: number): void {
  for (let t = 0; t < ids.length; t++) out.set(weight.subarray(ids[t] * dim, ids[t] * dim + dim), t * dim);
}
export function embeddingBackward(gOut: F32, ids: Int32Array, gWeight: F32, dim: number): void {
  for (let t = 0; t < ids.length; t++) {
    const r = ids[t] * dim, o = t * dim;
    for (let i = 0; i < dim; i++) gWeight[r + i] += gOut[o + i];
  }
}
export function adamw(p: F32, g: F32, m: F32, v: F32, hp: AdamWParams): void { todo("adamw"); }
export function f32ToBf16(x: F32, out: Uint16Array): void { f32ArrayToBf16(x, out); }
export function bf16ToF32(x: Uint16Array, out: F32): void { bf16ArrayToF32(x, out); }
