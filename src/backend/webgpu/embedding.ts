// Embedding lookup and its backward. The backward gives each thread one column d and walks the
// tokens in order (gWeight[ids[t], d] += gOut[t, d]): repeated ids never race, and the sums are the
// reference's, in its order (bit-identical).
import type { WebGpuDevice } from "./device.js";
import type { GpuKernelSet } from "./kernel_types.js";
import { GRID, WG, declare } from "./wgsl_common.js";
import { assertInt32, assertNoAlias, assertSizes } from "./guards.js";

const ENTRY = `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let q = group_id(wid, nwg) * ${WG}u + lid.x;`;
const U = "struct P { tokens: u32, dim: u32 }\n@group(0) @binding(0) var<uniform> p: P;";

const FORWARD = `${GRID}${U}
${declare([["W", "read", "f32"], ["IDS", "read", "i32"], ["O", "read_write", "f32"]])}
${ENTRY}
  if (q >= p.tokens * p.dim) { return; }
  O[q] = W[u32(IDS[q / p.dim]) * p.dim + q % p.dim];
}`;

const BACKWARD = `${GRID}${U}
${declare([["GO", "read", "f32"], ["IDS", "read", "i32"], ["GW", "read_write", "f32"]])}
${ENTRY}
  if (q >= p.dim) { return; }
  for (var t = 0u; t < p.tokens; t++) {
    let r = u32(IDS[t]) * p.dim + q;
    GW[r] = GW[r] + GO[t * p.dim + q];
  }
}`;

export function embeddingKernels(dev: WebGpuDevice): Pick<GpuKernelSet, "embedding" | "embeddingBackward"> {
  return {
    embedding(weight, ids, out, dim) {
      assertNoAlias("embedding", [out], [weight, ids]);
      assertInt32("embedding", "ids", ids);
      assertSizes("embedding", [["out", out, ids.length * dim]]);
      dev.dispatch(FORWARD, [["u32", ids.length], ["u32", dim]], [weight, ids, out], dev.grid(Math.ceil((ids.length * dim) / WG)));
    },
    embeddingBackward(gOut, ids, gWeight, dim) {
      assertNoAlias("embeddingBackward", [gWeight], [gOut, ids]);
      assertInt32("embeddingBackward", "ids", ids);
      assertSizes("embeddingBackward", [["gOut", gOut, ids.length * dim]]);
      dev.dispatch(BACKWARD, [["u32", ids.length], ["u32", dim]], [gOut, ids, gWeight], dev.grid(Math.ceil(dim / WG)));
    },
  };
}
