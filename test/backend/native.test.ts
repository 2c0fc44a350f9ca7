// The native backend must agree with the TS reference on every kernel it implements: random
// shapes including odd sizes (1, 7, 33, 1000), transposed and batched/broadcast GEMM operands,
// masks, ignore indices, NaN/inf edge cases. Without a built addon the loader must fall back
// cleanly; that is asserted instead.
import { test } from "node:test";
import assert from "node:assert/strict";
import { tsBackend } from "../../src/backend/ts/index.js";
import { addonCandidates, loadNativeBackend, nativeAddon, nativeUnavailableReason } from "../../src/backend/native/index.js";
import type { GemmImpl } from "../../src/backend/native/index.js";
import type { FullBackend, KernelSet, MatmulParams, UnaryOp, BinaryOp, AttentionParams, BiasActOp } from "../../src/backend/backend.js";
import { Rng } from "../../src/tensor/random.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { bf16BitsToF32, f32ToBf16Bits } from "../../src/tensor/dtype.js";
import { close, gemmAtol, maxAbs } from "../helpers/kernel_conformance.js";

const native: FullBackend | null = loadNativeBackend({ required: false });
const ts = tsBackend;
const rng = new Rng(20240611);

function randn(n: number, scale = 1): Float32Array {
  return rng.fillNormal(new Float32Array(n), 0, scale);
}
function uniform(n: number, lo: number, hi: number): Float32Array {
  return rng.fillUniform(new Float32Array(n), lo, hi);
}

test("native loader: loads the addon or falls back with a clear reason", (t) => {
  if (!native) {
    const why = nativeUnavailableReason();
    t.diagnostic(`native addon unavailable: ${why} — only the fallback path is checked (run npm run build:native)`);
    assert.ok(why.length > 0, "an unavailable addon must say why");
    assert.throws(() => loadNativeBackend({ required: true }), (e: unknown) => e instanceof ConfigError && /unavailable/.test((e as Error).message));
    // the TS side still works
    const out = new Float32Array(4);
    ts.matmul(Float32Array.from([1, 2, 3, 4]), Float32Array.from([5, 6, 7, 8]), out, { batch: 1, m: 2, n: 2, k: 2, transA: false, transB: false, strideA: 0, strideB: 0, strideOut: 0, accumulate: false });
    assert.deepEqual(Array.from(out), [19, 22, 43, 50]);
    return;
  }
  const info = nativeAddon()!.info();
  t.diagnostic(`native addon: ${info.gemm}, ${info.threads} threads`);
  assert.equal(native.name, "native");
  assert.ok(native.numThreads() >= 1);
  for (const k of ["matmul", "matmulBf16", "softmax", "layerNorm", "attention", "adamw", "crossEntropy", "f32ToBf16"] as (keyof KernelSet)[])
    assert.ok(native.supports(k), `native backend implements ${k}`);
});

// The remaining tests compare kernels; each is a no-op (passing) when the addon is missing, which
// the loader test above reports.
const N = native;

function gemmCase(p: MatmulParams, impl?: string): void {
  const aLen = (p.strideA === 0 ? 1 : p.batch) * p.m * p.k, bLen = (p.strideB === 0 ? 1 : p.batch) * p.k * p.n;
  const a = randn(Math.max(aLen, p.strideA * (p.batch - 1) + p.m * p.k)), b = randn(Math.max(bLen, p.strideB * (p.batch - 1) + p.k * p.n));
  const outLen = p.strideOut * (p.batch - 1) + p.m * p.n;
  const init = randn(outLen);
  const o1 = init.slice(), o2 = init.slice();
  if (impl) nativeAddon()!.matmulWith(impl, a, b, o1, p.batch, p.m, p.n, p.k, p.transA, p.transB, p.strideA, p.strideB, p.strideOut, p.accumulate);
  else N!.matmul(a, b, o1, p);
  ts.matmul(a, b, o2, p);
  close(o1, o2, 1e-5, gemmAtol(p.k, o2), `matmul ${impl ?? "auto"} ${JSON.stringify(p)}`);
}

test("native matmul agrees with TS: odd sizes, all transpose combinations, accumulate", () => {
  if (!N) return;
  const sizes = [1, 7, 33];
  for (const m of sizes) for (const n of sizes) for (const k of sizes)
    for (const transA of [false, true]) for (const transB of [false, true])
      gemmCase({ batch: 1, m, n, k, transA, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate: (m + n + k) % 2 === 0 });
  for (const [m, n, k] of [[1000, 7, 33], [7, 1000, 33], [33, 7, 1000], [1000, 33, 1], [1, 1, 1000], [130, 257, 129]])
    for (const transA of [false, true]) for (const transB of [false, true])
      for (const accumulate of [false, true]) gemmCase({ batch: 1, m, n, k, transA, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate });
});

test("native matmul agrees with TS: batched, broadcast operands (stride 0), padded strides", () => {
  if (!N) return;
  for (const [batch, m, n, k] of [[3, 7, 33, 5], [5, 1, 7, 33], [2, 33, 1, 7], [4, 64, 64, 16]])
    for (const transA of [false, true]) for (const transB of [false, true]) {
      gemmCase({ batch, m, n, k, transA, transB, strideA: m * k, strideB: k * n, strideOut: m * n, accumulate: false });
      gemmCase({ batch, m, n, k, transA, transB, strideA: 0, strideB: k * n, strideOut: m * n, accumulate: false });
      gemmCase({ batch, m, n, k, transA, transB, strideA: m * k, strideB: 0, strideOut: m * n, accumulate: true });
      gemmCase({ batch, m, n, k, transA, transB, strideA: m * k + 3, strideB: k * n + 1, strideOut: m * n + 2, accumulate: false });
    }
});

test("native matmul: every built GEMM library agrees with TS, and repeated small shapes stay consistent", () => {
  if (!N) return;
  const info = nativeAddon()!.info();
  const impls = ["ref", ...(info.onednn ? ["onednn", "onednn-sgemm"] : []), ...(info.openblas ? ["openblas"] : [])];
  for (const impl of impls)
    for (const [batch, m, n, k] of [[1, 33, 7, 1000], [1, 1, 1, 1], [3, 7, 33, 7], [1, 200, 300, 100]])
      for (const transA of [false, true]) for (const transB of [false, true])
        gemmCase({ batch, m, n, k, transA, transB, strideA: m * k, strideB: batch > 1 ? 0 : k * n, strideOut: m * n, accumulate: k === 7 }, impl);
  // the automatic choice switches library after a shape repeats; both must give the TS answer
  for (let i = 0; i < 6; i++) gemmCase({ batch: 2, m: 7, n: 33, k: 7, transA: false, transB: true, strideA: 49, strideB: 231, strideOut: 231, accumulate: false });
});

test("native matmul rejects buffers that are too short instead of reading past them", () => {
  if (!N) return;
  const p: MatmulParams = { batch: 2, m: 4, n: 4, k: 4, transA: false, transB: false, strideA: 16, strideB: 16, strideOut: 16, accumulate: false };
  assert.throws(() => N.matmul(new Float32Array(16), new Float32Array(32), new Float32Array(32), p), /a has 16 elements, needs 32/);
  assert.throws(() => N.matmul(new Float32Array(32), new Float32Array(32), new Float32Array(31), p), RangeError);
  assert.throws(() => N.embedding(new Float32Array(8), Int32Array.from([0, 4]), new Float32Array(4), 2), /outside the table/);
});

/** Runs fn with the bf16 GEMM forced to widening the weight (the exact path the TS reference takes). */
function widening<T>(fn: () => T): T {
  const addon = nativeAddon()!;
  addon.setBf16Gemm("widen");
  try {
    return fn();
  } finally {
    addon.setBf16Gemm("default");
  }
}

test("native matmulBf16 agrees with TS (bf16 right operand, f32 accumulation)", () => widening(() => {
  if (!N) return;
  const toBf16 = (x: Float32Array) => Uint16Array.from(x, (v) => f32ToBf16Bits(v));
  for (const [batch, m, n, k] of [[1, 1, 7, 33], [1, 33, 1000, 7], [1, 7, 33, 1000], [1, 64, 96, 80], [3, 5, 7, 9]])
    for (const transA of [false, true]) for (const transB of [false, true]) for (const bStride of [0, 1]) {
      const p: MatmulParams = { batch, m, n, k, transA, transB, strideA: m * k, strideB: bStride * k * n, strideOut: m * n, accumulate: n === 7 };
      const a = randn(batch * m * k), b = toBf16(randn(batch * k * n));
      const init = randn(batch * m * n);
      const o1 = init.slice(), o2 = init.slice();
      N.matmulBf16(a, b, o1, p);
      ts.matmulBf16(a, b, o2, p);
      close(o1, o2, 1e-3, 1e-3 * Math.max(1, maxAbs(o2)), `matmulBf16 ${JSON.stringify(p)}`);
    }
}));

test("native matmulBf16 widens a big weight in blocks: same result as TS on every GEMM library", () => widening(() => {
  if (!N) return;
  const addon = nativeAddon()!;
  const toBf16 = (x: Float32Array) => Uint16Array.from(x, (v) => f32ToBf16Bits(v));
  // k·n > 2^20 takes the blocked path: [5, 1900, 601] in blocks of 1744 output columns (the last one
  // partial), [5, 300, 4500] in blocks of 3488 along k (products accumulated into out)
  const impls: GemmImpl[] = ["auto", "ref", ...(addon.info().openblas ? ["openblas" as const] : []), ...(addon.info().onednn ? ["onednn" as const] : [])];
  // the TS reference once per case, then every library against it
  const cases: { p: MatmulParams; a: Float32Array; b: Uint16Array; init: Float32Array; expect: Float32Array }[] = [];
  for (const [m, n, k] of [[5, 1900, 601], [5, 300, 4500]])
    for (const transA of [false, true]) for (const transB of [false, true]) {
      const accumulate = transA !== transB;
      const p: MatmulParams = { batch: 1, m, n, k, transA, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate };
      const a = randn(m * k), b = toBf16(randn(k * n)), init = randn(m * n);
      const expect = init.slice();
      ts.matmulBf16(a, b, expect, p);
      cases.push({ p, a, b, init, expect });
    }
  try {
    for (const impl of impls) {
      addon.setGemmImpl(impl);
      for (const { p, a, b, init, expect } of cases) {
        const o = init.slice();
        N.matmulBf16(a, b, o, p);
        close(o, expect, 1e-4, 1e-4 * Math.max(1, maxAbs(expect)), `matmulBf16 blocked ${impl} ${JSON.stringify(p)}`);
      }
    }
  } finally {
    addon.setGemmImpl("auto");
  }
}));

const UNARY: [UnaryOp, number, number][] = [
  ["neg", -5, 5], ["exp", -20, 20], ["log", 1e-3, 50], ["sqrt", 0, 50], ["rsqrt", 1e-2, 50], ["abs", -5, 5], ["tanh", -6, 6],
  ["sigmoid", -20, 20], ["relu", -3, 3], ["silu", -20, 20], ["gelu", -10, 10], ["gelu_tanh", -10, 10], ["square", -5, 5], ["reciprocal", 0.1, 5],
];

test("native unary and unaryBackward agree with TS on every op (sizes 1, 7, 33, 1000, 100003)", () => {
  if (!N) return;
  for (const [op, lo, hi] of UNARY)
    for (const n of [1, 7, 33, 1000, 100003]) {
      const x = uniform(n, lo, hi);
      if (n > 4) {
        x[0] = lo;
        x[1] = hi;
        if (lo < 0 && hi > 0) x[2] = 0;
      }
      const y1 = new Float32Array(n), y2 = new Float32Array(n);
      N.unary(op, x, y1, 0);
      ts.unary(op, x, y2, 0);
      close(y1, y2, 2e-6, 1e-7, `unary ${op} n=${n}`);
      const gy = randn(n), g1 = new Float32Array(n), g2 = new Float32Array(n);
      N.unaryBackward(op, x, y2, gy, g1, 0);
      ts.unaryBackward(op, x, y2, gy, g2, 0);
      close(g1, g2, 1e-5, 1e-6, `unaryBackward ${op} n=${n}`);
    }
  // special values
  const x = Float32Array.from([NaN, Infinity, -Infinity, 0, -0, 100, -100]);
  for (const op of ["exp", "sigmoid", "relu", "gelu", "gelu_tanh", "silu", "tanh", "abs", "neg"] as UnaryOp[]) {
    const y1 = new Float32Array(x.length), y2 = new Float32Array(x.length);
    N.unary(op, x, y1, 0);
    ts.unary(op, x, y2, 0);
    close(y1, y2, 2e-6, 1e-30, `unary ${op} special values`);
  }
});

test("native biasAct / biasActBackward agree with TS (rows 1, 7, 33, 300 × cols 1, 7, 1000; optional bias and gBias)", () => {
  if (!N) return;
  assert.ok(native!.supports("biasAct") && native!.supports("biasActBackward"), "the addon has the fused bias kernels");
  for (const op of ["gelu", "gelu_tanh", "relu", "silu"] as BiasActOp[])
    for (const [rows, cols] of [[1, 1], [1, 7], [1, 1000], [7, 1], [7, 7], [7, 1000], [33, 1], [33, 7], [33, 1000], [300, 1000], [300, 37]])
      for (const withBias of [true, false]) {
        const what = `${op} [${rows},${cols}]${withBias ? "" : " no bias"}`;
        const n = rows * cols;
        const x = uniform(n, -8, 8), b = withBias ? randn(cols) : null;
        const x1 = x.slice(), x2 = x.slice(), y1 = new Float32Array(n), y2 = new Float32Array(n);
        N.biasAct(op, x1, b, y1, rows, cols);
        ts.biasAct(op, x2, b, y2, rows, cols);
        assert.deepEqual(x1, x2, `biasAct ${what}: z = x + bias written back`);
        close(y1, y2, 2e-6, 1e-7, `biasAct ${what}`);
        // the fused activation is exactly the unary kernel's
        const y3 = new Float32Array(n);
        N.unary(op, x1, y3, 0);
        assert.deepEqual(y1, y3, `biasAct ${what}: same as unary`);
        const gy = randn(n), g1 = new Float32Array(n), g2 = new Float32Array(n);
        const gb0 = randn(cols), gb1 = gb0.slice(), gb2 = gb0.slice();
        N.biasActBackward(op, x1, gy, g1, gb1, rows, cols);
        ts.biasActBackward(op, x2, gy, g2, gb2, rows, cols);
        close(g1, g2, 1e-5, 1e-6, `biasActBackward ${what}`);
        close(gb1, gb2, 1e-5, 1e-5 * Math.sqrt(rows), `biasActBackward ${what}: gBias accumulated`);
        const g3 = new Float32Array(n);
        N.biasActBackward(op, x1, gy, g3, null, rows, cols);
        assert.deepEqual(g3, g1, `biasActBackward ${what}: without gBias`);
      }
  // special values (bias 0) against TS, out aliasing x
  const sp = Float32Array.from([NaN, Infinity, -Infinity, 0, -0, 100, -100, 1e-30]);
  for (const op of ["gelu", "gelu_tanh", "relu", "silu"] as BiasActOp[]) {
    const a = sp.slice(), t = sp.slice(), yt = new Float32Array(sp.length);
    N.biasAct(op, a, new Float32Array(sp.length), a, 1, sp.length);
    ts.biasAct(op, t, new Float32Array(sp.length), yt, 1, sp.length);
    close(a, yt, 2e-6, 1e-30, `biasAct ${op} special values (in place)`);
  }
});

function contiguousStrides(shape: number[]): number[] {
  const s = new Array(shape.length).fill(0);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

test("native binary agrees with TS: same shape, row/column/scalar broadcast, transposed (strided) operands", () => {
  if (!N) return;
  const ops: BinaryOp[] = ["add", "sub", "mul", "div", "pow", "max", "min"];
  const cases: { shape: number[]; as: number[]; bs: number[]; aLen: number; bLen: number }[] = [];
  for (const [r, c] of [[1, 1], [7, 33], [33, 1000], [1000, 7], [300, 301]]) {
    const full = contiguousStrides([r, c]);
    cases.push({ shape: [r, c], as: full, bs: full, aLen: r * c, bLen: r * c });
    cases.push({ shape: [r, c], as: full, bs: [0, 1], aLen: r * c, bLen: c }); // row broadcast (bias)
    cases.push({ shape: [r, c], as: full, bs: [1, 0], aLen: r * c, bLen: r }); // column broadcast
    cases.push({ shape: [r, c], as: [0, 0], bs: full, aLen: 1, bLen: r * c }); // scalar a
    cases.push({ shape: [r, c], as: [1, r], bs: full, aLen: r * c, bLen: r * c }); // a transposed
  }
  cases.push({ shape: [2, 3, 4, 5], as: [0, 20, 1, 4], bs: contiguousStrides([2, 3, 4, 5]), aLen: 60, bLen: 120 });
  // a head split ([B,T,H,D] read as [B,H,T,D]) big enough to run on several threads, rows split unevenly
  cases.push({ shape: [5, 9, 37, 64], as: [37 * 9 * 64, 64, 9 * 64, 1], bs: [0, 0, 0, 0], aLen: 5 * 37 * 9 * 64, bLen: 1 });
  cases.push({ shape: [3, 7, 11, 13, 17], as: [7 * 11 * 13 * 17, 1, 7, 7 * 11, 7 * 11 * 13], bs: contiguousStrides([3, 7, 11, 13, 17]), aLen: 3 * 7 * 11 * 13 * 17, bLen: 3 * 7 * 11 * 13 * 17 });
  // more dims than the native kernel takes (17): the TS kernel serves it
  cases.push({ shape: [...new Array(16).fill(1), 2, 3, 4], as: [...new Array(16).fill(24), 12, 4, 1], bs: [...new Array(16).fill(0), 0, 0, 1], aLen: 24, bLen: 4 });
  cases.push({ shape: [], as: [], bs: [], aLen: 1, bLen: 1 });
  for (const op of ops)
    for (const c of cases) {
      const a = op === "pow" ? uniform(c.aLen, 0.1, 3) : randn(c.aLen);
      const b = randn(c.bLen);
      if (op === "max" && c.aLen > 3) a[1] = NaN;
      const n = c.shape.reduce((x, y) => x * y, 1);
      const o1 = new Float32Array(n), o2 = new Float32Array(n);
      N.binary(op, a, b, o1, c.shape, c.as, c.bs);
      ts.binary(op, a, b, o2, c.shape, c.as, c.bs);
      close(o1, o2, 1e-6, 1e-7, `binary ${op} ${JSON.stringify(c.shape)} a${JSON.stringify(c.as)} b${JSON.stringify(c.bs)}`);
    }
});

test("native affine, sum and max agree with TS", () => {
  if (!N) return;
  for (const n of [1, 7, 1000, 70001]) {
    const x = randn(n), o1 = new Float32Array(n), o2 = new Float32Array(n);
    N.affine(x, o1, 0.37, -1.5);
    ts.affine(x, o2, 0.37, -1.5);
    close(o1, o2, 1e-6, 1e-7, `affine n=${n}`);
  }
  for (const [outer, n, inner] of [[1, 1, 1], [7, 33, 1], [1, 1000, 7], [33, 7, 1000], [3, 1, 5], [2, 5000, 3]]) {
    const x = randn(outer * n * inner);
    const s1 = new Float32Array(outer * inner), s2 = new Float32Array(outer * inner);
    N.sum(x, s1, outer, n, inner);
    ts.sum(x, s2, outer, n, inner);
    close(s1, s2, 1e-5, 1e-5 * Math.sqrt(n), `sum ${outer}x${n}x${inner}`);
    if (x.length > 10) x[5] = NaN;
    const m1 = new Float32Array(outer * inner), m2 = new Float32Array(outer * inner);
    const i1 = new Int32Array(outer * inner), i2 = new Int32Array(outer * inner);
    N.max(x, m1, i1, outer, n, inner);
    ts.max(x, m2, i2, outer, n, inner);
    close(m1, m2, 0, 0, `max ${outer}x${n}x${inner}`);
    assert.deepEqual(Array.from(i1), Array.from(i2), `argmax ${outer}x${n}x${inner}`);
  }
});

test("native softmax / logSoftmax and their backward agree with TS (incl. -inf entries and all -inf rows)", () => {
  if (!N) return;
  for (const [rows, cols] of [[1, 1], [7, 33], [33, 1000], [1000, 7], [96 * 4, 128]]) {
    const x = randn(rows * cols, 3);
    if (cols > 3) x[1] = -Infinity;
    if (rows > 2) for (let c = 0; c < cols; c++) x[cols + c] = -Infinity;
    const n = rows * cols;
    const y1 = new Float32Array(n), y2 = new Float32Array(n);
    N.softmax(x, y1, rows, cols);
    ts.softmax(x, y2, rows, cols);
    close(y1, y2, 1e-5, 1e-7, `softmax ${rows}x${cols}`);
    const gy = randn(n), g1 = new Float32Array(n), g2 = new Float32Array(n);
    N.softmaxBackward(y2, gy, g1, rows, cols);
    ts.softmaxBackward(y2, gy, g2, rows, cols);
    close(g1, g2, 1e-4, 1e-6, `softmaxBackward ${rows}x${cols}`);
    const finite = randn(n, 3);
    N.logSoftmax(finite, y1, rows, cols);
    ts.logSoftmax(finite, y2, rows, cols);
    close(y1, y2, 1e-5, 1e-5, `logSoftmax ${rows}x${cols}`);
    N.logSoftmaxBackward(y2, gy, g1, rows, cols);
    ts.logSoftmaxBackward(y2, gy, g2, rows, cols);
    close(g1, g2, 1e-4, 1e-5, `logSoftmaxBackward ${rows}x${cols}`);
  }
});

test("native layerNorm / rmsNorm and their backward agree with TS (with and without affine params)", () => {
  if (!N) return;
  for (const [rows, cols] of [[1, 1], [7, 33], [33, 1000], [1000, 7], [1024, 768]])
    for (const affine of [true, false]) {
      const n = rows * cols;
      const x = randn(n, 2);
      for (let i = 0; i < x.length; i++) x[i] += 3; // a non-zero mean exercises the centring
      const w = affine ? randn(cols) : null, b = affine ? randn(cols) : null;
      const o1 = new Float32Array(n), o2 = new Float32Array(n);
      const mu1 = new Float32Array(rows), mu2 = new Float32Array(rows), r1 = new Float32Array(rows), r2 = new Float32Array(rows);
      N.layerNorm(x, w, b, o1, mu1, r1, rows, cols, 1e-5);
      ts.layerNorm(x, w, b, o2, mu2, r2, rows, cols, 1e-5);
      close(o1, o2, 1e-4, 1e-5, `layerNorm ${rows}x${cols}`);
      close(mu1, mu2, 1e-5, 1e-5, `layerNorm mean ${rows}x${cols}`);
      close(r1, r2, 1e-4, 1e-6, `layerNorm rstd ${rows}x${cols}`);
      const gy = randn(n);
      const gx1 = new Float32Array(n), gx2 = new Float32Array(n);
      const gw1 = affine ? randn(cols) : null, gw2 = gw1 ? gw1.slice() : null;
      const gb1 = affine ? randn(cols) : null, gb2 = gb1 ? gb1.slice() : null;
      N.layerNormBackward(x, w, mu2, r2, gy, gx1, gw1, gb1, rows, cols);
      ts.layerNormBackward(x, w, mu2, r2, gy, gx2, gw2, gb2, rows, cols);
      close(gx1, gx2, 1e-4, 1e-4, `layerNormBackward gx ${rows}x${cols}`);
      if (gw1) close(gw1, gw2!, 1e-4, 1e-4 * Math.sqrt(rows), `layerNormBackward gw ${rows}x${cols}`);
      if (gb1) close(gb1, gb2!, 1e-4, 1e-4 * Math.sqrt(rows), `layerNormBackward gb ${rows}x${cols}`);

      N.rmsNorm(x, w, o1, r1, rows, cols, 1e-6);
      ts.rmsNorm(x, w, o2, r2, rows, cols, 1e-6);
      close(o1, o2, 1e-5, 1e-6, `rmsNorm ${rows}x${cols}`);
      close(r1, r2, 1e-5, 1e-7, `rmsNorm rstd ${rows}x${cols}`);
      N.rmsNormBackward(x, w, r2, gy, gx1, gw1, rows, cols);
      ts.rmsNormBackward(x, w, r2, gy, gx2, gw2, rows, cols);
      close(gx1, gx2, 1e-4, 1e-5, `rmsNormBackward gx ${rows}x${cols}`);
      if (gw1) close(gw1, gw2!, 1e-4, 1e-4 * Math.sqrt(rows), `rmsNormBackward gw ${rows}x${cols}`);
    }
});

test("native crossEntropy and backward agree with TS (ignore index, label smoothing)", () => {
  if (!N) return;
  for (const [rows, cols] of [[1, 1], [7, 33], [33, 1000], [1000, 7], [64, 32000]])
    for (const smoothing of [0, 0.1]) {
      const logits = randn(rows * cols, 4);
      const labels = Int32Array.from({ length: rows }, (_, i) => (i % 5 === 3 ? -100 : rng.randint(cols)));
      const l1 = new Float32Array(rows), l2 = new Float32Array(rows);
      const s1 = new Float32Array(rows), s2 = new Float32Array(rows);
      N.crossEntropy(logits, labels, l1, s1, rows, cols, -100, smoothing);
      ts.crossEntropy(logits, labels, l2, s2, rows, cols, -100, smoothing);
      close(l1, l2, 1e-5, 1e-5, `crossEntropy loss ${rows}x${cols} ε=${smoothing}`);
      close(s1, s2, 1e-5, 1e-5, `crossEntropy lse ${rows}x${cols}`);
      const gl = randn(rows), g1 = new Float32Array(rows * cols).fill(7), g2 = new Float32Array(rows * cols).fill(7);
      N.crossEntropyBackward(logits, s2, labels, gl, g1, rows, cols, -100, smoothing);
      ts.crossEntropyBackward(logits, s2, labels, gl, g2, rows, cols, -100, smoothing);
      close(g1, g2, 1e-5, 1e-6, `crossEntropyBackward ${rows}x${cols} ε=${smoothing}`);
    }
});

test("native siluMul and backward agree with TS", () => {
  if (!N) return;
  for (const n of [1, 7, 33, 1000, 40000]) {
    const g = randn(n, 4), u = randn(n, 2), gy = randn(n, 1);
    const o1 = new Float32Array(n), o2 = new Float32Array(n);
    N.siluMul(g, u, o1);
    ts.siluMul(g, u, o2);
    close(o1, o2, 1e-5, 1e-6, `siluMul n=${n}`);
    const a1 = new Float32Array(n).fill(7), b1 = new Float32Array(n).fill(7), a2 = new Float32Array(n), b2 = new Float32Array(n);
    N.siluMulBackward(g, u, gy, a1, b1);
    ts.siluMulBackward(g, u, gy, a2, b2);
    close(a1, a2, 1e-5, 1e-6, `siluMulBackward gGate n=${n}`);
    close(b1, b2, 1e-5, 1e-6, `siluMulBackward gUp n=${n}`);
  }
});

test("native attention and backward agree with TS (GQA, causal, key mask, Tq ≠ Tk, odd sizes)", () => {
  if (!N) return;
  const cases: (AttentionParams & { masked: boolean })[] = [
    { batch: 1, heads: 1, kvHeads: 1, tq: 1, tk: 1, headDim: 1, scale: 1, causal: false, masked: false },
    { batch: 2, heads: 4, kvHeads: 4, tq: 7, tk: 7, headDim: 33, scale: 1 / Math.sqrt(33), causal: false, masked: true },
    { batch: 2, heads: 6, kvHeads: 2, tq: 33, tk: 33, headDim: 8, scale: 0.35, causal: true, masked: false },
    { batch: 1, heads: 4, kvHeads: 1, tq: 1, tk: 37, headDim: 16, scale: 0.25, causal: true, masked: true },
    { batch: 3, heads: 2, kvHeads: 1, tq: 5, tk: 12, headDim: 7, scale: 0.5, causal: true, masked: true },
    { batch: 2, heads: 2, kvHeads: 2, tq: 7, tk: 5, headDim: 3, scale: 0.5, causal: true, masked: true }, // early queries see no key
    { batch: 2, heads: 12, kvHeads: 12, tq: 64, tk: 64, headDim: 64, scale: 0.125, causal: false, masked: true },
  ];
  for (const c of cases) {
    const { masked, ...p } = c;
    const nq = p.batch * p.heads * p.tq * p.headDim, nk = p.batch * p.kvHeads * p.tk * p.headDim, np = p.batch * p.heads * p.tq * p.tk;
    const q = randn(nq), k = randn(nk), v = randn(nk);
    let mask: Float32Array | null = null;
    if (masked) {
      mask = new Float32Array(p.batch * p.tk);
      // drop the last keys of each sequence (padding), and every key of one sequence if batch > 2
      for (let b = 0; b < p.batch; b++) for (let j = 0; j < p.tk; j++) if (j >= p.tk - b || b === 2) mask[b * p.tk + j] = -3.4028234663852886e38;
    }
    const o1 = new Float32Array(nq), o2 = new Float32Array(nq), p1 = new Float32Array(np), p2 = new Float32Array(np);
    N.attention(q, k, v, mask, o1, p1, p);
    ts.attention(q, k, v, mask, o2, p2, p);
    const what = JSON.stringify(c);
    close(p1, p2, 1e-4, 1e-6, `attention probs ${what}`);
    close(o1, o2, 1e-4, 1e-5, `attention out ${what}`);
    const go = randn(nq);
    const gq1 = new Float32Array(nq), gq2 = new Float32Array(nq);
    const gk1 = new Float32Array(nk).fill(9), gk2 = new Float32Array(nk), gv1 = new Float32Array(nk).fill(9), gv2 = new Float32Array(nk);
    N.attentionBackward(q, k, v, p2, go, gq1, gk1, gv1, p);
    ts.attentionBackward(q, k, v, p2, go, gq2, gk2, gv2, p);
    close(gq1, gq2, 1e-4, 1e-5, `attention gq ${what}`);
    close(gk1, gk2, 1e-4, 1e-5, `attention gk ${what}`);
    close(gv1, gv2, 1e-4, 1e-5, `attention gv ${what}`);
  }
});

test("native attention with an attention-dropout buffer agrees with TS (forward, backward, GQA, masks)", () => {
  if (!N) return;
  const cases: (AttentionParams & { masked: boolean; p: number })[] = [
    { batch: 1, heads: 1, kvHeads: 1, tq: 1, tk: 1, headDim: 1, scale: 1, causal: false, masked: false, p: 0.5 },
    { batch: 2, heads: 4, kvHeads: 2, tq: 7, tk: 9, headDim: 5, scale: 0.4, causal: true, masked: true, p: 0.3 },
    { batch: 3, heads: 6, kvHeads: 6, tq: 33, tk: 33, headDim: 16, scale: 0.25, causal: false, masked: true, p: 0.1 },
    { batch: 2, heads: 8, kvHeads: 8, tq: 64, tk: 64, headDim: 64, scale: 0.125, causal: false, masked: true, p: 0.1 },
    { batch: 1, heads: 2, kvHeads: 1, tq: 5, tk: 5, headDim: 4, scale: 0.5, causal: true, masked: false, p: 1 },
  ];
  for (const c of cases) {
    const { masked, p: dp, ...p } = c;
    const nq = p.batch * p.heads * p.tq * p.headDim, nk = p.batch * p.kvHeads * p.tk * p.headDim, np = p.batch * p.heads * p.tq * p.tk;
    const q = randn(nq), k = randn(nk), v = randn(nk);
    let mask: Float32Array | null = null;
    if (masked) {
      mask = new Float32Array(p.batch * p.tk);
      for (let b = 0; b < p.batch; b++) for (let j = 0; j < p.tk; j++) if (j >= p.tk - b) mask[b * p.tk + j] = -3.4028234663852886e38;
    }
    const drop = new Float32Array(np);
    ts.dropoutMask(new Uint32Array([np, 2, 3, 4]), drop, dp, dp === 1 ? 0 : 1 / (1 - dp));
    const o1 = new Float32Array(nq), o2 = new Float32Array(nq), p1 = new Float32Array(np), p2 = new Float32Array(np);
    N.attention(q, k, v, mask, o1, p1, p, drop);
    ts.attention(q, k, v, mask, o2, p2, p, drop);
    const what = JSON.stringify(c);
    close(p1, p2, 1e-4, 1e-6, `attention+dropout probs ${what}`);
    close(o1, o2, 1e-4, 1e-5, `attention+dropout out ${what}`);
    // probs stay pre-dropout: same as without the buffer
    const p3 = new Float32Array(np), o3 = new Float32Array(nq);
    N.attention(q, k, v, mask, o3, p3, p);
    close(p3, p1, 0, 0, `probs without dropout ${what}`);
    // out = null: the same probabilities only (how the backward recomputes them), on both backends
    for (const [K, ref, name] of [[N, p1, "native"], [ts, p2, "ts"]] as const) {
      const pOnly = new Float32Array(np).fill(7);
      K.attention(q, k, v, mask, null, pOnly, p, drop);
      close(pOnly, ref, 0, 0, `${name} probabilities-only attention ${what}`);
    }
    if (dp === 1) assert.ok(o1.every((x) => x === 0), "p = 1 zeroes the output");
    const go = randn(nq);
    const gq1 = new Float32Array(nq), gq2 = new Float32Array(nq);
    const gk1 = new Float32Array(nk).fill(9), gk2 = new Float32Array(nk), gv1 = new Float32Array(nk).fill(9), gv2 = new Float32Array(nk);
    N.attentionBackward(q, k, v, p2, go, gq1, gk1, gv1, p, drop);
    ts.attentionBackward(q, k, v, p2, go, gq2, gk2, gv2, p, drop);
    close(gq1, gq2, 1e-4, 1e-5, `attention+dropout gq ${what}`);
    close(gk1, gk2, 1e-4, 1e-5, `attention+dropout gk ${what}`);
    close(gv1, gv2, 1e-4, 1e-5, `attention+dropout gv ${what}`);
    // a drop buffer of ones is the plain kernel
    const ones = new Float32Array(np).fill(1), o4 = new Float32Array(nq), gq4 = new Float32Array(nq), gk4 = new Float32Array(nk), gv4 = new Float32Array(nk);
    const gq5 = new Float32Array(nq), gk5 = new Float32Array(nk), gv5 = new Float32Array(nk);
    N.attention(q, k, v, mask, o4, new Float32Array(np), p, ones);
    // (up to GEMM rounding: the product reads a different buffer)
    close(o4, o3, 1e-5, 1e-6, `drop of ones ${what}`);
    N.attentionBackward(q, k, v, p2, go, gq4, gk4, gv4, p, ones);
    N.attentionBackward(q, k, v, p2, go, gq5, gk5, gv5, p, null);
    close(gq4, gq5, 1e-5, 1e-6, `drop of ones gq ${what}`);
    close(gk4, gk5, 1e-5, 1e-6, `drop of ones gk ${what}`);
    close(gv4, gv5, 1e-5, 1e-6, `drop of ones gv ${what}`);
  }
  // a drop buffer too short is rejected
  const p: AttentionParams = { batch: 1, heads: 1, kvHeads: 1, tq: 2, tk: 2, headDim: 2, scale: 1, causal: false };
  assert.throws(() => N.attention(new Float32Array(4), new Float32Array(4), new Float32Array(4), null, new Float32Array(4), new Float32Array(4), p, new Float32Array(3)), RangeError);
});

test("native embedding / embeddingBackward agree with TS (repeated ids accumulate)", () => {
  if (!N) return;
  for (const [vocab, dim, count] of [[1, 1, 1], [7, 33, 20], [1000, 7, 33], [50, 768, 4096]]) {
    const w = randn(vocab * dim);
    const ids = Int32Array.from({ length: count }, (_, i) => (i % 3 === 0 ? 0 : rng.randint(vocab)));
    const o1 = new Float32Array(count * dim), o2 = new Float32Array(count * dim);
    N.embedding(w, ids, o1, dim);
    ts.embedding(w, ids, o2, dim);
    close(o1, o2, 0, 0, `embedding ${vocab}x${dim}`);
    const g = randn(count * dim), gw1 = randn(vocab * dim), gw2 = gw1.slice();
    N.embeddingBackward(g, ids, gw1, dim);
    ts.embeddingBackward(g, ids, gw2, dim);
    close(gw1, gw2, 1e-5, 1e-5, `embeddingBackward ${vocab}x${dim}`);
  }
});

test("native rotary agrees with TS: forward bit for bit, inverse (backward) closely; strided views and per-batch tables", () => {
  if (!N) return;
  for (const [B, H, T, D, perBatch, transposed] of [
    [1, 1, 1, 2, false, false], [2, 3, 7, 8, false, true], [3, 2, 5, 16, true, true], [4, 4, 50, 32, false, true], [2, 1, 33, 6, true, false],
  ] as [number, number, number, number, boolean, boolean][]) {
    const n = B * H * T * D;
    // x stored [B,T,H,D] and viewed [B,H,T,D] (the heads transpose of a projection), or contiguous
    const st = transposed ? { strideB: T * H * D, strideH: D, strideT: H * D } : { strideB: H * T * D, strideH: T * D, strideT: D };
    const p = { batch: B, heads: H, seq: T, headDim: D, perBatch, ...st };
    const x = randn(n, 3);
    const tab = (perBatch ? B : 1) * T * D;
    const cos = uniform(tab, -1, 1), sin = uniform(tab, -1, 1);
    const o1 = new Float32Array(n), o2 = new Float32Array(n);
    N.rotary(x, cos, sin, o1, p, false);
    ts.rotary(x, cos, sin, o2, p, false);
    close(o1, o2, 0, 0, `rotary ${JSON.stringify(p)}`);
    const g = randn(n), contig = { ...p, strideB: H * T * D, strideH: T * D, strideT: D };
    const g1 = new Float32Array(n), g2 = new Float32Array(n);
    N.rotary(g, cos, sin, g1, contig, true);
    ts.rotary(g, cos, sin, g2, contig, true);
    close(g1, g2, 1e-6, 1e-6, `rotary inverse ${JSON.stringify(p)}`);
  }
  // a buffer too short for the described view is rejected
  assert.throws(() => N.rotary(new Float32Array(7), new Float32Array(8), new Float32Array(8), new Float32Array(8),
    { batch: 1, heads: 1, seq: 1, headDim: 8, strideB: 8, strideH: 8, strideT: 8, perBatch: false }, false), RangeError);
});

/** lowbias32 in BigInt arithmetic (an independent re-implementation of the kernel's hash). */
function lowbias32Big(x: bigint): bigint {
  const M = 0xffffffffn;
  x &= M;
  x ^= x >> 16n;
  x = (x * 0x7feb352dn) & M;
  x ^= x >> 15n;
  x = (x * 0x846ca68bn) & M;
  x ^= x >> 16n;
  return x;
}

test("native dropoutMask/dropoutApply: counter-based mask bit-identical to TS, two Rng draws, binomial drop rate, fused apply = x ⊙ mask", () => {
  const kernels: [string, KernelSet][] = N ? [["native", N], ["ts", ts]] : [["ts", ts]];
  for (const [n, p] of [[1, 0.5], [7, 0.1], [1000, 0.9], [100003, 0.25], [1 << 20, 0.1], [33, 0], [33, 1], [0, 0.5]] as [number, number][]) {
    const keep = p === 1 ? 0 : 1 / (1 - p);
    const seed = n + 17;
    const ref = new Rng(seed);
    const k0 = ref.nextU32(), k1 = ref.nextU32();
    let first: Float32Array | null = null;
    for (const [name, K] of kernels) {
      const st = new Uint32Array((new Rng(seed) as any).s);
      const m = new Float32Array(n).fill(NaN);
      K.dropoutMask(st, m, p, keep);
      // the state advanced by exactly two draws, whatever n
      assert.deepEqual(Array.from(st), Array.from((ref as any).s), `${name}: state after two draws (n=${n})`);
      if (first) close(m, first, 0, 0, `dropoutMask native vs TS n=${n} p=${p}`);
      else first = m;
      // dropoutApply: the same draws and multipliers applied to x in one pass (also in place)
      const x = new Float32Array(n).map((_, i) => ((i * 7919) % 201) / 50 - 2);
      const y = new Float32Array(n).fill(NaN), st2 = new Uint32Array((new Rng(seed) as any).s);
      K.dropoutApply(st2, x, y, p, keep);
      assert.deepEqual(Array.from(st2), Array.from(st), `${name}: dropoutApply advances the state as dropoutMask`);
      close(y, x.map((v, i) => v * m[i]), 0, 0, `${name}: dropoutApply = x ⊙ mask n=${n} p=${p}`);
      const inPlace = x.slice();
      K.dropoutApply(new Uint32Array((new Rng(seed) as any).s), inPlace, inPlace, p, keep);
      close(inPlace, y, 0, 0, `${name}: dropoutApply in place n=${n} p=${p}`);
      let zeros = 0;
      for (const x of m) {
        if (x === 0) zeros++;
        else assert.equal(x, Math.fround(keep), `${name}: survivor multiplier`);
      }
      if (p === 0) assert.equal(zeros, 0);
      else if (p === 1) assert.equal(zeros, n);
      else {
        const sd = Math.sqrt(n * p * (1 - p));
        assert.ok(Math.abs(zeros - n * p) <= 6 * sd + 1, `${name}: ${zeros} of ${n} dropped at p=${p}`);
      }
      // a few indices against the hash computed independently
      for (const i of [0, 1, 2, n >> 1, n - 1].filter((i) => i >= 0 && i < n)) {
        const h = lowbias32Big(lowbias32Big(BigInt(i) + BigInt(k0)) ^ BigInt(k1));
        const dropped = h < BigInt(Math.ceil(p * 2 ** 32)) || p >= 1;
        assert.equal(m[i], dropped ? 0 : Math.fround(keep), `${name}: element ${i} (n=${n}, p=${p})`);
      }
    }
  }
  // the exact rule at the threshold: h < p·2³² drops, h = p·2³² keeps
  const st = new Uint32Array([1, 2, 3, 4]);
  const probe = new Rng(0);
  (probe as any).s.set(st);
  const k0 = probe.nextU32(), k1 = probe.nextU32();
  const h0 = Number(lowbias32Big(lowbias32Big(BigInt(k0)) ^ BigInt(k1)));
  for (const [name, K] of kernels) {
    for (const [pp, want] of [[h0 / 2 ** 32, 1], [(h0 + 1) / 2 ** 32, 0]] as [number, number][]) {
      const m = new Float32Array(1);
      K.dropoutMask(st.slice(), m, pp, 1);
      assert.equal(m[0], want, `${name}: threshold p=${pp}·2³² vs h=${h0}`);
    }
  }
});

test("native adamw matches the TS (PyTorch-order) update bit for bit over several steps", () => {
  if (!N) return;
  for (const n of [1, 7, 33, 1000, 50001])
    for (const [beta1, weightDecay] of [[0.9, 0.01], [0.3, 0], [0.5, 0.1]]) {
      const p1 = randn(n), g = randn(n), m1 = randn(n, 0.1), v1 = uniform(n, 0, 0.01);
      const p2 = p1.slice(), m2 = m1.slice(), v2 = v1.slice();
      for (let step = 1; step <= 3; step++) {
        const hp = { lr: 1e-3 * step, beta1, beta2: 0.999, eps: 1e-8, weightDecay, step };
        N.adamw(p1, g, m1, v1, hp);
        ts.adamw(p2, g, m2, v2, hp);
      }
      close(p1, p2, 0, 0, `adamw p n=${n}`);
      close(m1, m2, 0, 0, `adamw m n=${n}`);
      close(v1, v2, 0, 0, `adamw v n=${n}`);
    }
});

test("native bf16 conversions match TS exactly (round to nearest even, NaN, inf, subnormals)", () => {
  if (!N) return;
  const special = Float32Array.from([0, -0, 1, -1, Infinity, -Infinity, NaN, 1.00390625, 1.01171875, 3.4e38, -3.4e38, 1e-40, -1e-45, 65504, 1 + 2 ** -8, 1 + 3 * 2 ** -8]);
  for (const x of [special, randn(100003, 100)]) {
    const b1 = new Uint16Array(x.length), b2 = new Uint16Array(x.length);
    N.f32ToBf16(x, b1);
    ts.f32ToBf16(x, b2);
    assert.deepEqual(Array.from(b1), Array.from(b2), "f32ToBf16");
    const f1 = new Float32Array(x.length), f2 = new Float32Array(x.length);
    N.bf16ToF32(b2, f1);
    ts.bf16ToF32(b2, f2);
    close(f1, f2, 0, 0, "bf16ToF32");
  }
});

test("bf16 GEMM by default: the CPU's bf16 kernels where it has them (AVX512_BF16/AMX), widening elsewhere", () => {
  if (!N) return;
  const addon = nativeAddon()!;
  if (process.env.PEFT_TS_BF16_GEMM !== undefined) {
    console.log(`# PEFT_TS_BF16_GEMM=${process.env.PEFT_TS_BF16_GEMM} is set: the default mode is not checked in this run`);
    return;
  }
  addon.setBf16Gemm("default");
  const info = addon.info();
  assert.equal(info.bf16Gemm, info.onednn && info.bf16Hardware ? "onednn" : "widen", JSON.stringify(info));
  assert.equal(N.bf16RoundsInputs(), info.bf16Gemm === "onednn");
  console.log(`# bf16 GEMM default on this CPU: ${info.bf16Gemm} (bf16 hardware: ${info.bf16Hardware})`);
});

test("native matmulBf16 on oneDNN's bf16 kernels equals the f32 product of bf16-rounded activations and the bf16 weight", () => {
  if (!N) return;
  const addon = nativeAddon()!;
  if (!addon.info().onednn) return;
  const toBf16 = (x: Float32Array) => Uint16Array.from(x, (v) => f32ToBf16Bits(v));
  // Forcing "onednn" runs the AVX512_BF16 path where the CPU has it; elsewhere oneDNN has no bf16
  // matmul and the addon falls back to widening, which must still be right.
  addon.setBf16Gemm("onednn");
  try {
    const rounds = addon.info().bf16Gemm === "onednn";
    console.log(`# bf16 kernels ${rounds ? "ran" : "are not available on this CPU (widening ran)"}`);
    for (const [batch, m, n, k] of [[1, 7, 33, 1000], [1, 64, 96, 80], [2, 33, 7, 5]])
      for (const transA of [false, true]) for (const transB of [false, true]) {
        const p: MatmulParams = { batch, m, n, k, transA, transB, strideA: m * k, strideB: 0, strideOut: m * n, accumulate: false };
        const a = randn(batch * m * k), b = toBf16(randn(k * n));
        // the reference: bf16 × bf16 products are exact in f32, so only the summation order differs
        const aRef = rounds ? Float32Array.from(a, (v) => bf16BitsToF32(f32ToBf16Bits(v))) : a;
        const o1 = new Float32Array(batch * m * n), o2 = new Float32Array(batch * m * n);
        N.matmulBf16(a, b, o1, p);
        ts.matmulBf16(aRef, b, o2, p);
        close(o1, o2, 1e-4, 2e-5 * Math.sqrt(k) * Math.max(1, maxAbs(o2)), `matmulBf16 (onednn) ${JSON.stringify(p)}`);
        if (rounds && k >= 80) {
          // and it is not the widened product: the rounding of the activations shows
          const wide = new Float32Array(batch * m * n);
          ts.matmulBf16(a, b, wide, p);
          assert.ok(o1.some((v, i) => Math.abs(v - wide[i]) > 1e-4 * Math.max(1, Math.abs(wide[i]))), "activations were not rounded");
        }
      }
  } finally {
    addon.setBf16Gemm("default");
  }
});

test("native kernels give the same answers on one thread as on all threads", () => {
  if (!N) return;
  const addon = nativeAddon()!;
  const all = addon.numThreads();
  const rows = 300, cols = 257;
  const x = randn(rows * cols), gy = randn(rows * cols), w = randn(cols);
  const run = () => {
    const mu = new Float32Array(rows), rs = new Float32Array(rows), y = new Float32Array(rows * cols);
    N.layerNorm(x, w, null, y, mu, rs, rows, cols, 1e-5);
    const gx = new Float32Array(rows * cols), gw = new Float32Array(cols), gb = new Float32Array(cols);
    N.layerNormBackward(x, w, mu, rs, gy, gx, gw, gb, rows, cols);
    const g = new Float32Array(rows * cols);
    N.unary("gelu", x, g, 0);
    return [y, gx, gw, gb, g];
  };
  const multi = run();
  addon.setNumThreads(1);
  try {
    assert.equal(N.numThreads(), 1);
    const single = run();
    multi.forEach((m, i) => close(m, single[i], 1e-5, 1e-5, `output ${i} with 1 vs ${all} threads`));
  } finally {
    addon.setNumThreads(all);
  }
});

test("the addon keeps large freed blocks in glibc's heap unless PEFT_TS_MALLOC=default or GLIBC_TUNABLES says otherwise", async () => {
  const addon = nativeAddon();
  if (!addon) return assert.ok(nativeUnavailableReason().length > 0);
  const { spawnSync } = await import("node:child_process");
  const { existsSync } = await import("node:fs");
  const glibc = process.report?.getReport ? Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime) : false;
  const path = process.env.PEFT_TS_NATIVE_ADDON ?? addonCandidates().find((p) => existsSync(p))!;
  const probe = (env: NodeJS.ProcessEnv) => {
    const r = spawnSync(process.execPath, ["-e", `console.log(JSON.stringify(require(${JSON.stringify(path)}).info().mallocTuned))`], { env: { ...process.env, ...env }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim());
  };
  const base = { PEFT_TS_MALLOC: "", GLIBC_TUNABLES: "" };
  assert.equal(probe(base), glibc, "tuned exactly on glibc");
  assert.equal(probe({ ...base, PEFT_TS_MALLOC: "default" }), false);
  assert.equal(probe({ ...base, GLIBC_TUNABLES: "glibc.malloc.trim_threshold=1000000" }), false);
});
