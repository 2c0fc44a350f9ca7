// Tiled GEMM / batched GEMM: out[b] (m×n) = op(a[b]) · op(b[b]) (+ out[b] when accumulating), with
// the Backend contract's transposes, batch strides (0 broadcasts an operand) and accumulate flag.
// Each 16×16 workgroup computes a 64×64 output tile, 4×4 per thread, stepping k by 16 through two
// tiles in workgroup memory (64×16 of A, 16×64 of B, zero-padded at the edges). Grid: x = column
// tiles, y = row tiles, z = batch items (WebGPU allows 65535 per dimension).
import { ShapeError } from "../../tensor/errors.js";
import type { WebGpuDevice } from "./device.js";
import type { GpuKernelSet } from "./kernel_types.js";
import { assertNoAlias } from "./elementwise.js";

const TILE = 64;

const GEMM = /* wgsl */ `
struct P { m: u32, n: u32, k: u32, sa: u32, sb: u32, so: u32, transA: u32, transB: u32, accumulate: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
var<workgroup> As: array<f32, 1024>; // [kk * 64 + i]
var<workgroup> Bs: array<f32, 1024>; // [kk * 64 + j]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = wid.y * 64u;
  let col0 = wid.x * 64u;
  let ao = wid.z * p.sa;
  let bo = wid.z * p.sb;
  let oo = wid.z * p.so;
  let tid = lid.y * 16u + lid.x;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < p.k; k0 += 16u) {
    for (var e = 0u; e < 4u; e++) {
      let idx = tid + e * 256u;
      // A tile element (i, kk): read along i when A is stored k×m, along kk otherwise
      var i: u32; var kk: u32;
      if (p.transA != 0u) { i = idx % 64u; kk = idx / 64u; } else { i = idx / 16u; kk = idx % 16u; }
      let gi = row0 + i;
      let gk = k0 + kk;
      var av = 0.0;
      if (gi < p.m && gk < p.k) {
        if (p.transA != 0u) { av = A[ao + gk * p.m + gi]; } else { av = A[ao + gi * p.k + gk]; }
      }
      As[kk * 64u + i] = av;
      var j: u32; var kb: u32;
      if (p.transB != 0u) { j = idx / 16u; kb = idx % 16u; } else { j = idx % 64u; kb = idx / 64u; }
      let gj = col0 + j;
      let gkb = k0 + kb;
      var bv = 0.0;
      if (gj < p.n && gkb < p.k) {
        if (p.transB != 0u) { bv = B[bo + gj * p.k + gkb]; } else { bv = B[bo + gkb * p.n + gj]; }
      }
      Bs[kb * 64u + j] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var r = 0u; r < 4u; r++) {
        a[r] = As[kk * 64u + lid.y * 4u + r];
        b[r] = Bs[kk * 64u + lid.x * 4u + r];
      }
      for (var r = 0u; r < 4u; r++) {
        for (var c = 0u; c < 4u; c++) { acc[r * 4u + c] += a[r] * b[c]; }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < 4u; r++) {
    let gi = row0 + lid.y * 4u + r;
    if (gi >= p.m) { continue; }
    for (var c = 0u; c < 4u; c++) {
      let gj = col0 + lid.x * 4u + c;
      if (gj >= p.n) { continue; }
      let o = oo + gi * p.n + gj;
      if (p.accumulate != 0u) { O[o] = O[o] + acc[r * 4u + c]; } else { O[o] = acc[r * 4u + c]; }
    }
  }
}
`;

export function matmulKernels(dev: WebGpuDevice): Pick<GpuKernelSet, "matmul"> {
  return {
    matmul(a, b, out, p) {
      assertNoAlias("matmul", [out], [a, b]);
      const { batch, m, n, k } = p;
      const need = (stride: number, item: number) => (batch - 1) * stride + item;
      const check = (name: string, len: number, want: number) => {
        if (want > 0 && len < want) throw new ShapeError(`webgpu matmul: ${name} has ${len} elements, needs ${want}`);
      };
      check("a", a.length, m * k === 0 ? 0 : need(p.strideA, m * k));
      check("b", b.length, k * n === 0 ? 0 : need(p.strideB, k * n));
      check("out", out.length, need(p.strideOut, m * n));
      if (batch > dev.maxGroups) throw new ShapeError(`webgpu matmul: batch ${batch} exceeds ${dev.maxGroups} workgroups per dimension`);
      const u = (v: number | boolean): ["u32", number] => ["u32", Number(v)];
      // a and b of k = 0 may be empty arrays: bind them anyway (the loop reads nothing)
      dev.dispatch(GEMM, [u(m), u(n), u(k), u(p.strideA), u(p.strideB), u(p.strideOut), u(p.transA), u(p.transB), u(p.accumulate)],
        [a, b, out], [Math.ceil(n / TILE), Math.ceil(m / TILE), batch]);
    },
  };
}
