// torch.nn.utils.clip_grad_norm_: total L2 norm over all gradients (as the norm of the per-tensor
// f32 norms), grads scaled by max_norm / (total + 1e-6) when that is < 1; returns the pre-clip norm.

import type { Tensor } from "../tensor/tensor.js";

const f = Math.fround;

function l2(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return f(Math.sqrt(s));
}

/** Norm of the gradients of `params` (the ones that have one). */
export function gradNorm(params: Tensor[]): number {
  let s = 0;
  for (const p of params) {
    if (!p.grad) continue;
    const n = l2(p.grad.contiguous().data as Float32Array);
    s += n * n;
  }
  return f(Math.sqrt(s));
}

/** Clips in place; returns the total norm before clipping (NaN/inf pass through, as in torch). `total`: the norm when known (tensor parallelism's full-model norm). */
export function clipGradNorm(params: Tensor[], maxNorm: number, total = gradNorm(params)): number {
  const coef = f(maxNorm / f(total + 1e-6));
  if (coef < 1 || Number.isNaN(coef)) {
    for (const p of params) {
      if (!p.grad) continue;
      const g = p.grad;
      if (!g.isContiguous()) throw new Error(`clipGradNorm: gradient of '${p.name}' is not contiguous`);
      const d = g.data as Float32Array;
      for (let i = 0; i < d.length; i++) d[i] = f(d[i] * coef);
    }
  }
  return total;
}
