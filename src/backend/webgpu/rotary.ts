// Rotary embedding (HF rotate_half layout) over a strided [B,H,T,D] view into a contiguous out,
// and its inverse (the backward): one thread per (b, h, t, i < D/2) pair. The forward rounds each
// product to f32 before the sum (PyTorch's unfused form), as the reference.
import type { WebGpuDevice } from "./device.js";
import type { GpuKernelSet } from "./kernel_types.js";
import { GRID, WG, declare } from "./wgsl_common.js";
import { assertNoAlias, assertSizes } from "./guards.js";

function rotaryCode(inverse: boolean): string {
  return `${GRID}
struct P { B: u32, H: u32, T: u32, D: u32, sB: u32, sH: u32, sT: u32, perBatch: u32 }
@group(0) @binding(0) var<uniform> p: P;
${declare([["X", "read", "f32"], ["COS", "read", "f32"], ["SIN", "read", "f32"], ["O", "read_write", "f32"]])}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let half = p.D / 2u;
  let q = group_id(wid, nwg) * ${WG}u + lid.x;
  if (q >= p.B * p.H * p.T * half) { return; }
  let i = q % half;
  let t = (q / half) % p.T;
  let h = (q / (half * p.T)) % p.H;
  let b = q / (half * p.T * p.H);
  let xo = b * p.sB + h * p.sH + t * p.sT;
  let o = ((b * p.H + h) * p.T + t) * p.D;
  let r = select(0u, b * p.T * p.D, p.perBatch != 0u) + t * p.D;
  let x1 = X[xo + i];
  let x2 = X[xo + half + i];
  ${inverse
    ? `O[o + i] = x1 * COS[r + i] + x2 * SIN[r + half + i];
  O[o + half + i] = x2 * COS[r + half + i] - x1 * SIN[r + i];`
    : `O[o + i] = x1 * COS[r + i] - x2 * SIN[r + i];
  O[o + half + i] = x2 * COS[r + half + i] + x1 * SIN[r + half + i];`}
}`;
}

export function rotaryKernels(dev: WebGpuDevice): Pick<GpuKernelSet, "rotary"> {
  return {
    rotary(x, cos, sin, out, p, inverse) {
      assertNoAlias("rotary", [out], [x, cos, sin]);
      const tables = (p.perBatch ? p.batch : 1) * p.seq * p.headDim;
      const xEnd = p.batch * p.heads * p.seq === 0 ? 0 : (p.batch - 1) * p.strideB + (p.heads - 1) * p.strideH + (p.seq - 1) * p.strideT + p.headDim;
      assertSizes("rotary", [["x", x, xEnd], ["cos", cos, tables], ["sin", sin, tables], ["out", out, p.batch * p.heads * p.seq * p.headDim]]);
      const u = (v: number | boolean): ["u32", number] => ["u32", Number(v)];
      dev.dispatch(rotaryCode(inverse), [u(p.batch), u(p.heads), u(p.seq), u(p.headDim), u(p.strideB), u(p.strideH), u(p.strideT), u(p.perBatch)],
        [x, cos, sin, out], dev.grid(Math.ceil((p.batch * p.heads * p.seq * (p.headDim / 2)) / WG)));
    },
  };
}
