// Per-sample gradients for DP-SGD.
//
// perSampleGradients: the per-sample pass. Each example of a micro-batch runs its own forward and
// backward through our autograd, and the gradient of every trainable parameter is copied out. It
// is exact for every parameter type (LoRA A/B, IA3 vectors, prompt/prefix embeddings, heads,
// LayerNorm/bias, full Linear/Embedding) because no op mixes examples; padding to the batch's
// length is not needed (each example is its own batch). Cost: B small passes instead of one.
//
// linearPerSampleGrads / linearGhostNormsSquared: the outer-product form for Linear-type layers
// from captured activations x [B, T, in] and output gradients gy [B, T, out]:
//   dW_i = Σ_t gy_it ⊗ x_it,  db_i = Σ_t gy_it,
//   ‖dW_i‖² = Σ_{t,s} (x_it · x_is)(gy_it · gy_is)   (ghost clipping: no [out, in] per sample).

import type { Tensor } from "../../tensor/tensor.js";
import { ShapeError, PeftError } from "../../tensor/errors.js";

/** grads[i][k]: the gradient of params[k] for example i (zeros when the example did not reach it). */
export type SampleGrads = Float32Array[][];

function gradCopy(name: string, p: Tensor): Float32Array {
  if (!p.grad) return new Float32Array(p.size);
  if (p.grad.dtype !== "f32") throw new PeftError(`DP-SGD: the gradient of '${name}' is ${p.grad.dtype}; per-sample gradients need float32 parameters`);
  return Float32Array.from(p.grad.contiguous().data as Float32Array);
}

/**
 * The per-sample pass: for i < n, clears the gradients of `params`, runs `lossOf(i)` (the loss
 * of example i alone) and its backward, and copies the gradients. Leaves the gradients cleared.
 */
export function perSampleGradients(named: [string, Tensor][], n: number, lossOf: (i: number) => Tensor): SampleGrads {
  for (const [name, p] of named) {
    if (!p.requiresGrad) throw new PeftError(`DP-SGD: parameter '${name}' does not require a gradient`);
    p.grad = null;
  }
  const out: SampleGrads = [];
  for (let i = 0; i < n; i++) {
    const loss = lossOf(i);
    if (loss.size !== 1) throw new ShapeError(`DP-SGD: the loss of example ${i} must be a scalar, got shape [${loss.shape}]`);
    loss.backward();
    out.push(named.map(([name, p]) => gradCopy(name, p)));
    for (const [, p] of named) p.grad = null;
  }
  return out;
}

/** Squared L2 norms of each example's gradient per parameter: [n][k]. */
export function sampleNormsSquared(grads: SampleGrads): number[][] {
  return grads.map((g) => g.map((v) => { let s = 0; for (let j = 0; j < v.length; j++) s += v[j] * v[j]; return s; }));
}

function dims3(what: string, shape: number[]): [number, number, number] {
  if (shape.length === 2) return [shape[0], 1, shape[1]];
  if (shape.length !== 3) throw new ShapeError(`${what}: expected [B, T, features] or [B, features], got [${shape}]`);
  return [shape[0], shape[1], shape[2]];
}

function linearDims(x: Tensor, gy: Tensor): { B: number; T: number; I: number; O: number; xd: Float32Array; gd: Float32Array } {
  const [B, T, I] = dims3("linear per-sample x", x.shape);
  const [B2, T2, O] = dims3("linear per-sample output grad", gy.shape);
  if (B !== B2 || T !== T2) throw new ShapeError(`linear per-sample: x [${x.shape}] and output grad [${gy.shape}] disagree on batch/sequence`);
  return { B, T, I, O, xd: x.contiguous().f32(), gd: gy.contiguous().f32() };
}

/** Outer-product per-sample gradients of a Linear layer: weight [B][out·in] (row-major [out, in]) and bias [B][out]. */
export function linearPerSampleGrads(x: Tensor, gy: Tensor): { weight: Float32Array[]; bias: Float32Array[] } {
  const { B, T, I, O, xd, gd } = linearDims(x, gy);
  const weight: Float32Array[] = [], bias: Float32Array[] = [];
  for (let b = 0; b < B; b++) {
    const w = new Float32Array(O * I), bb = new Float32Array(O);
    for (let t = 0; t < T; t++) {
      const xo = (b * T + t) * I, go = (b * T + t) * O;
      for (let o = 0; o < O; o++) {
        const g = gd[go + o];
        bb[o] += g;
        if (g === 0) continue;
        const row = o * I;
        for (let k = 0; k < I; k++) w[row + k] += g * xd[xo + k];
      }
    }
    weight.push(w);
    bias.push(bb);
  }
  return { weight, bias };
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += a[ao + k] * b[bo + k];
  return s;
}

/** Ghost clipping: per-sample squared norms of a Linear layer's weight and bias gradients, O(T²(in+out)) per sample. */
export function linearGhostNormsSquared(x: Tensor, gy: Tensor): { weight: number[]; bias: number[] } {
  const { B, T, I, O, xd, gd } = linearDims(x, gy);
  const weight: number[] = [], bias: number[] = [];
  for (let b = 0; b < B; b++) {
    let w = 0, bs = 0;
    for (let t = 0; t < T; t++) {
      for (let s = 0; s < T; s++) {
        const gg = dot(gd, (b * T + t) * O, gd, (b * T + s) * O, O);
        bs += gg;
        if (gg !== 0) w += gg * dot(xd, (b * T + t) * I, xd, (b * T + s) * I, I);
      }
    }
    weight.push(w);
    bias.push(bs);
  }
  return { weight, bias };
}
