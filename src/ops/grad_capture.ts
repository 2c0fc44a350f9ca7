// A hook on the parameter-gradient step of the ops whose weight gradient is an outer product over
// rows (linear, loraLinear, embedding). While one is installed, these ops offer it the factors of
// the gradient (the layer input x and the output gradient gy, or the token ids) instead of, or
// before, forming the [out, in] gradient; DP-SGD's ghost clipping (src/train/dp/ghost.ts) computes
// per-sample norms and the clipped sum from them. When none is installed the cost is one null test
// per op backward.

import type { Tensor } from "../tensor/tensor.js";

export interface GradCapture {
  /**
   * A Linear-type weight gradient gyᵀ·x over `rows` rows: x [rows, inF], gy [rows, outF], the
   * parameter stored [outF, inF] (or [inF, outF] when inOut). true: taken (the op forms no gradient).
   */
  linearWeight(param: Tensor, x: Float32Array, gy: Float32Array, rows: number, inF: number, outF: number, inOut: boolean): boolean;
  /** A bias gradient Σ_rows gy, gy [rows, outF]. true: taken. */
  linearBias(param: Tensor, gy: Float32Array, rows: number, outF: number): boolean;
  /** An embedding table's gradient: gy [rows, dim] scattered to rows ids (paddingIdx's row gets none). true: taken. */
  embedding(param: Tensor, ids: Int32Array, gy: Float32Array, rows: number, dim: number, paddingIdx: number | null): boolean;
}

let current: GradCapture | null = null;

/** The installed capture (null: none). */
export function gradCapture(): GradCapture | null {
  return current;
}

/** Runs fn with `capture` installed (restores the previous one after). */
export function withGradCapture<T>(capture: GradCapture, fn: () => T): T {
  const prev = current;
  current = capture;
  try {
    return fn();
  } finally {
    current = prev;
  }
}
