// Fused scaled-dot-product attention, forward and backward (HF semantics as the TS reference:
// grouped-query heads, causal offset Tk − Tq, additive key mask, MASK_MIN for causally hidden keys,
// attention dropout applied after the softmax with P saved before it).
// Forward: one workgroup per query row (b, h, i): scores → P (written to probs) → out = (P ⊙ drop)·V.
// Backward: per query row, dS = scale·P ⊙ (dP − rowsum(dP ⊙ P)) with dP = (dO·Vᵀ) ⊙ drop goes to a
// [B,H,Tq,Tk] scratch array and gq = dS·K; then one thread per (b, kv head, key, d) sums the rows
// of the heads sharing that kv head: gk = dSᵀ·Q, gv = (P ⊙ drop)ᵀ·dO (written, not accumulated).
import { MASK_MIN, type AttentionParams } from "../backend.js";
import { ShapeError } from "../../tensor/errors.js";
import type { WebGpuDevice } from "./device.js";
import type { GpuKernelSet } from "./kernel_types.js";
import type { GpuArray } from "./buffer_pool.js";
import { GRID, REDUCE, WG, declare } from "./wgsl_common.js";
import { assertNoAlias, assertSizes } from "./guards.js";

const R = "read" as const, RW = "read_write" as const;
const U = `struct P { B: u32, H: u32, Hkv: u32, Tq: u32, Tk: u32, D: u32, scale: f32, causal: u32, off: i32 }
@group(0) @binding(0) var<uniform> p: P;
const MASK_MIN: f32 = ${MASK_MIN.toExponential()};`;
const ROW = `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = group_id(wid, nwg);
  if (row >= p.B * p.H * p.Tq) { return; }
  let lid = lid3.x;
  let i = row % p.Tq;
  let bh = row / p.Tq;
  let h = bh % p.H;
  let b = bh / p.H;
  let kBase = (b * p.Hkv + h / (p.H / p.Hkv)) * p.Tk * p.D;
  let qi = row * p.D;
  let pBase = row * p.Tk;`;
const KEYS = `for (var j = lid; j < p.Tk; j += ${WG}u)`;
const DIMS = `for (var d = lid; d < p.D; d += ${WG}u)`;

function forwardCode(hasMask: boolean, hasDrop: boolean, hasOut: boolean): string {
  return `${GRID}${REDUCE}${U}
${declare([["Q", R, "f32"], ["K", R, "f32"], hasOut ? ["V", R, "f32"] : null, hasMask ? ["MASK", R, "f32"] : null,
    hasDrop ? ["DROP", R, "f32"] : null, ["PROBS", RW, "f32"], hasOut ? ["O", RW, "f32"] : null])}
${ROW}
  var mx = neg_inf();
  ${KEYS} {
    let kj = kBase + j * p.D;
    var dot = 0.0;
    for (var d = 0u; d < p.D; d++) { dot += Q[qi + d] * K[kj + d]; }
    var s = dot * p.scale;
    // a causally hidden key gets MASK_MIN once (not added to the key mask), as HF's combined mask
    if (p.causal != 0u && i32(j) > i32(i) + p.off) { s = s + MASK_MIN; }
    ${hasMask ? "else { s = s + MASK[b * p.Tk + j]; }" : ""}
    PROBS[pBase + j] = s;
    mx = max(mx, s);
  }
  mx = wg_max(mx, lid);
  var sum = 0.0;
  ${KEYS} { let e = exp(PROBS[pBase + j] - mx); PROBS[pBase + j] = e; sum += e; }
  sum = wg_sum(sum, lid);
  ${KEYS} { PROBS[pBase + j] = PROBS[pBase + j] / sum; }
  ${hasOut ? `storageBarrier();
  ${DIMS} {
    var acc = 0.0;
    for (var j = 0u; j < p.Tk; j++) { acc += PROBS[pBase + j]${hasDrop ? " * DROP[pBase + j]" : ""} * V[kBase + j * p.D + d]; }
    O[qi + d] = acc;
  }` : ""}
}`;
}

function backwardRowCode(hasDrop: boolean): string {
  return `${GRID}${REDUCE}${U}
${declare([["K", R, "f32"], ["V", R, "f32"], ["PROBS", R, "f32"], ["GO", R, "f32"], hasDrop ? ["DROP", R, "f32"] : null, ["DS", RW, "f32"], ["GQ", RW, "f32"]])}
${ROW}
  var rs = 0.0;
  ${KEYS} {
    let vj = kBase + j * p.D;
    var dp = 0.0;
    for (var d = 0u; d < p.D; d++) { dp += GO[qi + d] * V[vj + d]; }
    ${hasDrop ? "dp = dp * DROP[pBase + j];" : ""}
    DS[pBase + j] = dp;
    rs += dp * PROBS[pBase + j];
  }
  rs = wg_sum(rs, lid);
  ${KEYS} { DS[pBase + j] = PROBS[pBase + j] * (DS[pBase + j] - rs) * p.scale; }
  storageBarrier();
  ${DIMS} {
    var acc = 0.0;
    for (var j = 0u; j < p.Tk; j++) { acc += DS[pBase + j] * K[kBase + j * p.D + d]; }
    GQ[qi + d] = acc;
  }
}`;
}

function backwardKvCode(hasDrop: boolean): string {
  return `${GRID}${U}
${declare([["Q", R, "f32"], ["GO", R, "f32"], ["PROBS", R, "f32"], hasDrop ? ["DROP", R, "f32"] : null, ["DS", R, "f32"], ["GK", RW, "f32"], ["GV", RW, "f32"]])}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = group_id(wid, nwg) * ${WG}u + lid.x;
  if (t >= p.B * p.Hkv * p.Tk * p.D) { return; }
  let d = t % p.D;
  let j = (t / p.D) % p.Tk;
  let bk = t / (p.D * p.Tk);
  let kh = bk % p.Hkv;
  let b = bk / p.Hkv;
  let group = p.H / p.Hkv;
  var gk = 0.0;
  var gv = 0.0;
  for (var h = kh * group; h < (kh + 1u) * group; h++) {
    let rowBase = (b * p.H + h) * p.Tq;
    for (var i = 0u; i < p.Tq; i++) {
      let pi = (rowBase + i) * p.Tk + j;
      let qd = (rowBase + i) * p.D + d;
      gk += DS[pi] * Q[qd];
      gv += PROBS[pi]${hasDrop ? " * DROP[pi]" : ""} * GO[qd];
    }
  }
  GK[t] = gk;
  GV[t] = gv;
}`;
}

/** q-shaped [B,H,Tq,D], kv-shaped [B,Hkv,Tk,D], score-shaped [B,H,Tq,Tk] and mask [B,Tk] operands. */
function assertAttentionSizes(kernel: string, p: AttentionParams, ops: Record<string, GpuArray | null | undefined>): void {
  const nq = p.batch * p.heads * p.tq * p.headDim, nk = p.batch * p.kvHeads * p.tk * p.headDim, np = p.batch * p.heads * p.tq * p.tk;
  const want: Record<string, number> = { q: nq, out: nq, gOut: nq, gq: nq, k: nk, v: nk, gk: nk, gv: nk, probs: np, drop: np, mask: p.batch * p.tk };
  assertSizes(kernel, Object.entries(ops).map(([name, arr]) => [name, arr, want[name]]));
}

function uniform(p: { batch: number; heads: number; kvHeads: number; tq: number; tk: number; headDim: number; scale: number; causal: boolean }): [("u32" | "i32" | "f32"), number][] {
  if (p.kvHeads <= 0 || p.heads % p.kvHeads !== 0) throw new ShapeError(`webgpu attention: kvHeads ${p.kvHeads} must divide heads ${p.heads}`);
  return [["u32", p.batch], ["u32", p.heads], ["u32", p.kvHeads], ["u32", p.tq], ["u32", p.tk], ["u32", p.headDim],
    ["f32", p.scale], ["u32", p.causal ? 1 : 0], ["i32", p.tk - p.tq]];
}

export function attentionKernels(dev: WebGpuDevice): Pick<GpuKernelSet, "attention" | "attentionBackward"> {
  const some = (...xs: (GpuArray | null | undefined)[]) => xs.filter((x): x is GpuArray => !!x);
  return {
    attention(q, k, v, mask, out, probs, p, drop = null) {
      assertNoAlias("attention", [out, probs], [q, k, v, mask, drop ?? null]);
      assertAttentionSizes("attention", p, { q, k, v, mask, out, probs, drop });
      const useDrop = out !== null && drop !== null && drop !== undefined;
      dev.dispatch(forwardCode(mask !== null, useDrop, out !== null), uniform(p),
        some(q, k, out ? v : null, mask, useDrop ? drop : null, probs, out), dev.grid(p.batch * p.heads * p.tq));
    },
    attentionBackward(q, k, v, probs, gOut, gq, gk, gv, p, drop = null) {
      assertNoAlias("attentionBackward", [gq, gk, gv], [q, k, v, probs, gOut, drop ?? null]);
      assertAttentionSizes("attentionBackward", p, { q, k, v, probs, gOut, gq, gk, gv, drop });
      const hasDrop = drop !== null && drop !== undefined;
      const u = uniform(p);
      const ds = dev.empty(p.batch * p.heads * p.tq * p.tk);
      dev.dispatch(backwardRowCode(hasDrop), u, some(k, v, probs, gOut, hasDrop ? drop : null, ds, gq), dev.grid(p.batch * p.heads * p.tq));
      dev.dispatch(backwardKvCode(hasDrop), u, some(q, gOut, probs, hasDrop ? drop : null, ds, gk, gv),
        dev.grid(Math.ceil((p.batch * p.kvHeads * p.tk * p.headDim) / WG)));
      // the queue runs the two dispatches before any later user of the recycled buffer
      ds.release();
    },
  };
}
