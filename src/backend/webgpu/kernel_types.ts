// The WebGPU kernel table: the Backend contract's kernels (src/backend/backend.ts), with every
// typed-array operand replaced by a GPU-resident GpuArray. Same argument order, same semantics
// (written vs accumulated outputs, nullable operands), but the call only enqueues the work.
import type { F32, KernelSet } from "../backend.js";
import type { GpuArray } from "./buffer_pool.js";

/** The kernels this backend implements: the set (GEMM, elementwise, reductions, row kernels, attention, AdamW) and the rest of a model step's. */
export type GpuKernelName =
  | "matmul" | "unary" | "unaryBackward" | "binary" | "affine" | "biasAct" | "biasActBackward"
  | "sum" | "max" | "softmax" | "softmaxBackward" | "logSoftmax" | "logSoftmaxBackward"
  | "layerNorm" | "layerNormBackward" | "rmsNorm" | "rmsNormBackward"
  | "crossEntropy" | "crossEntropyBackward" | "attention" | "attentionBackward" | "adamw"
  // what a Llama/BERT step needs besides: SwiGLU, rotary, dropout masks, embeddings
  | "siluMul" | "siluMulBackward" | "rotary" | "dropoutMask" | "dropoutApply" | "embedding" | "embeddingBackward"
  // bf16-stored weights (two per u32 word)
  | "matmulBf16" | "f32ToBf16" | "bf16ToF32";

// the dropout kernels' generator state (Uint32Array) stays on the host: it is advanced there
type OnGpu<T> = T extends F32 | Int32Array | Uint16Array ? GpuArray : T;
type GpuArgs<A extends unknown[]> = { [K in keyof A]: OnGpu<A[K]> };
type GpuKernel<F> = F extends (...args: infer A) => void ? (...args: GpuArgs<A>) => void : never;

export type GpuKernelSet = { [K in GpuKernelName]: GpuKernel<KernelSet[K]> };
