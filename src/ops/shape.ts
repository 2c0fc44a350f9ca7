// Shape ops: concat/split/stack, where/maskedFill.
// TODO(ops helper): implement each with its backward.
import { Tensor } from "../tensor/tensor.js";
import type { TensorLike } from "./util.js";

const todo = (name: string): never => {
  throw new Error(`op '${name}' is not implemented yet`);
};

export function cat(tensors: Tensor[], dim = 0): Tensor { return todo("cat"); }
/** Splits into chunks of `sizes` (an array of sizes, or one size for equal chunks) along dim. */
export function split(x: Tensor, sizes: number | number[], dim = 0): Tensor[] { return todo("split"); }
export function stack(tensors: Tensor[], dim = 0): Tensor { return todo("stack"); }
/** cond ? a : b elementwise with broadcasting; cond is a tensor/array of 0/1 (non-zero = true). */
export function where(cond: TensorLike, a: TensorLike, b: TensorLike): Tensor { return todo("where"); }
/** x with `value` where mask is non-zero (mask broadcasts to x). */
export function maskedFill(x: TensorLike, mask: TensorLike, value: number): Tensor { return todo("maskedFill"); }
