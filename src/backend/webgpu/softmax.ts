// Row softmax / log-softmax over the last dim of [rows, cols] and their backward: one workgroup of
// WG threads per row, each thread striding over the columns, reductions in workgroup memory.
import type { WebGpuDevice } from "./device.js";
import type { GpuKernelSet } from "./kernel_types.js";
import { GRID, REDUCE, WG } from "./wgsl_common.js";
import { assertNoAlias, assertSizes } from "./guards.js";

/** Header of the row kernels: uniform {rows, cols}, `row` and `o` (the row's offset), `lid`. */
export const ROW_HEAD = `${GRID}${REDUCE}`;
export const ROW_ENTRY = `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = group_id(wid, nwg);
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let o = row * p.cols;`;
const COLS = `for (var c = lid; c < p.cols; c += ${WG}u)`;

const IO = `struct P { rows: u32, cols: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;`;

// the max ignores NaN (as the reference's `>` scan); an all -inf row shifts by 0 (exp gives 0, then 0/0 = NaN like torch)
const ROW_MAX = `var mx = neg_inf();
  ${COLS} { let v = X[o + c]; if (v > mx) { mx = v; } }
  mx = wg_max(mx, lid);
  if (mx == neg_inf()) { mx = 0.0; }`;

const SOFTMAX = `${ROW_HEAD}${IO}
${ROW_ENTRY}
  ${ROW_MAX}
  var s = 0.0;
  ${COLS} { let e = exp(X[o + c] - mx); O[o + c] = e; s += e; }
  let inv = 1.0 / wg_sum(s, lid);
  ${COLS} { O[o + c] = O[o + c] * inv; }
}`;

const LOG_SOFTMAX = `${ROW_HEAD}${IO}
${ROW_ENTRY}
  ${ROW_MAX}
  var s = 0.0;
  ${COLS} { s += exp(X[o + c] - mx); }
  let lse = mx + log(wg_sum(s, lid));
  ${COLS} { O[o + c] = X[o + c] - lse; }
}`;

const BACKWARD_IO = `struct P { rows: u32, cols: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> Y: array<f32>;
@group(0) @binding(2) var<storage, read> GY: array<f32>;
@group(0) @binding(3) var<storage, read_write> GX: array<f32>;`;

const SOFTMAX_BACKWARD = `${ROW_HEAD}${BACKWARD_IO}
${ROW_ENTRY}
  var d = 0.0;
  ${COLS} { d += GY[o + c] * Y[o + c]; }
  let dot = wg_sum(d, lid);
  ${COLS} { GX[o + c] = Y[o + c] * (GY[o + c] - dot); }
}`;

const LOG_SOFTMAX_BACKWARD = `${ROW_HEAD}${BACKWARD_IO}
${ROW_ENTRY}
  var d = 0.0;
  ${COLS} { d += GY[o + c]; }
  let s = wg_sum(d, lid);
  ${COLS} { GX[o + c] = GY[o + c] - exp(Y[o + c]) * s; }
}`;

export function softmaxKernels(dev: WebGpuDevice): Pick<GpuKernelSet, "softmax" | "softmaxBackward" | "logSoftmax" | "logSoftmaxBackward"> {
  const dims = (rows: number, cols: number): ["u32", number][] => [["u32", rows], ["u32", cols]];
  return {
    softmax(x, out, rows, cols) {
      assertNoAlias("softmax", [out], [x]);
      assertSizes("softmax", [["x", x, rows * cols], ["out", out, rows * cols]]);
      dev.dispatch(SOFTMAX, dims(rows, cols), [x, out], dev.grid(rows));
    },
    softmaxBackward(y, gy, gx, rows, cols) {
      assertNoAlias("softmaxBackward", [gx], [y, gy]);
      assertSizes("softmaxBackward", [["y", y, rows * cols], ["gy", gy, rows * cols], ["gx", gx, rows * cols]]);
      dev.dispatch(SOFTMAX_BACKWARD, dims(rows, cols), [y, gy, gx], dev.grid(rows));
    },
    logSoftmax(x, out, rows, cols) {
      assertNoAlias("logSoftmax", [out], [x]);
      assertSizes("logSoftmax", [["x", x, rows * cols], ["out", out, rows * cols]]);
      dev.dispatch(LOG_SOFTMAX, dims(rows, cols), [x, out], dev.grid(rows));
    },
    logSoftmaxBackward(y, gy, gx, rows, cols) {
      assertNoAlias("logSoftmaxBackward", [gx], [y, gy]);
      assertSizes("logSoftmaxBackward", [["y", y, rows * cols], ["gy", gy, rows * cols], ["gx", gx, rows * cols]]);
      dev.dispatch(LOG_SOFTMAX_BACKWARD, dims(rows, cols), [y, gy, gx], dev.grid(rows));
    },
  };
}
