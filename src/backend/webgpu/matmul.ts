// Tiled GEMM / batched GEMM: out[b] (m×n) = op(a[b]) · op(b[b]) (+ out[b] when accumulating), with
// the Backend contract's transposes, batch strides (0 broadcasts an operand) and accumulate flag.
// Each 16×16 workgroup (8×8 when an output side is ≤ 32) computes a 64×64 (32×32) output tile, 4×4
// per thread in four vec4 accumulators, stepping k by 16 through two tiles in workgroup memory (A and
// B, as vec4s, zero-padded at the edges). Grid: x = column tiles, y = row tiles, z = batch items
// (WebGPU allows 65535 per dimension). matmulBf16 is the same program reading b as packed bf16
// (widened exactly, as the TS reference: bf16RoundsInputs false).
import { ShapeError } from "../../tensor/errors.js";
import type { WebGpuDevice } from "./device.js";
import type { GpuKernelSet } from "./kernel_types.js";
import type { GpuArray } from "./buffer_pool.js";
import type { MatmulParams } from "../backend.js";
import { assertNoAlias } from "./guards.js";

/** The program for TW×TW threads (a 4·TW square output tile, k steps of 16); b f32 or packed bf16. */
function gemmCode(bf16B: boolean, TW: number): string {
  const T = 4 * TW, LOADS = 16 / TW;
  return /* wgsl */ `
struct P { m: u32, n: u32, k: u32, sa: u32, sb: u32, so: u32, transA: u32, transB: u32, accumulate: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<${bf16B ? "u32" : "f32"}>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
var<workgroup> As: array<vec4f, ${16 * TW}>; // [kk * ${TW} + i / 4][i % 4]: rows i of the tile at depth kk
var<workgroup> Bs: array<vec4f, ${16 * TW}>; // [kk * ${TW} + j / 4][j % 4]

fn a_at(ao: u32, i: u32, k: u32) -> f32 {
  if (i >= p.m || k >= p.k) { return 0.0; }
  if (p.transA != 0u) { return A[ao + k * p.m + i]; }
  return A[ao + i * p.k + k];
}
${bf16B ? `// element e of packed bf16: half (e & 1) of word e >> 1, widened exactly to f32
fn b_elem(e: u32) -> f32 {
  let w = B[e >> 1u];
  return bitcast<f32>(select(w << 16u, w & 0xffff0000u, (e & 1u) == 1u));
}` : "fn b_elem(e: u32) -> f32 { return B[e]; }"}
fn b_at(bo: u32, k: u32, j: u32) -> f32 {
  if (j >= p.n || k >= p.k) { return 0.0; }
  if (p.transB != 0u) { return b_elem(bo + j * p.k + k); }
  return b_elem(bo + k * p.n + j);
}

@compute @workgroup_size(${TW}, ${TW})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = wid.y * ${T}u;
  let col0 = wid.x * ${T}u;
  let ao = wid.z * p.sa;
  let bo = wid.z * p.sb;
  let oo = wid.z * p.so;
  // loads: thread t fills vec4 v = t + e·${TW * TW} of each tile (depth v / ${TW}, four rows / columns from 4·(v % ${TW}))
  let t = lid.y * ${TW}u + lid.x;
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k0 = 0u; k0 < p.k; k0 += 16u) {
    for (var e = 0u; e < ${LOADS}u; e++) {
      let v = t + e * ${TW * TW}u;
      let gk = k0 + v / ${TW}u;
      let l4 = (v % ${TW}u) * 4u;
      As[v] = vec4f(a_at(ao, row0 + l4, gk), a_at(ao, row0 + l4 + 1u, gk), a_at(ao, row0 + l4 + 2u, gk), a_at(ao, row0 + l4 + 3u, gk));
      Bs[v] = vec4f(b_at(bo, gk, col0 + l4), b_at(bo, gk, col0 + l4 + 1u), b_at(bo, gk, col0 + l4 + 2u), b_at(bo, gk, col0 + l4 + 3u));
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      let a = As[kk * ${TW}u + lid.y];
      let b = Bs[kk * ${TW}u + lid.x];
      acc0 += a.x * b;
      acc1 += a.y * b;
      acc2 += a.z * b;
      acc3 += a.w * b;
    }
    workgroupBarrier();
  }
  let gj = col0 + lid.x * 4u;
  for (var r = 0u; r < 4u; r++) {
    let gi = row0 + lid.y * 4u + r;
    if (gi >= p.m) { break; }
    var v: vec4f;
    switch (r) { case 0u: { v = acc0; } case 1u: { v = acc1; } case 2u: { v = acc2; } default: { v = acc3; } }
    for (var c = 0u; c < 4u; c++) {
      if (gj + c >= p.n) { break; }
      let o = oo + gi * p.n + gj + c;
      if (p.accumulate != 0u) { O[o] = O[o] + v[c]; } else { O[o] = v[c]; }
    }
  }
}
`;
}
/**
 * Threads per tile side: 16 (64×64 tiles), or 8 (32×32) when either output side is at most 32
 * (LoRA's rank-r products: fewer idle threads on the skinny side).
 */
// On SwiftShader, on this loaded machine, 4, 8 and 16 were
// within the noise of each other at 512³ and the LoRA shapes; not tuned on a real GPU.
export const gemmThreads = (m: number, n: number): number => (Math.min(m, n) <= 32 ? 8 : 16);
const PROGRAMS = new Map<string, string>();
function program(bf16B: boolean, tw: number): string {
  const key = `${bf16B}:${tw}`;
  let code = PROGRAMS.get(key);
  if (!code) PROGRAMS.set(key, (code = gemmCode(bf16B, tw)));
  return code;
}

export function matmulKernels(dev: WebGpuDevice): Pick<GpuKernelSet, "matmul" | "matmulBf16"> {
  function gemm(kernel: string, bf16B: boolean, a: GpuArray, b: GpuArray, out: GpuArray, p: MatmulParams): void {
    assertNoAlias(kernel, [out], [a, b]);
    const { batch, m, n, k } = p;
    const need = (stride: number, item: number) => (batch - 1) * stride + item;
    const check = (operand: string, len: number, want: number) => {
      if (want > 0 && len < want) throw new ShapeError(`webgpu ${kernel}: ${operand} has ${len} elements, needs ${want}`);
    };
    check("a", a.length, m * k === 0 ? 0 : need(p.strideA, m * k));
    check("b", b.length, k * n === 0 ? 0 : need(p.strideB, k * n));
    check("out", out.length, need(p.strideOut, m * n));
    if (batch > dev.maxGroups) throw new ShapeError(`webgpu ${kernel}: batch ${batch} exceeds ${dev.maxGroups} workgroups per dimension`);
    const u = (v: number | boolean): ["u32", number] => ["u32", Number(v)];
    // a and b of k = 0 may be empty arrays: bind them anyway (the loop reads nothing)
    const tw = gemmThreads(m, n), tile = 4 * tw;
    dev.dispatch(program(bf16B, tw), [u(m), u(n), u(k), u(p.strideA), u(p.strideB), u(p.strideOut), u(p.transA), u(p.transB), u(p.accumulate)],
      [a, b, out], [Math.ceil(n / tile), Math.ceil(m / tile), batch]);
  }
  return {
    matmul: (a, b, out, p) => gemm("matmul", false, a, b, out, p),
    matmulBf16(a, b, out, p) {
      if (b.dtype !== "bf16") throw new ShapeError(`webgpu matmulBf16: b is ${b.dtype}, expected bf16 (upload a Uint16Array of bf16 bits)`);
      gemm("matmulBf16", true, a, b, out, p);
    },
  };
}
