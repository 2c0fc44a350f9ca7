// Counter-based dropout on the GPU, bit-identical to the reference (src/backend/ts/dropout.ts):
// the host advances the generator state by its two draws (k0, k1) exactly as the reference does,
// and each thread hashes its index, h = lowbias32(lowbias32(i + k0) ^ k1) (u32 arithmetic wraps
// mod 2³² in WGSL as Math.imul does), dropping the element when h < p·2³².
import { xoshiroNext } from "../../tensor/xoshiro.js";
import type { WebGpuDevice } from "./device.js";
import type { GpuKernelSet } from "./kernel_types.js";
import type { GpuArray } from "./buffer_pool.js";
import { GRID, WG, declare } from "./wgsl_common.js";

function dropoutCode(withX: boolean, inPlace: boolean): string {
  const bufs = withX ? (inPlace ? [["O", "read_write", "f32"]] : [["X", "read", "f32"], ["O", "read_write", "f32"]]) : [["O", "read_write", "f32"]];
  return `${GRID}
struct P { n: u32, k0: u32, k1: u32, thr: u32, dropAll: u32, keep: f32 }
@group(0) @binding(0) var<uniform> p: P;
${declare(bufs as [string, "read" | "read_write", "f32"][])}
fn lowbias32(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = group_id(wid, nwg) * ${WG}u + lid.x;
  if (i >= p.n) { return; }
  let h = lowbias32(lowbias32(i + p.k0) ^ p.k1);
  let m = select(p.keep, 0.0, p.dropAll != 0u || h < p.thr);
  ${withX ? `O[i] = ${inPlace ? "O" : "X"}[i] * m;` : "O[i] = m;"}
}`;
}

export function dropoutKernels(dev: WebGpuDevice): Pick<GpuKernelSet, "dropoutMask" | "dropoutApply"> {
  function run(state: Uint32Array, x: GpuArray | null, out: GpuArray, p: number, keepScale: number): void {
    const k0 = xoshiroNext(state), k1 = xoshiroNext(state);
    // h < p·2³² for an integer h ⇔ h < ceil(p·2³²); beyond 2³² − 1 every element is dropped
    const t = Math.max(0, Math.ceil(p * 4294967296));
    const inPlace = x === out;
    dev.dispatch(dropoutCode(x !== null, inPlace), [["u32", out.length], ["u32", k0], ["u32", k1], ["u32", Math.min(t, 0xffffffff)],
      ["u32", t > 0xffffffff ? 1 : 0], ["f32", keepScale]], x && !inPlace ? [x, out] : [out], dev.grid(Math.ceil(out.length / WG)));
  }
  return {
    dropoutMask: (state, out, p, keepScale) => run(state, null, out, p, keepScale),
    dropoutApply: (state, x, out, p, keepScale) => run(state, x, out, p, keepScale),
  };
}
