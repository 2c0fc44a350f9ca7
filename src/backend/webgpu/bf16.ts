// bf16 <-> f32 conversion over packed bf16 arrays (two values per u32 word, element 2w in the low
// half): f32 → bf16 rounds to nearest even and keeps NaN a quiet NaN, as src/tensor/dtype.ts;
// one thread per output word, so no two threads write the same word.
import { ShapeError } from "../../tensor/errors.js";
import type { WebGpuDevice } from "./device.js";
import type { GpuKernelSet } from "./kernel_types.js";
import { GRID, WG, declare } from "./wgsl_common.js";
import { assertSizes } from "./guards.js";

const ENTRY = `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let q = group_id(wid, nwg) * ${WG}u + lid.x;`;
const U = "struct P { n: u32 }\n@group(0) @binding(0) var<uniform> p: P;";

const TO_BF16 = `${GRID}${U}
${declare([["X", "read", "f32"], ["O", "read_write", "i32"]])}
fn bf16_bits(x: f32) -> u32 {
  let u = bitcast<u32>(x);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0u) { return ((u >> 16u) | 0x0040u) & 0xffffu; }
  return ((u + 0x7fffu + ((u >> 16u) & 1u)) >> 16u) & 0xffffu;
}
${ENTRY}
  let e = 2u * q;
  if (e >= p.n) { return; }
  var hi = 0u;
  if (e + 1u < p.n) { hi = bf16_bits(X[e + 1u]); }
  O[q] = bitcast<i32>(bf16_bits(X[e]) | (hi << 16u));
}`;

const TO_F32 = `${GRID}${U}
${declare([["X", "read", "i32"], ["O", "read_write", "f32"]])}
${ENTRY}
  if (q >= p.n) { return; }
  let w = bitcast<u32>(X[q >> 1u]);
  O[q] = bitcast<f32>(select(w << 16u, w & 0xffff0000u, (q & 1u) == 1u));
}`;

export function bf16Kernels(dev: WebGpuDevice): Pick<GpuKernelSet, "f32ToBf16" | "bf16ToF32"> {
  const groups = (n: number) => dev.grid(Math.ceil(n / WG));
  return {
    f32ToBf16(x, out) {
      if (out.dtype !== "bf16") throw new ShapeError(`webgpu f32ToBf16: out is ${out.dtype}, expected bf16`);
      assertSizes("f32ToBf16", [["out", out, x.length]]);
      dev.dispatch(TO_BF16, [["u32", x.length]], [x, out], groups(Math.ceil(x.length / 2)));
    },
    bf16ToF32(x, out) {
      if (x.dtype !== "bf16") throw new ShapeError(`webgpu bf16ToF32: x is ${x.dtype}, expected bf16`);
      assertSizes("bf16ToF32", [["out", out, x.length]]);
      dev.dispatch(TO_F32, [["u32", x.length]], [x, out], groups(x.length));
    },
  };
}
