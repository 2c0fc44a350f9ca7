// Cross entropy per row of logits [rows, cols] against i32 labels (ignore index, label smoothing):
// the forward (one workgroup per row) writes the loss and the row's log-sum-exp; the backward (one
// thread per logit) recomputes p = exp(logit − lse), as the reference does.
import type { WebGpuDevice } from "./device.js";
import type { GpuKernelSet } from "./kernel_types.js";
import { GRID, WG, declare } from "./wgsl_common.js";
import { ROW_ENTRY, ROW_HEAD } from "./softmax.js";
import { assertInt32, assertNoAlias, assertSizes } from "./guards.js";

const COLS = `for (var c = lid; c < p.cols; c += ${WG}u)`;
const U = `struct P { rows: u32, cols: u32, ignore: i32, eps: f32 }
@group(0) @binding(0) var<uniform> p: P;`;

const FORWARD = `${ROW_HEAD}${U}
${declare([["L", "read", "f32"], ["Y", "read", "i32"], ["LOSS", "read_write", "f32"], ["LSE", "read_write", "f32"]])}
${ROW_ENTRY}
  var mx = neg_inf();
  ${COLS} { let v = L[o + c]; if (v > mx) { mx = v; } }
  mx = wg_max(mx, lid);
  var s = 0.0;
  ${COLS} { s += exp(L[o + c] - mx); }
  let l = mx + log(wg_sum(s, lid));
  // smoothing term: mean over classes of −log p_c = lse − mean(logits)
  var sl = 0.0;
  if (p.eps != 0.0) {
    ${COLS} { sl += L[o + c]; }
    sl = wg_sum(sl, lid);
  }
  if (lid != 0u) { return; }
  LSE[row] = l;
  let y = Y[row];
  if (y == p.ignore) { LOSS[row] = 0.0; return; }
  let nll = l - L[o + u32(y)];
  if (p.eps == 0.0) { LOSS[row] = nll; } else { LOSS[row] = (1.0 - p.eps) * nll + p.eps * (l - sl / f32(p.cols)); }
}`;

const BACKWARD = `${GRID}${U}
${declare([["L", "read", "f32"], ["LSE", "read", "f32"], ["Y", "read", "i32"], ["GL", "read", "f32"], ["GX", "read_write", "f32"]])}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = group_id(wid, nwg) * ${WG}u + lid.x;
  if (i >= p.rows * p.cols) { return; }
  let r = i / p.cols;
  let y = Y[r];
  if (y == p.ignore) { GX[i] = 0.0; return; }
  let g = GL[r];
  var v = g * (exp(L[i] - LSE[r]) - p.eps / f32(p.cols));
  if (i32(i % p.cols) == y) { v = v - g * (1.0 - p.eps); }
  GX[i] = v;
}`;

export function crossEntropyKernels(dev: WebGpuDevice): Pick<GpuKernelSet, "crossEntropy" | "crossEntropyBackward"> {
  const u = (rows: number, cols: number, ignore: number, eps: number): [("u32" | "i32" | "f32"), number][] =>
    [["u32", rows], ["u32", cols], ["i32", ignore], ["f32", eps]];
  return {
    crossEntropy(logits, labels, loss, lse, rows, cols, ignoreIndex, labelSmoothing) {
      assertNoAlias("crossEntropy", [loss, lse], [logits, labels]);
      assertInt32("crossEntropy", "labels", labels);
      assertSizes("crossEntropy", [["logits", logits, rows * cols], ["labels", labels, rows], ["loss", loss, rows], ["lse", lse, rows]]);
      dev.dispatch(FORWARD, u(rows, cols, ignoreIndex, labelSmoothing), [logits, labels, loss, lse], dev.grid(rows));
    },
    crossEntropyBackward(logits, lse, labels, gLoss, gLogits, rows, cols, ignoreIndex, labelSmoothing) {
      assertNoAlias("crossEntropyBackward", [gLogits], [logits, lse, labels, gLoss]);
      assertInt32("crossEntropyBackward", "labels", labels);
      assertSizes("crossEntropyBackward", [["logits", logits, rows * cols], ["lse", lse, rows], ["labels", labels, rows], ["gLoss", gLoss, rows], ["gLogits", gLogits, rows * cols]]);
      dev.dispatch(BACKWARD, u(rows, cols, ignoreIndex, labelSmoothing), [logits, lse, labels, gLoss, gLogits], dev.grid(Math.ceil((rows * cols) / WG)));
    },
  };
}
