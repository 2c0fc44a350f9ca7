// WebGPU test page cases, dense kernels: GEMM (f32 and bf16), elementwise, binary broadcasting,
// bias-act, reductions, softmax, norms, cross entropy, bf16 conversions.
import { tsKernels as ts } from "../../src/backend/ts/index.js";
import type { BiasActOp, BinaryOp, MatmulParams, UnaryOp } from "../../src/backend/backend.js";
import { Checks, cases, gpu, maxAbs, randint, randn } from "./webgpu_checks.js";

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

cases["grids past 65535 workgroups (the 2-D grid), and a GPU error surfaces at the next readback as a PeftError"] = async () => {
  const c = new Checks();
  // 4.5M elements = 70313 workgroups of 64; 70000 rows = 70000 row workgroups
  const n = 4_500_000, x = randn(n), neg = x.map((v) => -v), out = c.empty(n);
  gpu.unary("neg", c.up(x), out, 0);
  c.expect(out, neg, 0, 0, `neg over ${n} elements`);
  const rows = 70_000, y = randn(rows * 2), sm = new Float32Array(rows * 2), SM = c.empty(rows * 2);
  ts.softmax(y, sm, rows, 2);
  gpu.softmax(c.up(y), SM, rows, 2);
  c.expect(SM, sm, 1e-5, 1e-7, `softmax over ${rows} rows`);
  const failures = await c.done();
  // a program that does not compile: recorded without complaint, reported by the next readback
  const probe = gpu.upload(Float32Array.of(1));
  gpu.device.dispatch("this is not WGSL", null, [probe], [1]);
  try {
    await gpu.readback(probe);
    failures.push("a broken WGSL program was not reported");
  } catch (e) {
    if ((e as Error).name !== "PeftError" || !/^webgpu \(google swiftshader\): /.test((e as Error).message)) failures.push(`unexpected error: ${(e as Error).name}: ${(e as Error).message}`);
  }
  // the device keeps working afterwards
  const after = gpu.upload(Float32Array.of(2)), back = await gpu.readback(after);
  if (back[0] !== 2) failures.push(`readback after the error gave ${back[0]}`);
  probe.release();
  after.release();
  return failures;
};
