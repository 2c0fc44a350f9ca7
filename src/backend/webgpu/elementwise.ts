// Elementwise kernels: unary ops and their derivatives, broadcasting binary ops, the scalar affine,
// and the fused bias + activation with its backward. One WGSL program per op (the op is spliced in
// as an expression, so each pipeline is branch-free); the pipeline cache keeps each one compiled.
import type { BiasActOp, BinaryOp, UnaryOp } from "../backend.js";
import { ShapeError } from "../../tensor/errors.js";
import type { WebGpuDevice } from "./device.js";
import type { GpuKernelSet } from "./kernel_types.js";
import { GRID, MATH, WG } from "./wgsl_common.js";
import { assertNoAlias, assertSizes } from "./guards.js";

/** y = f(x) as a WGSL expression of `x`. */
const FORWARD: Record<UnaryOp, string> = {
  neg: "-x", exp: "exp(x)", log: "log(x)", sqrt: "sqrt(x)", rsqrt: "1.0 / sqrt(x)", abs: "abs(x)",
  tanh: "tanh_f(x)", sigmoid: "sigmoid_f(x)", relu: "select(0.0, x, x > 0.0)", silu: "x * sigmoid_f(x)",
  gelu: "gelu_f(x)", gelu_tanh: "gelu_tanh_f(x)", square: "x * x", reciprocal: "1.0 / x",
};

/** gx as a WGSL expression of `x`, `y` = f(x) and `gy`. */
const BACKWARD: Record<UnaryOp, string> = {
  neg: "-gy", exp: "gy * y", log: "gy / x", sqrt: "gy * 0.5 / y", rsqrt: "gy * -0.5 * y * y * y", abs: "gy * sign(x)",
  tanh: "gy * (1.0 - y * y)", sigmoid: "gy * y * (1.0 - y)", relu: "select(0.0, gy, x > 0.0)", silu: "gy * silu_grad(x)",
  gelu: "gy * gelu_grad(x)", gelu_tanh: "gy * gelu_tanh_grad(x)", square: "gy * 2.0 * x", reciprocal: "-gy * y * y",
};

/** a op b as a WGSL expression (max/min keep a NaN operand, as the reference). */
const BINARY: Record<BinaryOp, string> = {
  add: "a + b", sub: "a - b", mul: "a * b", div: "a / b", pow: "pow_f(a, b)",
  max: "select(b, a, a >= b || is_nan(a))", min: "select(b, a, a <= b || is_nan(a))",
};

// Math.pow semantics: b = 0 → 1, NaN operands → NaN, negative bases with integer exponents (others NaN)
const POW = /* wgsl */ `
fn pow_f(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (is_nan(a) || is_nan(b)) { return nan_f32(); }
  let r = pow(abs(a), b);
  if (a >= 0.0) { return r; }
  if (fract(b) != 0.0) { return nan_f32(); }
  return select(r, -r, abs(b) % 2.0 == 1.0);
}
`;

const HEAD = `${GRID}${MATH}`;
const INDEX = `let i = group_id(wid, nwg) * ${WG}u + lid.x;\n  if (i >= p.n) { return; }`;
const ENTRY = `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u)`;

function unaryCode(op: UnaryOp): string {
  return `${HEAD}
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
${ENTRY} {
  ${INDEX}
  let x = X[i];
  O[i] = ${FORWARD[op]};
}`;
}

function unaryBackwardCode(op: UnaryOp): string {
  return `${HEAD}
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Y: array<f32>;
@group(0) @binding(3) var<storage, read> GY: array<f32>;
@group(0) @binding(4) var<storage, read_write> GX: array<f32>;
${ENTRY} {
  ${INDEX}
  let x = X[i];
  let y = Y[i];
  let gy = GY[i];
  GX[i] = ${BACKWARD[op]};
}`;
}

/** Broadcasting binary op over up to MAX_RANK dims after merging (uniform: shape, a/b strides, n, rank). */
const MAX_RANK = 6;

function binaryCode(op: BinaryOp): string {
  return `${HEAD}${POW}
struct P { dims: array<vec4u, 5> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
fn field(k: u32) -> u32 { return p.dims[k / 4u][k % 4u]; }
${ENTRY} {
  let i = group_id(wid, nwg) * ${WG}u + lid.x;
  if (i >= field(18u)) { return; }
  var rem = i;
  var ai = 0u;
  var bi = 0u;
  for (var d = i32(field(19u)) - 1; d >= 0; d--) {
    let s = field(u32(d));
    let c = rem % s;
    rem = rem / s;
    ai += c * field(${MAX_RANK}u + u32(d));
    bi += c * field(${2 * MAX_RANK}u + u32(d));
  }
  let a = A[ai];
  let b = B[bi];
  O[i] = ${BINARY[op]};
}`;
}

/** Drops size-1 dims and merges neighbours that are contiguous in both operands (rank ≤ MAX_RANK for the kernel). */
export function mergeDims(shape: number[], as: number[], bs: number[]): { shape: number[]; as: number[]; bs: number[] } {
  const s: number[] = [], a: number[] = [], b: number[] = [];
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = s.length - 1;
    if (last >= 0 && a[last] === as[d] * shape[d] && b[last] === bs[d] * shape[d]) {
      s[last] *= shape[d];
      a[last] = as[d];
      b[last] = bs[d];
    } else {
      s.push(shape[d]);
      a.push(as[d]);
      b.push(bs[d]);
    }
  }
  return { shape: s, as: a, bs: b };
}

function biasActCode(op: BiasActOp, hasBias: boolean, inPlace: boolean): string {
  // "auto" layouts hold only the bindings a shader uses: declare exactly those that are bound
  const decls = ["@group(0) @binding(1) var<storage, read_write> X: array<f32>;"];
  if (hasBias) decls.push(`@group(0) @binding(2) var<storage, read> BIAS: array<f32>;`);
  if (!inPlace) decls.push(`@group(0) @binding(${decls.length + 1}) var<storage, read_write> O: array<f32>;`);
  return `${HEAD}
struct P { n: u32, cols: u32 }
@group(0) @binding(0) var<uniform> p: P;
${decls.join("\n")}
${ENTRY} {
  ${INDEX}
  let x = X[i]${hasBias ? " + BIAS[i % p.cols]" : ""};
  ${inPlace ? `X[i] = ${FORWARD[op]};` : `X[i] = x;\n  O[i] = ${FORWARD[op]};`}
}`;
}

// gBias[c] += Σ_rows gx[r, c], summed in row order in f32 as the reference
const COLUMN_SUM = `${GRID}
struct P { rows: u32, cols: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> GX: array<f32>;
@group(0) @binding(2) var<storage, read_write> GB: array<f32>;
${ENTRY} {
  let c = group_id(wid, nwg) * ${WG}u + lid.x;
  if (c >= p.cols) { return; }
  var acc = 0.0;
  for (var r = 0u; r < p.rows; r++) { acc += GX[r * p.cols + c]; }
  GB[c] = GB[c] + acc;
}`;

const AFFINE = `${GRID}
struct P { n: u32, alpha: f32, beta: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
${ENTRY} {
  ${INDEX}
  O[i] = X[i] * p.alpha + p.beta;
}`;

export function elementwiseKernels(dev: WebGpuDevice): Pick<GpuKernelSet, "unary" | "unaryBackward" | "binary" | "affine" | "biasAct" | "biasActBackward"> {
  const groups = (n: number) => dev.grid(Math.ceil(n / WG));
  return {
    unary(op, x, out) {
      assertNoAlias("unary", [out], [x]);
      assertSizes("unary", [["out", out, x.length]]);
      dev.dispatch(unaryCode(op), [["u32", x.length]], [x, out], groups(x.length));
    },
    unaryBackward(op, x, y, gy, gx) {
      assertNoAlias("unaryBackward", [gx], [x, y, gy]);
      assertSizes("unaryBackward", [["y", y, x.length], ["gy", gy, x.length], ["gx", gx, x.length]]);
      dev.dispatch(unaryBackwardCode(op), [["u32", x.length]], [x, y, gy, gx], groups(x.length));
    },
    binary(op, a, b, out, shape, aStrides, bStrides) {
      assertNoAlias("binary", [out], [a, b]);
      const m = mergeDims(shape, aStrides, bStrides);
      if (m.shape.length > MAX_RANK) throw new ShapeError(`webgpu binary: ${m.shape.length} dims after merging contiguous ones (shape [${shape}]); the kernel takes at most ${MAX_RANK}`);
      const fields = new Array<number>(20).fill(0);
      m.shape.forEach((s, d) => { fields[d] = s; fields[MAX_RANK + d] = m.as[d]; fields[2 * MAX_RANK + d] = m.bs[d]; });
      const n = shape.reduce((x, y) => x * y, 1);
      // the last element each operand is read at, plus one
      const end = (st: number[]) => (n === 0 ? 0 : shape.reduce((e, s, d) => e + (s - 1) * st[d], 1));
      assertSizes("binary", [["a", a, end(aStrides)], ["b", b, end(bStrides)], ["out", out, n]]);
      fields[18] = n;
      fields[19] = m.shape.length;
      dev.dispatch(binaryCode(op), fields.map((v) => ["u32", v]), [a, b, out], groups(n));
    },
    affine(x, out, alpha, beta) {
      assertNoAlias("affine", [out], [x]);
      assertSizes("affine", [["out", out, x.length]]);
      dev.dispatch(AFFINE, [["u32", x.length], ["f32", alpha], ["f32", beta]], [x, out], groups(x.length));
    },
    biasAct(op, x, bias, out, rows, cols) {
      const n = rows * cols, inPlace = out === x;
      if (bias && (bias === out || bias === x)) throw new ShapeError("webgpu biasAct: the bias is also x or out");
      assertSizes("biasAct", [["x", x, n], ["bias", bias, cols], ["out", out, n]]);
      const bufs = [x, ...(bias ? [bias] : []), ...(inPlace ? [] : [out])];
      dev.dispatch(biasActCode(op, bias !== null, inPlace), [["u32", n], ["u32", cols]], bufs, groups(n));
    },
    biasActBackward(op, z, gy, gx, gBias, rows, cols) {
      assertNoAlias("biasActBackward", [gx, gBias], [z, gy]);
      const n = rows * cols;
      assertSizes("biasActBackward", [["z", z, n], ["gy", gy, n], ["gx", gx, n], ["gBias", gBias, cols]]);
      dev.dispatch(unaryBackwardCode(op), [["u32", n]], [z, z, gy, gx], groups(n));
      if (gBias) dev.dispatch(COLUMN_SUM, [["u32", rows], ["u32", cols]], [gx, gBias], groups(cols));
    },
  };
}
