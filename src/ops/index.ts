// Every op, re-exported in one place.
export * from "./elementwise.js";
export * from "./matmul.js";
export * from "./reduce.js";
export * from "./nn.js";
export * from "./loss.js";
export * from "./shape.js";
export { asTensor, broadcastShapes } from "./util.js";
export type { TensorLike } from "./util.js";
export * from "./quant_linear.js";
