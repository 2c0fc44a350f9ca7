// Shared by the wasm backend tests (wasm.test.ts, wasm_threads.test.ts) and the relaxed-SIMD child
// (wasm_relaxed_check.ts): an elementwise closeness check, and one pass over every kernel the worker
// pool splits, at shapes big enough to be split, comparing a threaded backend with a one-thread one.
import assert from "node:assert/strict";
import type { AttentionParams, FullBackend, MatmulParams } from "../../src/backend/backend.js";
import { tsBackend } from "../../src/backend/ts/index.js";
import { Rng } from "../../src/tensor/random.js";

/** |x − ref| ≤ atol + rtol·|ref| elementwise (NaNs must match); names the worst element. */
export function close(x: ArrayLike<number>, ref: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assert.equal(x.length, ref.length, `${what}: length`);
  let worst = -1, worstErr = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = x[i], r = ref[i];
    if (Number.isNaN(r) || Number.isNaN(a)) {
      assert.ok(Number.isNaN(r) && Number.isNaN(a), `${what}[${i}]: ${a} vs reference ${r}`);
      continue;
    }
    if (a === r) continue;
    const err = Math.abs(a - r) - (atol + rtol * Math.abs(r));
    if (err > worstErr || Number.isNaN(err)) { worstErr = err; worst = i; }
  }
  assert.ok(worst < 0, `${what}: element ${worst} is ${x[worst]}, reference ${ref[worst]} (rtol ${rtol}, atol ${atol})`);
}
export const maxAbs = (x: ArrayLike<number>) => { let m = 0; for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i])); return m; };

/** The GEMM shapes the pool splits: by columns, by rows (n = 8: a LoRA A product), by batch item; odd sizes. */
export const SPLIT_GEMMS: MatmulParams[] = [
  { batch: 1, m: 130, n: 515, k: 257, transA: false, transB: true, strideA: 0, strideB: 0, strideOut: 0, accumulate: false },
  { batch: 1, m: 130, n: 515, k: 257, transA: true, transB: false, strideA: 0, strideB: 0, strideOut: 0, accumulate: true },
  { batch: 1, m: 1027, n: 8, k: 768, transA: false, transB: true, strideA: 0, strideB: 0, strideOut: 0, accumulate: false },
  { batch: 1, m: 67, n: 9, k: 2049, transA: true, transB: true, strideA: 0, strideB: 0, strideOut: 0, accumulate: false },
  { batch: 5, m: 33, n: 65, k: 129, transA: false, transB: false, strideA: 33 * 129 + 1, strideB: 0, strideOut: 33 * 65 + 2, accumulate: false },
];

/**
 * Runs every kernel the pool splits on `many` (threads) and `one` (one thread) with the same inputs and
 * asserts the outputs are bit-identical (each output element is computed by the same operations in the
 * same order whatever the split). Returns the number of calls compared.
 */
export function assertThreadedEqualsOneThread(one: FullBackend, many: FullBackend, seed = 99): number {
  const rng = new Rng(seed);
  const randn = (n: number, s = 1) => rng.fillNormal(new Float32Array(n), 0, s);
  let calls = 0;
  /** Runs fn(backend, outputs) on both backends, each on fresh copies of `outs`, and compares. */
  const same = (what: string, outs: Float32Array[], fn: (be: FullBackend, o: Float32Array[]) => void) => {
    const o1 = outs.map((o) => o.slice()), o2 = outs.map((o) => o.slice());
    fn(one, o1);
    fn(many, o2);
    o1.forEach((o, i) => assert.deepEqual(o2[i], o, `${what}: output ${i} differs between ${many.numThreads()} threads and 1`));
    calls++;
  };
  for (const p of SPLIT_GEMMS) {
    const a = randn(p.strideA * (p.batch - 1) + p.m * p.k), b = randn(p.strideB * (p.batch - 1) + p.k * p.n);
    same(`matmul ${JSON.stringify(p)}`, [randn(p.strideOut * (p.batch - 1) + p.m * p.n)], (be, [o]) => be.matmul(a, b, o, p));
  }
  const rows = 301, cols = 203, n = rows * cols, x = randn(n, 3), gy = randn(n), w = randn(cols), bias = randn(cols);
  const row = () => [new Float32Array(rows)];
  same("softmax", [new Float32Array(n)], (be, [o]) => be.softmax(x, o, rows, cols));
  same("softmaxBackward", [new Float32Array(n)], (be, [o]) => be.softmaxBackward(x, gy, o, rows, cols));
  same("logSoftmax", [new Float32Array(n)], (be, [o]) => be.logSoftmax(x, o, rows, cols));
  same("logSoftmaxBackward", [new Float32Array(n)], (be, [o]) => be.logSoftmaxBackward(x, gy, o, rows, cols));
  same("layerNorm", [new Float32Array(n), ...row(), ...row()], (be, [o, m, r]) => be.layerNorm(x, w, bias, o, m, r, rows, cols, 1e-5));
  same("rmsNorm", [new Float32Array(n), ...row()], (be, [o, r]) => be.rmsNorm(x, w, o, r, rows, cols, 1e-6));
  const labels = Int32Array.from({ length: rows }, (_, i) => (i % 7 === 3 ? -100 : rng.randint(cols)));
  same("crossEntropy", [...row(), ...row()], (be, [l, s]) => be.crossEntropy(x, labels, l, s, rows, cols, -100, 0.1));
  const lse = new Float32Array(rows), loss = new Float32Array(rows);
  tsBackend.crossEntropy(x, labels, loss, lse, rows, cols, -100, 0.1);
  const gLoss = randn(rows);
  same("crossEntropyBackward", [new Float32Array(n)], (be, [g]) => be.crossEntropyBackward(x, lse, labels, gLoss, g, rows, cols, -100, 0.1));
  for (const op of ["gelu", "silu"] as const) {
    same(`unary ${op}`, [new Float32Array(n)], (be, [o]) => be.unary(op, x, o, 0));
    same(`unaryBackward ${op}`, [new Float32Array(n)], (be, [g]) => be.unaryBackward(op, x, x, gy, g, 0));
    same(`biasAct ${op}`, [x.slice(), new Float32Array(n)], (be, [z, o]) => be.biasAct(op, z, bias, o, rows, cols));
    same(`biasActBackward ${op}`, [new Float32Array(n), bias.slice()], (be, [g, gb]) => be.biasActBackward(op, x, gy, g, gb, rows, cols));
  }
  same("siluMul", [new Float32Array(n)], (be, [o]) => be.siluMul(x, gy, o));
  same("siluMulBackward", [new Float32Array(n), new Float32Array(n)], (be, [a, b]) => be.siluMulBackward(x, gy, x, a, b));
  const pn = 100003, g = randn(pn);
  same("adamw", [randn(pn), randn(pn, 0.1), randn(pn, 0.1).map(Math.abs)], (be, [p, m, v]) => {
    for (let step = 1; step <= 2; step++) be.adamw(p, g, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step });
  });
  const ap: AttentionParams = { batch: 2, heads: 6, kvHeads: 2, tq: 65, tk: 65, headDim: 32, scale: 0.18, causal: true };
  const nq = 2 * 6 * 65 * 32, nk = 2 * 2 * 65 * 32, np = 2 * 6 * 65 * 65;
  const q = randn(nq), k = randn(nk), v = randn(nk), mask = new Float32Array(2 * 65);
  mask.fill(-3.4028234663852886e38, 60, 65);
  const drop = new Float32Array(np);
  tsBackend.dropoutMask(new Uint32Array([np, 5, 6, 7]), drop, 0.1, 1 / 0.9);
  same("attention", [new Float32Array(nq), new Float32Array(np)], (be, [o, p]) => be.attention(q, k, v, mask, o, p, ap, drop));
  const probs = new Float32Array(np), gOut = randn(nq);
  tsBackend.attention(q, k, v, mask, null, probs, ap);
  same("attentionBackward", [new Float32Array(nq), new Float32Array(nk), new Float32Array(nk)],
    (be, [gq, gk, gv]) => be.attentionBackward(q, k, v, probs, gOut, gq, gk, gv, ap, drop));
  return calls;
}
