// Reference AdamW step, following torch.optim.AdamW's single-tensor path operation by operation
// (each step rounded to f32 as PyTorch's f32 tensors are), so trajectories match PyTorch closely.
import type { AdamWParams, F32 } from "../backend.js";

const f = Math.fround;

export function adamw(p: F32, g: F32, m: F32, v: F32, hp: AdamWParams): void {
  const { lr, beta1, beta2, eps, weightDecay, step } = hp;
  const decay = f(1 - lr * weightDecay);
  // exp_avg.lerp_(grad, 1−β1): for weight < 0.5 ATen computes self + w·(end − self)
  const w1 = f(1 - beta1);
  const lerpLow = w1 < 0.5;
  const w2 = f(1 - beta2);
  const b2 = f(beta2);
  const bc1 = 1 - beta1 ** step;
  const bc2Sqrt = f(Math.sqrt(1 - beta2 ** step));
  const negStepSize = f(-(lr / bc1));
  const epsF = f(eps);
  for (let i = 0; i < p.length; i++) {
    let pi = p[i];
    if (weightDecay !== 0) pi = f(pi * decay);
    const gi = g[i];
    const mi = m[i];
    const mNew = lerpLow ? f(mi + f(w1 * f(gi - mi))) : f(gi - f(f(gi - mi) * f(1 - w1)));
    const vNew = f(f(v[i] * b2) + f(f(w2 * gi) * gi));
    const denom = f(f(f(Math.sqrt(vNew)) / bc2Sqrt) + epsF);
    p[i] = f(pi + f(f(negStepSize * mNew) / denom));
    m[i] = mNew;
    v[i] = vNew;
  }
}
