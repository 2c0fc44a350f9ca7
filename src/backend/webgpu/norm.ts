// LayerNorm / RMSNorm over the last dim of [rows, cols] and their backward. Row statistics use one
// workgroup per row (f32 sums: the reference accumulates in double); the weight/bias gradients are
// column sums over rows, one thread per column in row order, accumulated (+=) into gw / gb.
// A null weight or bias compiles a variant without that binding.
import type { WebGpuDevice } from "./device.js";
import type { GpuKernelSet } from "./kernel_types.js";
import type { GpuArray } from "./buffer_pool.js";
import { GRID, WG, declare } from "./wgsl_common.js";
import { ROW_ENTRY, ROW_HEAD } from "./softmax.js";
import { assertNoAlias, assertSizes } from "./guards.js";

const COLS = `for (var c = lid; c < p.cols; c += ${WG}u)`;
const U = `struct P { rows: u32, cols: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: P;`;
const R = "read" as const, RW = "read_write" as const;

function layerNormCode(hasW: boolean, hasB: boolean): string {
  return `${ROW_HEAD}${U}
${declare([["X", R, "f32"], hasW ? ["W", R, "f32"] : null, hasB ? ["B", R, "f32"] : null, ["O", RW, "f32"], ["MEAN", RW, "f32"], ["RSTD", RW, "f32"]])}
${ROW_ENTRY}
  var s = 0.0;
  ${COLS} { s += X[o + c]; }
  let mu = wg_sum(s, lid) / f32(p.cols);
  var v = 0.0;
  ${COLS} { let d = X[o + c] - mu; v += d * d; }
  // biased variance, as torch.nn.LayerNorm
  let rs = 1.0 / sqrt(wg_sum(v, lid) / f32(p.cols) + p.eps);
  if (lid == 0u) { MEAN[row] = mu; RSTD[row] = rs; }
  ${COLS} {
    var y = (X[o + c] - mu) * rs;
    ${hasW ? "y = y * W[c];" : ""}
    ${hasB ? "y = y + B[c];" : ""}
    O[o + c] = y;
  }
}`;
}

function layerNormBackwardCode(hasW: boolean): string {
  const d = hasW ? "GY[o + c] * W[c]" : "GY[o + c]";
  return `${ROW_HEAD}${U}
${declare([["X", R, "f32"], hasW ? ["W", R, "f32"] : null, ["MEAN", R, "f32"], ["RSTD", R, "f32"], ["GY", R, "f32"], ["GX", RW, "f32"]])}
${ROW_ENTRY}
  let mu = MEAN[row];
  let rs = RSTD[row];
  var sd = 0.0;
  var sdx = 0.0;
  ${COLS} { let xh = (X[o + c] - mu) * rs; let d = ${d}; sd += d; sdx += d * xh; }
  let md = wg_sum(sd, lid) / f32(p.cols);
  let mdx = wg_sum(sdx, lid) / f32(p.cols);
  ${COLS} { let xh = (X[o + c] - mu) * rs; let d = ${d}; GX[o + c] = rs * (d - md - xh * mdx); }
}`;
}

function rmsNormCode(hasW: boolean): string {
  return `${ROW_HEAD}${U}
${declare([["X", R, "f32"], hasW ? ["W", R, "f32"] : null, ["O", RW, "f32"], ["RSTD", RW, "f32"]])}
${ROW_ENTRY}
  var ss = 0.0;
  ${COLS} { let x = X[o + c]; ss += x * x; }
  let rs = 1.0 / sqrt(wg_sum(ss, lid) / f32(p.cols) + p.eps);
  if (lid == 0u) { RSTD[row] = rs; }
  // HF Llama order: (x · rsqrt(mean(x²)+eps)) · w
  ${COLS} { O[o + c] = X[o + c] * rs${hasW ? " * W[c]" : ""}; }
}`;
}

function rmsNormBackwardCode(hasW: boolean): string {
  const d = hasW ? "GY[o + c] * W[c]" : "GY[o + c]";
  return `${ROW_HEAD}${U}
${declare([["X", R, "f32"], hasW ? ["W", R, "f32"] : null, ["RSTD", R, "f32"], ["GY", R, "f32"], ["GX", RW, "f32"]])}
${ROW_ENTRY}
  let rs = RSTD[row];
  var sdx = 0.0;
  ${COLS} { let xh = X[o + c] * rs; sdx += ${d} * xh; }
  let mdx = wg_sum(sdx, lid) / f32(p.cols);
  ${COLS} { let xh = X[o + c] * rs; GX[o + c] = rs * (${d} - xh * mdx); }
}`;
}

/** gw[c] += Σ_r gy·x̂, gb[c] += Σ_r gy (x̂ = (x − mean)·rstd; rms: no mean). */
function paramGradCode(centred: boolean, hasGw: boolean, hasGb: boolean): string {
  return `${GRID}${U}
${declare([["X", R, "f32"], centred ? ["MEAN", R, "f32"] : null, ["RSTD", R, "f32"], ["GY", R, "f32"], hasGw ? ["GW", RW, "f32"] : null, hasGb ? ["GB", RW, "f32"] : null])}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let c = group_id(wid, nwg) * ${WG}u + lid.x;
  if (c >= p.cols) { return; }
  ${hasGw ? "var gw = GW[c];" : ""}
  ${hasGb ? "var gb = GB[c];" : ""}
  for (var r = 0u; r < p.rows; r++) {
    let i = r * p.cols + c;
    let gy = GY[i];
    ${hasGw ? `gw += gy * ((X[i]${centred ? " - MEAN[r]" : ""}) * RSTD[r]);` : ""}
    ${hasGb ? "gb += gy;" : ""}
  }
  ${hasGw ? "GW[c] = gw;" : ""}
  ${hasGb ? "GB[c] = gb;" : ""}
}`;
}

export function normKernels(dev: WebGpuDevice): Pick<GpuKernelSet, "layerNorm" | "layerNormBackward" | "rmsNorm" | "rmsNormBackward"> {
  const u = (rows: number, cols: number, eps = 0): [("u32" | "f32"), number][] => [["u32", rows], ["u32", cols], ["f32", eps]];
  const some = (...xs: (GpuArray | null)[]) => xs.filter((x): x is GpuArray => x !== null);
  const cols = (n: number) => dev.grid(Math.ceil(n / WG));
  return {
    layerNorm(x, w, b, out, mean, rstd, rows, c, eps) {
      assertNoAlias("layerNorm", [out, mean, rstd], [x, w, b]);
      const n = rows * c;
      assertSizes("layerNorm", [["x", x, n], ["w", w, c], ["b", b, c], ["out", out, n], ["mean", mean, rows], ["rstd", rstd, rows]]);
      dev.dispatch(layerNormCode(w !== null, b !== null), u(rows, c, eps), some(x, w, b, out, mean, rstd), dev.grid(rows));
    },
    layerNormBackward(x, w, mean, rstd, gy, gx, gw, gb, rows, c) {
      assertNoAlias("layerNormBackward", [gx, gw, gb], [x, w, mean, rstd, gy]);
      const n = rows * c;
      assertSizes("layerNormBackward", [["x", x, n], ["w", w, c], ["mean", mean, rows], ["rstd", rstd, rows], ["gy", gy, n], ["gx", gx, n], ["gw", gw, c], ["gb", gb, c]]);
      dev.dispatch(layerNormBackwardCode(w !== null), u(rows, c), some(x, w, mean, rstd, gy, gx), dev.grid(rows));
      if (gw || gb) dev.dispatch(paramGradCode(true, gw !== null, gb !== null), u(rows, c), some(x, mean, rstd, gy, gw, gb), cols(c));
    },
    rmsNorm(x, w, out, rstd, rows, c, eps) {
      assertNoAlias("rmsNorm", [out, rstd], [x, w]);
      assertSizes("rmsNorm", [["x", x, rows * c], ["w", w, c], ["out", out, rows * c], ["rstd", rstd, rows]]);
      dev.dispatch(rmsNormCode(w !== null), u(rows, c, eps), some(x, w, out, rstd), dev.grid(rows));
    },
    rmsNormBackward(x, w, rstd, gy, gx, gw, rows, c) {
      assertNoAlias("rmsNormBackward", [gx, gw], [x, w, rstd, gy]);
      const n = rows * c;
      assertSizes("rmsNormBackward", [["x", x, n], ["w", w, c], ["rstd", rstd, rows], ["gy", gy, n], ["gx", gx, n], ["gw", gw, c]]);
      dev.dispatch(rmsNormBackwardCode(w !== null), u(rows, c), some(x, w, rstd, gy, gx), dev.grid(rows));
      if (gw) dev.dispatch(paramGradCode(false, true, false), u(rows, c), some(x, rstd, gy, gw), cols(c));
    },
  };
}
