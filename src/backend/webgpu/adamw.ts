// AdamW step in place on p, m, v: torch.optim.AdamW's single-tensor sequence of f32 operations as
// in the TS reference (src/backend/ts/adamw.ts), with the step's scalars rounded to f32 on the host.
// WGSL's sqrt and division may be off by an ulp or two (the spec allows 2.5 ulp for division), so
// the result is within a few ulp of the reference, not bit-identical.
import { ShapeError } from "../../tensor/errors.js";
import type { WebGpuDevice } from "./device.js";
import type { GpuKernelSet } from "./kernel_types.js";
import { GRID, WG, declare } from "./wgsl_common.js";
import { assertNoAlias, assertSizes } from "./guards.js";

const ADAMW = `${GRID}
struct P { n: u32, decay: f32, w1: f32, oneMinusW1: f32, lerpLow: u32, w2: f32, b2: f32, bc2Sqrt: f32, negStepSize: f32, eps: f32, hasDecay: u32 }
@group(0) @binding(0) var<uniform> p: P;
${declare([["PAR", "read_write", "f32"], ["G", "read", "f32"], ["M", "read_write", "f32"], ["V", "read_write", "f32"]])}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = group_id(wid, nwg) * ${WG}u + lid.x;
  if (i >= p.n) { return; }
  var pi = PAR[i];
  if (p.hasDecay != 0u) { pi = pi * p.decay; }
  let gi = G[i];
  let mi = M[i];
  // exp_avg.lerp_(grad, 1−β1): ATen's two formulas either side of weight 0.5
  var mNew: f32;
  if (p.lerpLow != 0u) { mNew = mi + p.w1 * (gi - mi); } else { mNew = gi - (gi - mi) * p.oneMinusW1; }
  let vNew = V[i] * p.b2 + (p.w2 * gi) * gi;
  let denom = sqrt(vNew) / p.bc2Sqrt + p.eps;
  PAR[i] = pi + (p.negStepSize * mNew) / denom;
  M[i] = mNew;
  V[i] = vNew;
}`;

export function adamwKernels(dev: WebGpuDevice): Pick<GpuKernelSet, "adamw"> {
  const f = Math.fround;
  return {
    adamw(par, g, m, v, hp) {
      assertNoAlias("adamw", [par, m, v], [g]);
      assertSizes("adamw", [["g", g, par.length], ["m", m, par.length], ["v", v, par.length]]);
      if (par === m || par === v || m === v) throw new ShapeError("webgpu adamw: p, m and v must be three different arrays");
      const { lr, beta1, beta2, eps, weightDecay, step } = hp;
      const w1 = f(1 - beta1);
      dev.dispatch(ADAMW, [
        ["u32", par.length], ["f32", f(1 - lr * weightDecay)], ["f32", w1], ["f32", f(1 - w1)], ["u32", w1 < 0.5 ? 1 : 0],
        ["f32", f(1 - beta2)], ["f32", f(beta2)], ["f32", f(Math.sqrt(1 - beta2 ** step))], ["f32", f(-(lr / (1 - beta1 ** step)))],
        ["f32", f(eps)], ["u32", weightDecay !== 0 ? 1 : 0],
      ], [par, g, m, v], dev.grid(Math.ceil(par.length / WG)));
    },
  };
}
