// The public API of peft-ts, and nothing else.
export { Tensor, tensor } from "./tensor/tensor.js";
export type { NestedArray } from "./tensor/tensor.js";
export type { DType } from "./tensor/dtype.js";
export { noGrad, enableGrad, isGradEnabled } from "./tensor/autograd.js";
export { Rng, globalRng, manualSeed } from "./tensor/random.js";
export { PeftError, FormatError, ConfigError, ShapeError } from "./tensor/errors.js";
export { getBackend, setBackend } from "./backend/registry.js";
export * as ops from "./ops/index.js";
export { Module, ModuleList } from "./nn/module.js";
export { Linear, Embedding, LayerNorm, RMSNorm, Dropout } from "./nn/layers.js";
