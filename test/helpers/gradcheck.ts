// Finite-difference gradient checks: the reference derivative is computed in float64 by
// central differences of the op's own forward (evaluated in f32, perturbation chosen for f32).
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { noGrad } from "../../src/tensor/autograd.js";
import { Rng } from "../../src/tensor/random.js";

export function randn(shape: number[], rng: Rng, scale = 1): Tensor {
  const t = Tensor.zeros(shape);
  rng.fillNormal(t.data, 0, scale);
  return t;
}

/**
 * Checks d(sum(f(inputs) ⊙ w))/d(input) for every input that requires grad, where w is a fixed
 * random projection (so every output element matters).
 */
export function gradcheck(
  f: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: { eps?: number; atol?: number; rtol?: number; seed?: number; name?: string } = {},
): void {
  const eps = opts.eps ?? 1e-2;
  const atol = opts.atol ?? 2e-3;
  const rtol = opts.rtol ?? 2e-2;
  const rng = new Rng(opts.seed ?? 1234);
  for (const x of inputs) if (x.dtype === "f32" && !x.gradFn) x.requiresGrad = true;
  const out = f(...inputs);
  const w = randn(out.shape, rng);
  const wd = w.data as Float32Array;
  const proj = (t: Tensor): number => {
    const d = t.f32();
    let s = 0;
    for (let i = 0; i < d.length; i++) s += d[i] * wd[i];
    return s;
  };
  for (const x of inputs) x.grad = null;
  out.backward(w);
  inputs.forEach((x, xi) => {
    if (!x.requiresGrad) return;
    assert.ok(x.grad, `${opts.name ?? "op"}: input ${xi} got no gradient`);
    const analytic = x.grad!.f32();
    const data = x.storage as Float32Array;
    const xs = x.isContiguous() ? null : "non-contiguous";
    void xs;
    // walk logical elements through strides
    const idxs: number[] = [];
    const walk = (d: number, off: number) => {
      if (d === x.ndim) { idxs.push(off); return; }
      for (let i = 0; i < x.shape[d]; i++) walk(d + 1, off + i * x.strides[d]);
    };
    walk(0, x.offset);
    idxs.forEach((pos, i) => {
      const orig = data[pos];
      data[pos] = orig + eps;
      const fp = noGrad(() => proj(f(...inputs)));
      data[pos] = orig - eps;
      const fm = noGrad(() => proj(f(...inputs)));
      data[pos] = orig;
      const numeric = (fp - fm) / (2 * eps);
      const diff = Math.abs(numeric - analytic[i]);
      assert.ok(
        diff <= atol + rtol * Math.abs(numeric),
        `${opts.name ?? "op"}: d/dx${xi}[${i}] analytic ${analytic[i]} vs numeric ${numeric} (diff ${diff})`,
      );
    });
  });
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what = "values"): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs expected ${expected.length}`);
  let worst = 0, wi = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    const tol = atol + rtol * Math.abs(expected[i]);
    if (!(d <= tol) && d - tol >= worst) { worst = d - tol; wi = i; }
  }
  assert.ok(wi < 0, `${what}: element ${wi} is ${actual[wi]}, expected ${expected[wi]} (atol ${atol}, rtol ${rtol})`);
}
