// Reductions over the middle axis of an [outer, n, inner] view: one thread per output element,
// summing (or scanning for the max) over j in order, in f32 as the reference's Float32Array sums,
// so sums match it exactly when the inputs do.
import type { WebGpuDevice } from "./device.js";
import type { GpuKernelSet } from "./kernel_types.js";
import { GRID, WG } from "./wgsl_common.js";
import { assertInt32, assertNoAlias, assertSizes } from "./guards.js";

const HEAD = `${GRID}
struct P { outer: u32, n: u32, inner: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> X: array<f32>;
`;
const ENTRY = `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = group_id(wid, nwg) * ${WG}u + lid.x;
  if (t >= p.outer * p.inner) { return; }
  let o = t / p.inner;
  let i = t % p.inner;
  let base = o * p.n * p.inner + i;`;

const SUM = `${HEAD}
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
${ENTRY}
  var s = 0.0;
  for (var j = 0u; j < p.n; j++) { s += X[base + j * p.inner]; }
  O[t] = s;
}`;

// first maximum wins; a NaN is the maximum (and stops the scan), as the reference
const MAX = `${HEAD}
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
@group(0) @binding(3) var<storage, read_write> IDX: array<i32>;
${ENTRY}
  var best = neg_inf();
  var bi = 0;
  for (var j = 0u; j < p.n; j++) {
    let v = X[base + j * p.inner];
    if (is_nan(v)) { best = v; bi = i32(j); break; }
    if (v > best) { best = v; bi = i32(j); }
  }
  O[t] = best;
  IDX[t] = bi;
}`;

export function reduceKernels(dev: WebGpuDevice): Pick<GpuKernelSet, "sum" | "max"> {
  const dims = (outer: number, n: number, inner: number): ["u32", number][] => [["u32", outer], ["u32", n], ["u32", inner]];
  const groups = (count: number) => dev.grid(Math.ceil(count / WG));
  return {
    sum(x, out, outer, n, inner) {
      assertNoAlias("sum", [out], [x]);
      assertSizes("sum", [["x", x, outer * n * inner], ["out", out, outer * inner]]);
      dev.dispatch(SUM, dims(outer, n, inner), [x, out], groups(outer * inner));
    },
    max(x, out, idx, outer, n, inner) {
      assertNoAlias("max", [out, idx], [x]);
      assertInt32("max", "idx", idx);
      assertSizes("max", [["x", x, outer * n * inner], ["out", out, outer * inner], ["idx", idx, outer * inner]]);
      dev.dispatch(MAX, dims(outer, n, inner), [x, out, idx], groups(outer * inner));
    },
  };
}
