// Helpers for ops that work along one dim: move it last (as a contiguous f32 copy) and back.
import { Tensor } from "../tensor/tensor.js";
import { f32Of } from "./util.js";

/** Contiguous f32 rows of t with `dim` moved last; `restore` maps such a buffer back to t's layout. */
export function rowsAlong(t: Tensor, dim: number): { data: Float32Array; rows: number; cols: number; restore: (buf: Float32Array) => Float32Array } {
  const nd = t.ndim;
  const cols = nd === 0 ? 1 : t.shape[dim];
  const rows = cols === 0 ? 0 : t.size / cols;
  if (nd === 0 || dim === nd - 1) return { data: f32Of(t), rows, cols, restore: (b) => b };
  // detach so the permutation records nothing: the calling op records one node for itself
  const moved = t.detach().transpose(dim, -1);
  const movedShape = moved.shape;
  return {
    data: f32Of(moved),
    rows,
    cols,
    restore: (buf) => new Tensor(buf, movedShape).transpose(dim, -1).contiguous().data as Float32Array,
  };
}

/** Same permutation applied to a gradient buffer laid out like t (for backward passes). */
export function toRowsAlong(g: Tensor, dim: number): Float32Array {
  if (g.ndim === 0 || dim === g.ndim - 1) return f32Of(g);
  return f32Of(g.detach().transpose(dim, -1));
}
