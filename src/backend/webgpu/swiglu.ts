// SwiGLU gate (Llama MLP): out = silu(gate) ⊙ up, and its two input gradients (written).
import type { WebGpuDevice } from "./device.js";
import type { GpuKernelSet } from "./kernel_types.js";
import { GRID, MATH, WG, declare } from "./wgsl_common.js";
import { assertNoAlias, assertSizes } from "./guards.js";

const ENTRY = `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = group_id(wid, nwg) * ${WG}u + lid.x;
  if (i >= p.n) { return; }`;
const U = "struct P { n: u32 }\n@group(0) @binding(0) var<uniform> p: P;";

const FORWARD = `${GRID}${MATH}${U}
${declare([["G", "read", "f32"], ["UP", "read", "f32"], ["O", "read_write", "f32"]])}
${ENTRY}
  let g = G[i];
  O[i] = g * sigmoid_f(g) * UP[i];
}`;

const BACKWARD = `${GRID}${MATH}${U}
${declare([["G", "read", "f32"], ["UP", "read", "f32"], ["GY", "read", "f32"], ["GG", "read_write", "f32"], ["GU", "read_write", "f32"]])}
${ENTRY}
  let g = G[i];
  let s = sigmoid_f(g);
  GU[i] = GY[i] * g * s;
  GG[i] = GY[i] * UP[i] * s * (1.0 + g * (1.0 - s));
}`;

export function swigluKernels(dev: WebGpuDevice): Pick<GpuKernelSet, "siluMul" | "siluMulBackward"> {
  const groups = (n: number) => dev.grid(Math.ceil(n / WG));
  return {
    siluMul(gate, up, out) {
      assertNoAlias("siluMul", [out], [gate, up]);
      assertSizes("siluMul", [["gate", gate, out.length], ["up", up, out.length]]);
      dev.dispatch(FORWARD, [["u32", out.length]], [gate, up, out], groups(out.length));
    },
    siluMulBackward(gate, up, gy, gGate, gUp) {
      assertNoAlias("siluMulBackward", [gGate, gUp], [gate, up, gy]);
      assertSizes("siluMulBackward", [["gate", gate, gy.length], ["up", up, gy.length], ["gGate", gGate, gy.length], ["gUp", gUp, gy.length]]);
      dev.dispatch(BACKWARD, [["u32", gy.length]], [gate, up, gy, gGate, gUp], groups(gy.length));
    },
  };
}
