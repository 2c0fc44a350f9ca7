// The page test/backend/webgpu.test.ts bundles and runs in chromium: each case draws random inputs,
// runs a kernel on the WebGPU backend and the TS reference on the same inputs, and returns what
// disagrees (an empty list when everything agrees). Tolerances (f32 on the GPU, where the reference
// sums some rows in double; WGSL's exp/log/sqrt/division may be off by a few ulp):
// GEMM |Δ| ≤ 1e-5·|ref| + 2e-6·√k·scale as the wasm and native tests; elementwise 1e-5 relative;
// row kernels 1e-5..1e-4 relative; f32 sums in the reference's order (reductions, column sums) exact
// or 1e-6; AdamW a few ulp (1e-6 relative after three steps).
import { tsKernels as ts } from "../../src/backend/ts/index.js";
import { MASK_MIN, type AttentionParams, type BiasActOp, type BinaryOp, type KernelSet, type MatmulParams, type UnaryOp } from "../../src/backend/backend.js";
import type { GpuArray, WebGpuBackend } from "../../src/backend/webgpu/index.js";
import { publishWebGpu } from "../helpers/webgpu_ready.js";

let gpu: WebGpuBackend;

// ------------------------------------------------------------------ inputs and comparison
let seed = 1717;
function uniform(): number {
  // mulberry32
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function randn(n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}
const randint = (n: number) => Math.floor(uniform() * n);
const maxAbs = (x: ArrayLike<number>) => { let m = 0; for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i])); return m; };

/** |x − ref| ≤ atol + rtol·|ref| elementwise (NaNs must match): null, or the worst element. */
function close(x: ArrayLike<number>, ref: ArrayLike<number>, rtol: number, atol: number, what: string): string | null {
  if (x.length !== ref.length) return `${what}: length ${x.length}, reference ${ref.length}`;
  let worst = -1, worstErr = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = x[i], r = ref[i];
    if (Number.isNaN(r) || Number.isNaN(a)) {
      if (!(Number.isNaN(r) && Number.isNaN(a))) return `${what}[${i}]: ${a} vs reference ${r}`;
      continue;
    }
    if (a === r) continue;
    const err = Math.abs(a - r) - (atol + rtol * Math.abs(r));
    if (err > worstErr || Number.isNaN(err)) { worstErr = err; worst = i; }
  }
  return worst < 0 ? null : `${what}: element ${worst} is ${x[worst]}, reference ${ref[worst]} (rtol ${rtol}, atol ${atol})`;
}

/** One case's GPU arrays and pending comparisons (all read back at once, then released). */
class Checks {
  private arrays: GpuArray[] = [];
  private pending: Promise<string | null>[] = [];
  up(x: Float32Array | Int32Array | Uint16Array): GpuArray {
    const a = gpu.upload(x);
    this.arrays.push(a);
    return a;
  }
  empty(n: number, dtype: "f32" | "i32" | "bf16" = "f32"): GpuArray {
    const a = gpu.empty(n, dtype);
    this.arrays.push(a);
    return a;
  }
  /** Compares the GPU array with the reference once read back (queued now: later kernels may overwrite it, so read now). */
  expect(x: GpuArray, ref: ArrayLike<number>, rtol: number, atol: number, what: string): void {
    const r = gpu.readback(x);
    this.pending.push(r.then((v) => close(v, ref, rtol, atol, what)));
  }
  /** Records a host-side disagreement. */
  fail(message: string): void {
    this.pending.push(Promise.resolve(message));
  }
  async done(): Promise<string[]> {
    const r = (await Promise.all(this.pending)).filter((x): x is string => x !== null);
    for (const a of this.arrays) a.release();
    return r;
  }
}

// ------------------------------------------------------------------ cases
const cases: Record<string, () => Promise<string[]>> = {};

function gemm(c: Checks, p: MatmulParams): void {
  const a = randn(Math.max(p.m * p.k, p.strideA * (p.batch - 1) + p.m * p.k));
  const b = randn(Math.max(p.k * p.n, p.strideB * (p.batch - 1) + p.k * p.n));
  const init = randn(Math.max(p.m * p.n, p.strideOut * (p.batch - 1) + p.m * p.n));
  const ref = init.slice();
  const out = c.up(init);
  gpu.matmul(c.up(a), c.up(b), out, p);
  ts.matmul(a, b, ref, p);
  c.expect(out, ref, 1e-5, 2e-6 * Math.sqrt(p.k) * Math.max(1, maxAbs(ref) / Math.sqrt(p.k)), `matmul ${JSON.stringify(p)}`);
}

cases["matmul: sizes 1, 7, 33, 65 and past the 64×64 tile, every transpose combination, accumulate, k = 0"] = async () => {
  const c = new Checks();
  const sizes = [1, 7, 33, 65];
  for (const m of sizes) for (const n of sizes) for (const k of sizes)
    for (const transA of [false, true]) for (const transB of [false, true])
      gemm(c, { batch: 1, m, n, k, transA, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate: (m + n + k) % 2 === 0 });
  for (const [m, n, k] of [[130, 515, 257], [1, 1, 600], [65, 9, 1], [3, 1030, 7]])
    for (const transA of [false, true]) for (const transB of [false, true])
      for (const accumulate of [false, true]) gemm(c, { batch: 1, m, n, k, transA, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate });
  for (const accumulate of [true, false]) {
    const o = c.up(Float32Array.of(5, 6));
    gpu.matmul(c.up(new Float32Array(0)), c.up(new Float32Array(0)), o, { batch: 1, m: 1, n: 2, k: 0, transA: false, transB: false, strideA: 0, strideB: 0, strideOut: 0, accumulate });
    c.expect(o, accumulate ? [5, 6] : [0, 0], 0, 0, `matmul k = 0 accumulate ${accumulate}`);
  }
  return c.done();
};

cases["matmul: batched, broadcast operands (stride 0), padded strides"] = async () => {
  const c = new Checks();
  for (const [batch, m, n, k] of [[3, 7, 33, 5], [5, 1, 7, 33], [2, 33, 1, 7], [4, 65, 64, 16]])
    for (const transA of [false, true]) for (const transB of [false, true]) {
      gemm(c, { batch, m, n, k, transA, transB, strideA: m * k, strideB: k * n, strideOut: m * n, accumulate: false });
      gemm(c, { batch, m, n, k, transA, transB, strideA: 0, strideB: k * n, strideOut: m * n, accumulate: false });
      gemm(c, { batch, m, n, k, transA, transB, strideA: m * k, strideB: 0, strideOut: m * n, accumulate: true });
      gemm(c, { batch, m, n, k, transA, transB, strideA: m * k + 3, strideB: k * n + 1, strideOut: m * n + 2, accumulate: false });
    }
  return c.done();
};

const UNARY: UnaryOp[] = ["neg", "exp", "log", "sqrt", "rsqrt", "abs", "tanh", "sigmoid", "relu", "silu", "gelu", "gelu_tanh", "square", "reciprocal"];

cases["unary / unaryBackward: every op (incl. ±40 for the activations)"] = async () => {
  const c = new Checks();
  for (const op of UNARY)
    for (const n of [1, 33, 10007]) {
      let x = randn(n, 3);
      if (op === "log" || op === "sqrt" || op === "rsqrt") x = x.map((v) => Math.abs(v) + 0.1);
      if (op === "reciprocal") x = x.map((v) => v + Math.sign(v) * 0.5);
      if (n > 7 && ["gelu", "gelu_tanh", "silu", "relu", "tanh", "sigmoid", "abs", "neg"].includes(op)) { x[0] = 0; x[1] = 40; x[2] = -40; }
      const ref = new Float32Array(n), out = c.empty(n), gx = c.empty(n);
      ts.unary(op, x, ref, 0);
      const X = c.up(x);
      gpu.unary(op, X, out, 0);
      c.expect(out, ref, 1e-5, 1e-7, `${op} n=${n}`);
      const gy = randn(n), gref = new Float32Array(n);
      ts.unaryBackward(op, x, ref, gy, gref, 0);
      gpu.unaryBackward(op, X, c.up(ref), c.up(gy), gx, 0);
      c.expect(gx, gref, 1e-5, 1e-6, `${op} backward n=${n}`);
    }
  return c.done();
};

/** Strides of an operand of `shape` (1 = broadcast dim) inside an output of `out` dims. */
function bstrides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) { s[d] = shape[d] === 1 ? 0 : acc; acc *= shape[d]; }
  return s;
}

cases["binary: every op, same shapes, broadcasting, a transposed operand, rank 7"] = async () => {
  const c = new Checks();
  const layouts: { out: number[]; a: number[]; b: number[]; aStr?: number[] }[] = [
    { out: [7, 33], a: [7, 33], b: [7, 33] },
    { out: [4, 3, 5], a: [4, 1, 5], b: [1, 3, 5] },
    { out: [65, 9], a: [65, 9], b: [1, 1] },
    // a is a stored [9, 65] read transposed
    { out: [65, 9], a: [65, 9], b: [1, 9], aStr: [1, 65] },
    { out: [2, 1, 3, 2, 2, 3, 2], a: [2, 1, 3, 1, 2, 3, 2], b: [1, 1, 3, 2, 1, 1, 2] },
  ];
  for (const op of ["add", "sub", "mul", "div", "pow", "max", "min"] as BinaryOp[])
    for (const l of layouts) {
      const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
      let a = randn(size(l.a)), b = randn(size(l.b));
      if (op === "pow") { a = a.map((v) => Math.abs(v) + 0.5); b = b.map((v) => Math.max(-2, Math.min(2, v))); }
      if (op === "div") b = b.map((v) => v + Math.sign(v) * 0.5);
      const aStr = l.aStr ?? bstrides(l.a), bStr = bstrides(l.b);
      const n = size(l.out), ref = new Float32Array(n), out = c.empty(n);
      ts.binary(op, a, b, ref, l.out, aStr, bStr);
      gpu.binary(op, c.up(a), c.up(b), out, l.out, aStr, bStr);
      c.expect(out, ref, op === "pow" ? 1e-5 : 1e-6, 1e-7, `${op} ${JSON.stringify(l)}`);
    }
  // Math.pow cases: integer exponents of negative bases, x^0 = 1; max/min keep a NaN operand
  const a = Float32Array.of(-2, -2, -3, 0, 5, NaN, 1), b = Float32Array.of(3, 2, 0, 0, -1, 1, NaN);
  for (const op of ["pow", "max", "min"] as BinaryOp[]) {
    const ref = new Float32Array(7), out = c.empty(7);
    ts.binary(op, a, b, ref, [7], [1], [1]);
    gpu.binary(op, c.up(a), c.up(b), out, [7], [1], [1]);
    c.expect(out, ref, 1e-6, 0, `${op} special values`);
  }
  return c.done();
};

cases["affine, biasAct (bias optional, z written back, in place) and biasActBackward (gBias accumulated)"] = async () => {
  const c = new Checks();
  const x = randn(1001), ref = new Float32Array(1001), out = c.empty(1001);
  ts.affine(x, ref, 0.37, -1.5);
  gpu.affine(c.up(x), out, 0.37, -1.5);
  c.expect(out, ref, 1e-6, 1e-7, "affine");
  for (const op of ["gelu", "gelu_tanh", "relu", "silu"] as BiasActOp[])
    for (const [rows, cols] of [[1, 1], [7, 33], [33, 65], [65, 7]])
      for (const withBias of [true, false]) {
        const n = rows * cols, x0 = randn(n, 2), bias = withBias ? randn(cols) : null;
        const xr = x0.slice(), o = new Float32Array(n);
        ts.biasAct(op, xr, bias, o, rows, cols);
        const X = c.up(x0), O = c.empty(n);
        gpu.biasAct(op, X, bias ? c.up(bias) : null, O, rows, cols);
        c.expect(X, xr, 0, 0, `${op} z ${rows}x${cols}`);
        c.expect(O, o, 1e-5, 1e-7, `${op} biasAct ${rows}x${cols}`);
        const gy = randn(n), g = new Float32Array(n), gb = withBias ? randn(cols) : null, gbRef = gb ? gb.slice() : null;
        ts.biasActBackward(op, xr, gy, g, gbRef, rows, cols);
        const G = c.empty(n), GB = gb ? c.up(gb) : null;
        gpu.biasActBackward(op, c.up(xr), c.up(gy), G, GB, rows, cols);
        c.expect(G, g, 1e-5, 1e-6, `${op} biasActBackward ${rows}x${cols}`);
        if (GB) c.expect(GB, gbRef!, 1e-5, 1e-6 * rows, `${op} gBias ${rows}x${cols}`);
      }
  const x1 = randn(33 * 7), y1 = x1.slice(), bias = randn(7), ref1 = new Float32Array(x1.length);
  ts.biasAct("gelu", y1, bias, ref1, 33, 7);
  const X1 = c.up(x1);
  gpu.biasAct("gelu", X1, c.up(bias), X1, 33, 7);
  c.expect(X1, ref1, 1e-5, 1e-7, "biasAct in place");
  return c.done();
};

cases["sum / max over an axis of [outer, n, inner] (first max wins, NaN is the max)"] = async () => {
  const c = new Checks();
  for (const [outer, n, inner] of [[1, 1, 1], [3, 7, 5], [2, 65, 33], [1, 1000, 1], [70, 3, 1]]) {
    const x = randn(outer * n * inner);
    if (outer * n * inner > 20) { x[4] = NaN; x[9] = x[9 + inner] = 9; }
    const s = new Float32Array(outer * inner), m = new Float32Array(outer * inner), idx = new Int32Array(outer * inner);
    const finite = x.map((v) => (Number.isNaN(v) ? 0 : v));
    ts.sum(finite, s, outer, n, inner);
    ts.max(x, m, idx, outer, n, inner);
    const S = c.empty(outer * inner), M = c.empty(outer * inner), I = c.empty(outer * inner, "i32");
    gpu.sum(c.up(finite), S, outer, n, inner);
    gpu.max(c.up(x), M, I, outer, n, inner);
    c.expect(S, s, 0, 0, `sum ${outer}x${n}x${inner} (f32 in the reference's order)`);
    c.expect(M, m, 0, 0, `max ${outer}x${n}x${inner}`);
    c.expect(I, idx, 0, 0, `argmax ${outer}x${n}x${inner}`);
  }
  return c.done();
};

cases["softmax / logSoftmax and their backward (incl. -inf entries and all -inf rows)"] = async () => {
  const c = new Checks();
  for (const [rows, cols] of [[1, 1], [7, 33], [33, 65], [65, 7], [3, 1000]]) {
    const n = rows * cols, x = randn(n, 3);
    if (cols > 3) x[1] = -Infinity;
    if (rows > 2) for (let col = 0; col < cols; col++) x[cols + col] = -Infinity;
    const y = new Float32Array(n), Y = c.empty(n);
    ts.softmax(x, y, rows, cols);
    gpu.softmax(c.up(x), Y, rows, cols);
    c.expect(Y, y, 1e-5, 1e-7, `softmax ${rows}x${cols}`);
    const finite = randn(n, 3), gy = randn(n), g = new Float32Array(n), yf = new Float32Array(n);
    ts.softmax(finite, yf, rows, cols);
    ts.softmaxBackward(yf, gy, g, rows, cols);
    const G = c.empty(n), GY = c.up(gy);
    gpu.softmaxBackward(c.up(yf), GY, G, rows, cols);
    c.expect(G, g, 1e-4, 1e-6, `softmaxBackward ${rows}x${cols}`);
    const ly = new Float32Array(n), LY = c.empty(n);
    ts.logSoftmax(finite, ly, rows, cols);
    gpu.logSoftmax(c.up(finite), LY, rows, cols);
    c.expect(LY, ly, 1e-5, 1e-6, `logSoftmax ${rows}x${cols}`);
    const lg = new Float32Array(n), LG = c.empty(n);
    ts.logSoftmaxBackward(ly, gy, lg, rows, cols);
    gpu.logSoftmaxBackward(c.up(ly), GY, LG, rows, cols);
    c.expect(LG, lg, 1e-4, 1e-5, `logSoftmaxBackward ${rows}x${cols}`);
  }
  return c.done();
};

cases["layerNorm / rmsNorm and their backward (with and without affine params)"] = async () => {
  const c = new Checks();
  for (const [rows, cols] of [[1, 1], [7, 33], [33, 65], [65, 7], [4, 769]])
    for (const affine of [true, false]) {
      const n = rows * cols, x = randn(n, 2).map((v) => v + 3);
      const w = affine ? randn(cols) : null, b = affine ? randn(cols) : null;
      const W = w ? c.up(w) : null, B = b ? c.up(b) : null, X = c.up(x);
      const o = new Float32Array(n), mu = new Float32Array(rows), rs = new Float32Array(rows);
      ts.layerNorm(x, w, b, o, mu, rs, rows, cols, 1e-5);
      const O = c.empty(n), MU = c.empty(rows), RS = c.empty(rows);
      gpu.layerNorm(X, W, B, O, MU, RS, rows, cols, 1e-5);
      c.expect(O, o, 1e-5, 1e-5, `layerNorm ${rows}x${cols}`);
      c.expect(MU, mu, 1e-6, 1e-6, `layerNorm mean ${rows}x${cols}`);
      c.expect(RS, rs, 1e-5, 1e-7, `layerNorm rstd ${rows}x${cols}`);
      const gy = randn(n), gx = new Float32Array(n), gw = affine ? randn(cols) : null, gb = affine ? randn(cols) : null;
      const GW = gw ? c.up(gw) : null, GB = gb ? c.up(gb) : null, GX = c.empty(n), GY = c.up(gy);
      ts.layerNormBackward(x, w, mu, rs, gy, gx, gw, gb, rows, cols);
      gpu.layerNormBackward(X, W, c.up(mu), c.up(rs), GY, GX, GW, GB, rows, cols);
      c.expect(GX, gx, 1e-4, 1e-5, `layerNormBackward gx ${rows}x${cols}`);
      if (GW) c.expect(GW, gw!, 1e-5, 1e-5 * Math.sqrt(rows), `layerNormBackward gw ${rows}x${cols}`);
      if (GB) c.expect(GB, gb!, 1e-5, 1e-5 * Math.sqrt(rows), `layerNormBackward gb ${rows}x${cols}`);
      const ro = new Float32Array(n), rr = new Float32Array(rows), RO = c.empty(n), RR = c.empty(rows);
      ts.rmsNorm(x, w, ro, rr, rows, cols, 1e-6);
      gpu.rmsNorm(X, W, RO, RR, rows, cols, 1e-6);
      c.expect(RO, ro, 1e-5, 1e-6, `rmsNorm ${rows}x${cols}`);
      c.expect(RR, rr, 1e-5, 1e-7, `rmsNorm rstd ${rows}x${cols}`);
      const rgx = new Float32Array(n), RGX = c.empty(n), rgw = gw ? randn(cols) : null, RGW = rgw ? c.up(rgw) : null;
      ts.rmsNormBackward(x, w, rr, gy, rgx, rgw, rows, cols);
      gpu.rmsNormBackward(X, W, c.up(rr), GY, RGX, RGW, rows, cols);
      c.expect(RGX, rgx, 1e-4, 1e-5, `rmsNormBackward gx ${rows}x${cols}`);
      if (RGW) c.expect(RGW, rgw!, 1e-5, 1e-5 * Math.sqrt(rows), `rmsNormBackward gw ${rows}x${cols}`);
    }
  return c.done();
};

cases["crossEntropy and backward (ignore index, label smoothing)"] = async () => {
  const c = new Checks();
  for (const [rows, cols] of [[1, 1], [7, 33], [33, 65], [65, 7], [5, 3001]])
    for (const smoothing of [0, 0.1]) {
      const logits = randn(rows * cols, 4);
      const labels = Int32Array.from({ length: rows }, (_, i) => (i % 5 === 3 ? -100 : randint(cols)));
      const loss = new Float32Array(rows), lse = new Float32Array(rows);
      ts.crossEntropy(logits, labels, loss, lse, rows, cols, -100, smoothing);
      const L = c.up(logits), Y = c.up(labels), LOSS = c.empty(rows), LSE = c.empty(rows);
      gpu.crossEntropy(L, Y, LOSS, LSE, rows, cols, -100, smoothing);
      c.expect(LOSS, loss, 1e-5, 1e-6, `crossEntropy loss ${rows}x${cols} ε=${smoothing}`);
      c.expect(LSE, lse, 1e-6, 1e-6, `crossEntropy lse ${rows}x${cols}`);
      const gl = randn(rows), g = new Float32Array(rows * cols), G = c.empty(rows * cols);
      ts.crossEntropyBackward(logits, lse, labels, gl, g, rows, cols, -100, smoothing);
      gpu.crossEntropyBackward(L, c.up(lse), Y, c.up(gl), G, rows, cols, -100, smoothing);
      c.expect(G, g, 1e-5, 1e-6, `crossEntropyBackward ${rows}x${cols} ε=${smoothing}`);
    }
  return c.done();
};

type AttnCase = AttentionParams & { masked: boolean; p: number };
const ATTN: AttnCase[] = [
  { batch: 1, heads: 1, kvHeads: 1, tq: 1, tk: 1, headDim: 1, scale: 1, causal: false, masked: false, p: 0 },
  { batch: 2, heads: 4, kvHeads: 4, tq: 7, tk: 7, headDim: 33, scale: 1 / Math.sqrt(33), causal: false, masked: true, p: 0 },
  { batch: 2, heads: 6, kvHeads: 2, tq: 33, tk: 33, headDim: 8, scale: 0.35, causal: true, masked: false, p: 0.1 },
  { batch: 1, heads: 4, kvHeads: 1, tq: 1, tk: 37, headDim: 16, scale: 0.25, causal: true, masked: true, p: 0 },
  { batch: 3, heads: 2, kvHeads: 1, tq: 5, tk: 12, headDim: 7, scale: 0.5, causal: true, masked: true, p: 0.3 },
  { batch: 2, heads: 2, kvHeads: 2, tq: 7, tk: 5, headDim: 3, scale: 0.5, causal: true, masked: true, p: 0 }, // early queries see no key
  { batch: 2, heads: 3, kvHeads: 3, tq: 65, tk: 65, headDim: 64, scale: 0.125, causal: false, masked: true, p: 0.1 },
];

function attnInputs(c: AttnCase) {
  const { masked, p: dp, ...p } = c;
  const nq = p.batch * p.heads * p.tq * p.headDim, nk = p.batch * p.kvHeads * p.tk * p.headDim, np = p.batch * p.heads * p.tq * p.tk;
  let mask: Float32Array | null = null;
  if (masked) {
    mask = new Float32Array(p.batch * p.tk);
    // drop the last keys of each sequence (padding), and every key of the third sequence
    for (let b = 0; b < p.batch; b++) for (let j = 0; j < p.tk; j++) if (j >= p.tk - b || b === 2) mask[b * p.tk + j] = MASK_MIN;
  }
  let drop: Float32Array | null = null;
  if (dp > 0) {
    drop = new Float32Array(np);
    ts.dropoutMask(new Uint32Array([np, 2, 3, 4]), drop, dp, 1 / (1 - dp));
  }
  return { p, nq, nk, np, q: randn(nq), k: randn(nk), v: randn(nk), mask, drop };
}

cases["attention and backward (GQA, causal, key mask, fully masked rows, Tq ≠ Tk, dropout, probs only)"] = async () => {
  const c = new Checks();
  for (const ac of ATTN) {
    const { p, nq, nk, np, q, k, v, mask, drop } = attnInputs(ac);
    const what = JSON.stringify(ac);
    const o = new Float32Array(nq), pr = new Float32Array(np);
    ts.attention(q, k, v, mask, o, pr, p, drop);
    const Q = c.up(q), K = c.up(k), V = c.up(v), M = mask ? c.up(mask) : null, D = drop ? c.up(drop) : null;
    const O = c.empty(nq), PR = c.empty(np), PR2 = c.empty(np);
    gpu.attention(Q, K, V, M, O, PR, p, D);
    gpu.attention(Q, K, V, M, null, PR2, p, D);
    c.expect(PR, pr, 1e-4, 1e-6, `attention probs ${what}`);
    c.expect(PR2, pr, 1e-4, 1e-6, `attention probs only ${what}`);
    c.expect(O, o, 1e-4, 1e-5, `attention out ${what}`);
    const go = randn(nq), gq = new Float32Array(nq), gk = new Float32Array(nk), gv = new Float32Array(nk);
    ts.attentionBackward(q, k, v, pr, go, gq, gk, gv, p, drop);
    const GQ = c.empty(nq), GK = c.empty(nk), GV = c.empty(nk);
    gpu.attentionBackward(Q, K, V, c.up(pr), c.up(go), GQ, GK, GV, p, D);
    const tol = (x: Float32Array) => 1e-5 * Math.max(1, maxAbs(x));
    c.expect(GQ, gq, 1e-4, tol(gq), `attention gq ${what}`);
    c.expect(GK, gk, 1e-4, tol(gk), `attention gk ${what}`);
    c.expect(GV, gv, 1e-4, tol(gv), `attention gv ${what}`);
  }
  return c.done();
};

cases["attention backward on the GPU against central finite differences of the GPU forward"] = async () => {
  const c = new Checks();
  const failures: string[] = [];
  // cases without fully masked rows: there the scores are exactly MASK_MIN whatever q and k (a zero
  // derivative), while the backward formula, like PyTorch's and the reference's, gives the unmasked one
  for (const ac of [ATTN[1], ATTN[2]]) {
    const { p, nq, nk, np, q, k, v, mask, drop } = attnInputs(ac);
    const w = randn(nq);
    const Q = c.up(q), K = c.up(k), V = c.up(v), M = mask ? c.up(mask) : null, D = drop ? c.up(drop) : null;
    const O = c.empty(nq), PR = c.empty(np);
    // L = Σ out ⊙ w, in double on the host, from a GPU forward on (possibly perturbed) inputs
    const loss = async (qq: Float32Array, kk: Float32Array, vv: Float32Array): Promise<number> => {
      const a = gpu.upload(qq), b = gpu.upload(kk), cc = gpu.upload(vv);
      gpu.attention(a, b, cc, M, O, PR, p, D);
      const out = await gpu.readback(O);
      for (const x of [a, b, cc]) x.release();
      let s = 0;
      for (let i = 0; i < nq; i++) s += out[i] * w[i];
      return s;
    };
    gpu.attention(Q, K, V, M, O, PR, p, D);
    const GQ = c.empty(nq), GK = c.empty(nk), GV = c.empty(nk);
    gpu.attentionBackward(Q, K, V, PR, c.up(w), GQ, GK, GV, p, D);
    const grads = [await gpu.readback(GQ), await gpu.readback(GK), await gpu.readback(GV)];
    const inputs = [q, k, v];
    const eps = 1e-2;
    for (let t = 0; t < 3; t++)
      for (let s = 0; s < 8; s++) {
        const x = inputs[t], idx = randint(x.length);
        const plus = x.slice(), minus = x.slice();
        plus[idx] += eps;
        minus[idx] -= eps;
        const args = (y: Float32Array) => inputs.map((z, u) => (u === t ? y : z)) as [Float32Array, Float32Array, Float32Array];
        const fd = ((await loss(...args(plus))) - (await loss(...args(minus)))) / (2 * eps);
        const an = grads[t][idx];
        if (Math.abs(fd - an) > 2e-3 + 2e-2 * Math.abs(fd)) failures.push(`${"qkv"[t]}[${idx}] of ${JSON.stringify(ac)}: backward ${an}, finite differences ${fd}`);
      }
  }
  return [...failures, ...(await c.done())];
};

cases["adamw: three steps, with and without weight decay, β1 either side of 0.5"] = async () => {
  const c = new Checks();
  for (const n of [1, 33, 1001])
    for (const [beta1, weightDecay] of [[0.9, 0.01], [0.3, 0], [0.9, 0]]) {
      const p0 = randn(n), g = randn(n), m0 = randn(n, 0.1), v0 = randn(n, 0.1).map(Math.abs);
      const P = c.up(p0), G = c.up(g), M = c.up(m0), V = c.up(v0);
      const pr = p0.slice(), mr = m0.slice(), vr = v0.slice();
      for (let step = 1; step <= 3; step++) {
        const hp = { lr: 1e-3, beta1, beta2: 0.999, eps: 1e-8, weightDecay, step };
        gpu.adamw(P, G, M, V, hp);
        ts.adamw(pr, g, mr, vr, hp);
      }
      const what = `n=${n} β1=${beta1} wd=${weightDecay}`;
      c.expect(P, pr, 1e-6, 1e-9, `adamw p ${what}`);
      c.expect(M, mr, 1e-6, 1e-9, `adamw m ${what}`);
      c.expect(V, vr, 1e-6, 1e-12, `adamw v ${what}`);
    }
  return c.done();
};

cases["siluMul, rotary (strided input, per-batch tables, inverse), dropout masks (bit-identical), embeddings"] = async () => {
  const c = new Checks();
  for (const n of [1, 33, 10007]) {
    const g = randn(n, 3), up = randn(n), gy = randn(n);
    const o = new Float32Array(n), gg = new Float32Array(n), gu = new Float32Array(n);
    ts.siluMul(g, up, o);
    ts.siluMulBackward(g, up, gy, gg, gu);
    const G = c.up(g), UP = c.up(up), O = c.empty(n), GG = c.empty(n), GU = c.empty(n);
    gpu.siluMul(G, UP, O);
    gpu.siluMulBackward(G, UP, c.up(gy), GG, GU);
    c.expect(O, o, 1e-5, 1e-7, `siluMul n=${n}`);
    c.expect(GG, gg, 1e-5, 1e-6, `siluMulBackward gGate n=${n}`);
    c.expect(GU, gu, 1e-5, 1e-6, `siluMulBackward gUp n=${n}`);
  }
  for (const perBatch of [false, true]) {
    // x is a [B, T, H, D] buffer read as [B, H, T, D] (the head split's strides)
    const B = 2, H = 3, T = 5, D = 8;
    const x = randn(B * T * H * D), tables = perBatch ? B * T * D : T * D, cos = randn(tables), sin = randn(tables);
    const p = { batch: B, heads: H, seq: T, headDim: D, strideB: T * H * D, strideH: D, strideT: H * D, perBatch };
    const X = c.up(x), COS = c.up(cos), SIN = c.up(sin);
    for (const inverse of [false, true]) {
      const o = new Float32Array(B * H * T * D), O = c.empty(o.length);
      ts.rotary(x, cos, sin, o, p, inverse);
      gpu.rotary(X, COS, SIN, O, p, inverse);
      c.expect(O, o, 1e-6, 1e-7, `rotary perBatch ${perBatch} inverse ${inverse}`);
    }
  }
  for (const [n, p] of [[1, 0.5], [1001, 0.1], [4097, 0.9], [33, 0], [33, 1]] as [number, number][]) {
    const keep = p < 1 ? 1 / (1 - p) : 0;
    const s1 = new Uint32Array([n, 77, 3, 9]), s2 = s1.slice(), x = randn(n);
    const m = new Float32Array(n), y = new Float32Array(n);
    ts.dropoutMask(s1, m, p, keep);
    ts.dropoutApply(s1, x, y, p, keep);
    const M = c.empty(n), X = c.up(x);
    gpu.dropoutMask(s2, M, p, keep);
    gpu.dropoutApply(s2, X, X, p, keep);
    c.expect(M, m, 0, 0, `dropoutMask n=${n} p=${p}`);
    c.expect(X, y, 0, 0, `dropoutApply in place n=${n} p=${p}`);
    if (s1.join() !== s2.join()) c.fail(`generator state after two masks: ${s2} vs reference ${s1}`);
  }
  const vocab = 11, dim = 70, ids = Int32Array.from({ length: 40 }, () => randint(vocab)), w = randn(vocab * dim);
  const o = new Float32Array(ids.length * dim), O = c.empty(o.length), IDS = c.up(ids);
  ts.embedding(w, ids, o, dim);
  gpu.embedding(c.up(w), IDS, O, dim);
  c.expect(O, o, 0, 0, "embedding");
  const go = randn(o.length), gw = randn(vocab * dim), GW = c.up(gw);
  ts.embeddingBackward(go, ids, gw, dim);
  gpu.embeddingBackward(c.up(go), IDS, GW, dim);
  c.expect(GW, gw, 0, 0, "embeddingBackward (repeated ids, the reference's order)");
  return c.done();
};

cases["bf16: matmulBf16 (widened, as the reference) and the conversions (round to nearest even, NaN stays quiet, odd lengths)"] = async () => {
  const c = new Checks();
  for (const [batch, m, n, k] of [[1, 7, 33, 65], [1, 65, 9, 130], [3, 5, 7, 1], [2, 33, 65, 7]])
    for (const transB of [false, true]) {
      const p: MatmulParams = { batch, m, n, k, transA: false, transB, strideA: m * k, strideB: k * n, strideOut: m * n, accumulate: batch === 2 };
      const a = randn(batch * m * k), bf = randn(batch * k * n), b = new Uint16Array(bf.length), init = randn(batch * m * n);
      ts.f32ToBf16(bf, b);
      const ref = init.slice(), out = c.up(init);
      ts.matmulBf16(a, b, ref, p);
      gpu.matmulBf16(c.up(a), c.up(b), out, p);
      c.expect(out, ref, 1e-5, 2e-6 * Math.sqrt(k) * Math.max(1, maxAbs(ref) / Math.sqrt(k)), `matmulBf16 ${JSON.stringify(p)}`);
    }
  for (const n of [1, 2, 7, 1001]) {
    const x = randn(n, 100);
    if (n > 7) { x[0] = NaN; x[1] = Infinity; x[2] = -Infinity; x[3] = 1 + 2 ** -8; x[4] = 1 + 3 * 2 ** -8; x[5] = -0; x[6] = 3.4e38; }
    const h = new Uint16Array(n), back = new Float32Array(n);
    ts.f32ToBf16(x, h);
    ts.bf16ToF32(h, back);
    const H = c.empty(n, "bf16"), B = c.empty(n);
    gpu.f32ToBf16(c.up(x), H);
    gpu.bf16ToF32(H, B);
    c.expect(H, h, 0, 0, `f32ToBf16 n=${n}`);
    c.expect(B, back, 0, 0, `bf16ToF32 n=${n}`);
  }
  return c.done();
};

cases["a LoRA classifier trained 5 steps with every tensor on the GPU matches the same loop on the TS kernels (one readback a step: the loss)"] = async () => {
  // logits = x·Wᵀ + s·(x·Aᵀ)·Bᵀ (W frozen), mean cross entropy, AdamW on A and B
  const N = 64, D = 32, C = 5, r = 4, s = 2, steps = 5;
  const x = randn(N * D), W = randn(C * D, 0.3), A0 = randn(r * D, 0.2), B0 = randn(C * r, 0.2);
  const labels = Int32Array.from({ length: N }, () => randint(C));
  const gLoss = new Float32Array(N).fill(1 / N);
  const mm = (m: number, n: number, k: number, transA: boolean, transB: boolean, accumulate = false): MatmulParams =>
    ({ batch: 1, m, n, k, transA, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate });
  const hp = (step: number) => ({ lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step });
  // the same code drives both tables: GpuKernelSet has KernelSet's signatures over GpuArrays
  type K = Pick<KernelSet, "matmul" | "affine" | "crossEntropy" | "crossEntropyBackward" | "adamw">;
  /** One step on either kernel table over its operands `t`; returns the per-row losses operand. */
  function step(k: K, t: Record<string, never>, n: number): unknown {
    k.matmul(t.x, t.A, t.u, mm(N, r, D, false, true));
    k.affine(t.u, t.us, s, 0);
    k.matmul(t.x, t.W, t.logits, mm(N, C, D, false, true));
    k.matmul(t.us, t.B, t.logits, mm(N, C, r, false, true, true));
    k.crossEntropy(t.logits, t.labels, t.loss, t.lse, N, C, -100, 0);
    k.crossEntropyBackward(t.logits, t.lse, t.labels, t.gLoss, t.gLogits, N, C, -100, 0);
    k.matmul(t.gLogits, t.us, t.gB, mm(C, r, N, true, false));
    k.matmul(t.gLogits, t.B, t.gus, mm(N, r, C, false, false));
    k.affine(t.gus, t.gu, s, 0);
    k.matmul(t.gu, t.x, t.gA, mm(r, D, N, true, false));
    k.adamw(t.A, t.gA, t.mA, t.vA, hp(n));
    k.adamw(t.B, t.gB, t.mB, t.vB, hp(n));
    return t.loss;
  }
  const sizes: Record<string, number> = { u: N * r, us: N * r, logits: N * C, loss: N, lse: N, gLogits: N * C, gB: C * r, gus: N * r, gu: N * r, gA: r * D, mA: r * D, vA: r * D, mB: C * r, vB: C * r };
  const host: Record<string, Float32Array | Int32Array> = { x, W, A: A0.slice(), B: B0.slice(), labels, gLoss };
  for (const [name, n] of Object.entries(sizes)) host[name] = new Float32Array(n);
  const c = new Checks();
  const dev: Record<string, GpuArray> = {};
  for (const [name, v] of Object.entries(host)) dev[name] = name in sizes ? c.empty(v.length) : c.up(v);
  for (const name of ["mA", "vA", "mB", "vB"]) gpu.device.write(dev[name], new Float32Array(dev[name].length));
  const mean = (v: ArrayLike<number>) => { let t = 0; for (let i = 0; i < v.length; i++) t += v[i]; return t / v.length; };
  const failures: string[] = [];
  const before = gpu.device.readbacks;
  const lossesGpu: number[] = [], lossesTs: number[] = [];
  for (let n = 1; n <= steps; n++) {
    lossesGpu.push(mean(await gpu.readback(step(gpu as unknown as K, dev as Record<string, never>, n) as GpuArray)));
    lossesTs.push(mean(step(ts, host as Record<string, never>, n) as Float32Array));
  }
  if (gpu.device.readbacks - before !== steps) failures.push(`${gpu.device.readbacks - before} readbacks in ${steps} steps, expected one a step`);
  const e = close(lossesGpu, lossesTs, 1e-5, 1e-6, "per-step mean loss");
  if (e) failures.push(e);
  if (!(lossesTs[steps - 1] < lossesTs[0])) failures.push(`the loss did not go down: ${lossesTs}`);
  c.expect(dev.A, host.A, 1e-4, 1e-5, "A after training");
  c.expect(dev.B, host.B, 1e-4, 1e-5, "B after training");
  return [...failures, ...(await c.done())];
};

// ------------------------------------------------------------------ the page's interface to the test
const g = globalThis as unknown as { __cases: string[]; __run(name: string): Promise<string[]> };
g.__cases = Object.keys(cases);
g.__run = async (name) => {
  const run = cases[name];
  if (!run) return [`no case named ${name}`];
  try {
    return await run();
  } catch (e) {
    return [`threw: ${(e as Error).stack ?? e}`];
  }
};
publishWebGpu((backend) => { gpu = backend; });
