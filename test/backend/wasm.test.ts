// The wasm SIMD backend against the TS reference: every kernel it implements on odd shapes (1, 7, 33,
// 65: not multiples of the 4-lane SIMD width, of the 4×8 micro-kernel or of the 64/256/512 blocks),
// transposed, batched and broadcast GEMM operands; gradient checks through ops running on it; a
// 10-step LoRA run of bert-tiny-random that replays PEFT's losses and the TS backend's within 1e-5;
// and the committed wasm/peft_kernels*.wasm builds against a fresh build of wasm/src when clang ≥ 16 is
// installed. W is the backend PEFT_TS_BACKEND=wasm gives (PEFT_TS_WASM_THREADS or every core; the
// big calls run on its worker pool: wasm_threads.test.ts checks them against one thread).
// Tolerances: GEMM |Δ| ≤ 1e-5·|ref| + 2e-6·√k·scale (f32 sums in another order, as the native test);
// row kernels 1e-5..1e-4 relative (f32 SIMD exp, ~2 ulp, vs the reference's double exp); gelu (f32 SIMD
// erfc approximation) 1e-6 absolute, the other activations 1e-6 relative (double per element); AdamW and
// the bias-gradient column sums bit-identical (the same f32 operation sequence).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tsBackend } from "../../src/backend/ts/index.js";
import { WASM_FILES, createWasmBackend, loadWasmBackend, wasmThreadsFromEnv } from "../../src/backend/wasm/index.js";
import { getBackend, setBackend } from "../../src/backend/registry.js";
import type { AttentionParams, BiasActOp, KernelSet, MatmulParams, UnaryOp } from "../../src/backend/backend.js";
import { Rng } from "../../src/tensor/random.js";
import { ConfigError, ShapeError } from "../../src/tensor/errors.js";
import * as ops from "../../src/ops/index.js";
import { gradcheck, randn as randT } from "../helpers/gradcheck.js";
import { PeftModel } from "../../src/peft/index.js";
import { AdamW } from "../../src/train/optim/adamw.js";
import { GOLDEN, assertClose, clipGradNorm, gjson, loadBert } from "../peft/helpers.js";
import { close, maxAbs } from "./wasm_helpers.js";

const root = join(import.meta.dirname, "..", "..");
const W = loadWasmBackend();
const ts = tsBackend;
const rng = new Rng(1717);
const randn = (n: number, scale = 1) => rng.fillNormal(new Float32Array(n), 0, scale);

test("wasm backend: loads the committed module, names itself, implements the hot kernels and falls back to TS for the rest", () => {
  assert.equal(W.name, "wasm");
  assert.equal(W.numThreads(), wasmThreadsFromEnv());
  // the relaxed-SIMD builds where this engine validates them (Node 20: only with --experimental-wasm-relaxed-simd)
  const relaxedHere = WebAssembly.validate(readFileSync(join(root, "wasm", WASM_FILES.relaxed)));
  assert.equal(W.variant, W.numThreads() > 1 ? (relaxedHere ? "threadsRelaxed" : "threads") : (relaxedHere ? "relaxed" : "simd"));
  for (const k of ["matmul", "softmax", "softmaxBackward", "logSoftmax", "layerNorm", "layerNormBackward", "rmsNorm", "rmsNormBackward",
    "unary", "biasAct", "biasActBackward", "crossEntropy", "crossEntropyBackward", "adamw", "attention", "attentionBackward", "siluMul", "siluMulBackward"] as (keyof KernelSet)[])
    assert.ok(W.supports(k), `wasm implements ${k}`);
  for (const k of ["rotary", "binary", "dropoutMask", "embedding"] as (keyof KernelSet)[]) {
    assert.ok(!W.supports(k), `${k} is the TS kernel`);
    assert.equal(W[k], ts[k]);
  }
  assert.throws(() => createWasmBackend(new Uint8Array([0, 97, 115, 109, 9, 9]), "broken.wasm"),
    (e: unknown) => e instanceof ConfigError && /broken\.wasm: not a valid WebAssembly module/.test((e as Error).message));
  // a valid module without the kernels: the smallest one (magic + version)
  assert.throws(() => createWasmBackend(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]), "empty.wasm"),
    (e: unknown) => e instanceof ConfigError && /empty\.wasm: module lacks the exports gemm, /.test((e as Error).message));
  const before = getBackend();
  try {
    assert.equal(setBackend("wasm").name, "wasm");
    assert.throws(() => setBackend("webgpu" as "wasm"), (e: unknown) => e instanceof ConfigError && /expected 'ts', 'native' or 'wasm'/.test((e as Error).message));
  } finally {
    setBackend(before.name);
  }
});

test("the committed wasm/peft_kernels*.wasm are the builds of wasm/src (checked when clang ≥ 16 and wasm-ld are installed)", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-build-"));
  try {
    const r = spawnSync(process.execPath, [join(root, "scripts", "build-wasm.mjs"), "--out-dir", dir], { encoding: "utf8" });
    if (r.status === 3) {
      t.skip(`cannot check here: ${r.stderr.trim()}`);
      return;
    }
    assert.equal(r.status, 0, `build-wasm failed: ${r.stdout}${r.stderr}`);
    for (const file of Object.values(WASM_FILES)) {
      const built = readFileSync(join(dir, file)), committed = readFileSync(join(root, "wasm", file));
      assert.ok(built.equals(committed), `wasm/${file} (${committed.length} bytes) differs from a fresh build (${built.length} bytes): run npm run build:wasm and commit it`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("wasm kernels reject buffers that are too short instead of reading past them (ShapeError naming the kernel and operand)", () => {
  const p: MatmulParams = { batch: 2, m: 4, n: 4, k: 4, transA: false, transB: false, strideA: 16, strideB: 16, strideOut: 16, accumulate: false };
  const shape = (re: RegExp) => (e: unknown) => e instanceof ShapeError && re.test((e as Error).message);
  assert.throws(() => W.matmul(new Float32Array(16), new Float32Array(32), new Float32Array(32), p), shape(/^wasm matmul: a has 16 elements, needs 32$/));
  assert.throws(() => W.matmul(new Float32Array(32), new Float32Array(32), new Float32Array(31), p), shape(/^wasm matmul: out has 31 elements, needs 32$/));
  assert.throws(() => W.softmax(new Float32Array(6), new Float32Array(8), 2, 4), shape(/^wasm softmax: an operand has 6 elements, needs 8$/));
  assert.throws(() => W.layerNorm(new Float32Array(8), new Float32Array(3), null, new Float32Array(8), new Float32Array(2), new Float32Array(2), 2, 4, 1e-5),
    shape(/^wasm layerNorm: an operand has 3 elements, needs 4$/));
});

function gemmCase(p: MatmulParams): void {
  const a = randn(Math.max(p.m * p.k, p.strideA * (p.batch - 1) + p.m * p.k));
  const b = randn(Math.max(p.k * p.n, p.strideB * (p.batch - 1) + p.k * p.n));
  const init = randn(Math.max(p.m * p.n, p.strideOut * (p.batch - 1) + p.m * p.n));
  const o1 = init.slice(), o2 = init.slice();
  W.matmul(a, b, o1, p);
  ts.matmul(a, b, o2, p);
  close(o1, o2, 1e-5, 2e-6 * Math.sqrt(p.k) * Math.max(1, maxAbs(o2) / Math.sqrt(p.k)), `matmul ${JSON.stringify(p)}`);
}

test("wasm matmul agrees with TS: sizes 1, 7, 33, 65, every transpose combination, accumulate", () => {
  const sizes = [1, 7, 33, 65];
  for (const m of sizes) for (const n of sizes) for (const k of sizes)
    for (const transA of [false, true]) for (const transB of [false, true])
      gemmCase({ batch: 1, m, n, k, transA, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate: (m + n + k) % 2 === 0 });
  // past the blocks: k > 256 (two KC panels, the second accumulating), n > 512 (two NC blocks), m > 64
  for (const [m, n, k] of [[130, 515, 257], [1, 1, 600], [65, 9, 1], [3, 1030, 7]])
    for (const transA of [false, true]) for (const transB of [false, true])
      for (const accumulate of [false, true]) gemmCase({ batch: 1, m, n, k, transA, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate });
  // k = 0: out = 0, or unchanged when accumulating
  const o = Float32Array.of(5, 6);
  W.matmul(new Float32Array(0), new Float32Array(0), o, { batch: 1, m: 1, n: 2, k: 0, transA: false, transB: false, strideA: 0, strideB: 0, strideOut: 0, accumulate: true });
  assert.deepEqual(Array.from(o), [5, 6]);
  W.matmul(new Float32Array(0), new Float32Array(0), o, { batch: 1, m: 1, n: 2, k: 0, transA: false, transB: false, strideA: 0, strideB: 0, strideOut: 0, accumulate: false });
  assert.deepEqual(Array.from(o), [0, 0]);
});

test("wasm matmul agrees with TS: batched, broadcast operands (stride 0), padded strides", () => {
  for (const [batch, m, n, k] of [[3, 7, 33, 5], [5, 1, 7, 33], [2, 33, 1, 7], [4, 65, 64, 16]])
    for (const transA of [false, true]) for (const transB of [false, true]) {
      gemmCase({ batch, m, n, k, transA, transB, strideA: m * k, strideB: k * n, strideOut: m * n, accumulate: false });
      gemmCase({ batch, m, n, k, transA, transB, strideA: 0, strideB: k * n, strideOut: m * n, accumulate: false });
      gemmCase({ batch, m, n, k, transA, transB, strideA: m * k, strideB: 0, strideOut: m * n, accumulate: true });
      // gaps between output items must keep their values
      gemmCase({ batch, m, n, k, transA, transB, strideA: m * k + 3, strideB: k * n + 1, strideOut: m * n + 2, accumulate: false });
    }
});

test("wasm unary / unaryBackward agree with TS on gelu, gelu_tanh, silu, relu (and other ops are the TS kernels)", () => {
  for (const op of ["gelu", "gelu_tanh", "silu", "relu", "tanh", "exp"] as UnaryOp[])
    for (const n of [1, 7, 33, 65, 10007]) {
      const x = randn(n, 3);
      if (n > 7) { x[0] = 0; x[1] = 40; x[2] = -40; x[3] = NaN; x[4] = Infinity; x[5] = -Infinity; }
      const o1 = new Float32Array(n), o2 = new Float32Array(n);
      W.unary(op, x, o1, 0);
      ts.unary(op, x, o2, 0);
      const atol = op === "gelu" ? 1e-6 : 1e-7;
      close(o1, o2, 1e-6, atol, `${op} n=${n}`);
      const gy = randn(n), g1 = new Float32Array(n), g2 = new Float32Array(n);
      W.unaryBackward(op, x, o2, gy, g1, 0);
      ts.unaryBackward(op, x, o2, gy, g2, 0);
      close(g1, g2, 1e-6, atol, `${op} backward n=${n}`);
    }
});

test("wasm biasAct / biasActBackward agree with TS (bias optional; z written back; gBias accumulated bit-identically)", () => {
  for (const op of ["gelu", "gelu_tanh", "relu", "silu"] as BiasActOp[])
    for (const [rows, cols] of [[1, 1], [7, 33], [33, 65], [65, 7]])
      for (const withBias of [true, false]) {
        const n = rows * cols, x = randn(n, 2), bias = withBias ? randn(cols) : null;
        const x1 = x.slice(), x2 = x.slice(), o1 = new Float32Array(n), o2 = new Float32Array(n);
        W.biasAct(op, x1, bias, o1, rows, cols);
        ts.biasAct(op, x2, bias, o2, rows, cols);
        assert.deepEqual(x1, x2, `${op} z ${rows}x${cols}`);
        const atol = op === "gelu" ? 1e-6 : 1e-7;
        close(o1, o2, 1e-6, atol, `${op} biasAct ${rows}x${cols}`);
        const gy = randn(n), g1 = new Float32Array(n), g2 = new Float32Array(n);
        const gb1 = withBias ? randn(cols) : null, gb2 = gb1 ? gb1.slice() : null;
        W.biasActBackward(op, x2, gy, g1, gb1, rows, cols);
        ts.biasActBackward(op, x2, gy, g2, gb2, rows, cols);
        close(g1, g2, 1e-6, atol, `${op} biasActBackward ${rows}x${cols}`);
        if (op === "relu" && gb1) assert.deepEqual(gb1, gb2, `relu gBias ${rows}x${cols} (same gx, same f32 sums)`);
        else if (gb1) close(gb1, gb2!, 1e-5, 1e-6 * rows, `${op} gBias ${rows}x${cols}`);
      }
  // out may be x: x then holds act(z)
  const x = randn(33 * 7), y = x.slice(), bias = randn(7), ref = new Float32Array(x.length);
  W.biasAct("gelu", x, bias, x, 33, 7);
  ts.biasAct("gelu", y, bias, ref, 33, 7);
  close(x, ref, 1e-6, 1e-6, "biasAct in place");
});

test("wasm softmax / logSoftmax and their backward agree with TS (incl. -inf entries, all -inf rows, NaN)", () => {
  for (const [rows, cols] of [[1, 1], [7, 33], [33, 65], [65, 7], [3, 1000]]) {
    const n = rows * cols, x = randn(n, 3);
    if (cols > 3) x[1] = -Infinity;
    if (rows > 2) for (let c = 0; c < cols; c++) x[cols + c] = -Infinity;
    if (rows > 2 && cols > 3) x[2 * cols + 2] = NaN;
    const y1 = new Float32Array(n), y2 = new Float32Array(n);
    W.softmax(x, y1, rows, cols);
    ts.softmax(x, y2, rows, cols);
    close(y1, y2, 1e-5, 1e-7, `softmax ${rows}x${cols}`);
    const finite = randn(n, 3), gy = randn(n), g1 = new Float32Array(n), g2 = new Float32Array(n);
    ts.softmax(finite, y2, rows, cols);
    W.softmaxBackward(y2, gy, g1, rows, cols);
    ts.softmaxBackward(y2, gy, g2, rows, cols);
    close(g1, g2, 1e-4, 1e-6, `softmaxBackward ${rows}x${cols}`);
    W.logSoftmax(finite, y1, rows, cols);
    ts.logSoftmax(finite, y2, rows, cols);
    close(y1, y2, 1e-5, 1e-6, `logSoftmax ${rows}x${cols}`);
    W.logSoftmaxBackward(y2, gy, g1, rows, cols);
    ts.logSoftmaxBackward(y2, gy, g2, rows, cols);
    close(g1, g2, 1e-4, 1e-5, `logSoftmaxBackward ${rows}x${cols}`);
  }
});

test("wasm layerNorm / rmsNorm and their backward agree with TS (with and without affine params)", () => {
  for (const [rows, cols] of [[1, 1], [7, 33], [33, 65], [65, 7], [4, 769]])
    for (const affine of [true, false]) {
      const n = rows * cols, x = randn(n, 2);
      for (let i = 0; i < n; i++) x[i] += 3; // a non-zero mean exercises the centring
      const w = affine ? randn(cols) : null, b = affine ? randn(cols) : null;
      const o1 = new Float32Array(n), o2 = new Float32Array(n);
      const mu1 = new Float32Array(rows), mu2 = new Float32Array(rows), r1 = new Float32Array(rows), r2 = new Float32Array(rows);
      W.layerNorm(x, w, b, o1, mu1, r1, rows, cols, 1e-5);
      ts.layerNorm(x, w, b, o2, mu2, r2, rows, cols, 1e-5);
      close(o1, o2, 1e-5, 1e-5, `layerNorm ${rows}x${cols}`);
      close(mu1, mu2, 1e-6, 1e-6, `layerNorm mean ${rows}x${cols}`);
      close(r1, r2, 1e-6, 1e-7, `layerNorm rstd ${rows}x${cols}`);
      const gy = randn(n), gx1 = new Float32Array(n), gx2 = new Float32Array(n);
      const gw1 = affine ? randn(cols) : null, gw2 = gw1 ? gw1.slice() : null;
      const gb1 = affine ? randn(cols) : null, gb2 = gb1 ? gb1.slice() : null;
      W.layerNormBackward(x, w, mu2, r2, gy, gx1, gw1, gb1, rows, cols);
      ts.layerNormBackward(x, w, mu2, r2, gy, gx2, gw2, gb2, rows, cols);
      close(gx1, gx2, 1e-4, 1e-5, `layerNormBackward gx ${rows}x${cols}`);
      if (gw1) close(gw1, gw2!, 1e-5, 1e-5 * Math.sqrt(rows), `layerNormBackward gw ${rows}x${cols}`);
      if (gb1) close(gb1, gb2!, 1e-5, 1e-5 * Math.sqrt(rows), `layerNormBackward gb ${rows}x${cols}`);
      W.rmsNorm(x, w, o1, r1, rows, cols, 1e-6);
      ts.rmsNorm(x, w, o2, r2, rows, cols, 1e-6);
      close(o1, o2, 1e-5, 1e-6, `rmsNorm ${rows}x${cols}`);
      close(r1, r2, 1e-6, 1e-7, `rmsNorm rstd ${rows}x${cols}`);
      W.rmsNormBackward(x, w, r2, gy, gx1, gw1, rows, cols);
      ts.rmsNormBackward(x, w, r2, gy, gx2, gw2, rows, cols);
      close(gx1, gx2, 1e-4, 1e-5, `rmsNormBackward gx ${rows}x${cols}`);
      if (gw1) close(gw1, gw2!, 1e-5, 1e-5 * Math.sqrt(rows), `rmsNormBackward gw ${rows}x${cols}`);
    }
});

test("wasm crossEntropy and backward agree with TS (ignore index, label smoothing)", () => {
  for (const [rows, cols] of [[1, 1], [7, 33], [33, 65], [65, 7], [5, 3001]])
    for (const smoothing of [0, 0.1]) {
      const logits = randn(rows * cols, 4);
      const labels = Int32Array.from({ length: rows }, (_, i) => (i % 5 === 3 ? -100 : rng.randint(cols)));
      const l1 = new Float32Array(rows), l2 = new Float32Array(rows), s1 = new Float32Array(rows), s2 = new Float32Array(rows);
      W.crossEntropy(logits, labels, l1, s1, rows, cols, -100, smoothing);
      ts.crossEntropy(logits, labels, l2, s2, rows, cols, -100, smoothing);
      close(l1, l2, 1e-5, 1e-6, `crossEntropy loss ${rows}x${cols} ε=${smoothing}`);
      close(s1, s2, 1e-6, 1e-6, `crossEntropy lse ${rows}x${cols}`);
      const gl = randn(rows), g1 = new Float32Array(rows * cols).fill(7), g2 = new Float32Array(rows * cols).fill(7);
      W.crossEntropyBackward(logits, s2, labels, gl, g1, rows, cols, -100, smoothing);
      ts.crossEntropyBackward(logits, s2, labels, gl, g2, rows, cols, -100, smoothing);
      close(g1, g2, 1e-5, 1e-6, `crossEntropyBackward ${rows}x${cols} ε=${smoothing}`);
    }
});

test("wasm adamw is bit-identical to TS (with and without weight decay, β1 either side of 0.5, several steps)", () => {
  for (const n of [1, 7, 33, 65, 1001])
    for (const [beta1, weightDecay] of [[0.9, 0.01], [0.3, 0], [0.9, 0]]) {
      const p1 = randn(n), g = randn(n), m1 = randn(n, 0.1), v1 = randn(n, 0.1).map(Math.abs);
      const p2 = p1.slice(), m2 = m1.slice(), v2 = v1.slice();
      for (let step = 1; step <= 3; step++) {
        const hp = { lr: 1e-3, beta1, beta2: 0.999, eps: 1e-8, weightDecay, step };
        W.adamw(p1, g, m1, v1, hp);
        ts.adamw(p2, g, m2, v2, hp);
      }
      assert.deepEqual(p1, p2, `adamw p n=${n} β1=${beta1} wd=${weightDecay}`);
      assert.deepEqual(m1, m2, "adamw m");
      assert.deepEqual(v1, v2, "adamw v");
    }
});

test("wasm attention and backward agree with TS (GQA, causal, key mask, fully masked rows, Tq ≠ Tk, dropout, probs only)", () => {
  const MIN = -3.4028234663852886e38;
  const cases: (AttentionParams & { masked: boolean; p: number })[] = [
    { batch: 1, heads: 1, kvHeads: 1, tq: 1, tk: 1, headDim: 1, scale: 1, causal: false, masked: false, p: 0 },
    { batch: 2, heads: 4, kvHeads: 4, tq: 7, tk: 7, headDim: 33, scale: 1 / Math.sqrt(33), causal: false, masked: true, p: 0 },
    { batch: 2, heads: 6, kvHeads: 2, tq: 33, tk: 33, headDim: 8, scale: 0.35, causal: true, masked: false, p: 0.1 },
    { batch: 1, heads: 4, kvHeads: 1, tq: 1, tk: 37, headDim: 16, scale: 0.25, causal: true, masked: true, p: 0 },
    { batch: 3, heads: 2, kvHeads: 1, tq: 5, tk: 12, headDim: 7, scale: 0.5, causal: true, masked: true, p: 0.3 },
    { batch: 2, heads: 2, kvHeads: 2, tq: 7, tk: 5, headDim: 3, scale: 0.5, causal: true, masked: true, p: 0 }, // early queries see no key
    { batch: 2, heads: 3, kvHeads: 3, tq: 65, tk: 65, headDim: 64, scale: 0.125, causal: false, masked: true, p: 0.1 },
  ];
  for (const c of cases) {
    const { masked, p: dp, ...p } = c;
    const nq = p.batch * p.heads * p.tq * p.headDim, nk = p.batch * p.kvHeads * p.tk * p.headDim, np = p.batch * p.heads * p.tq * p.tk;
    const q = randn(nq), k = randn(nk), v = randn(nk);
    let mask: Float32Array | null = null;
    if (masked) {
      mask = new Float32Array(p.batch * p.tk);
      // drop the last keys of each sequence (padding), and every key of the third sequence
      for (let b = 0; b < p.batch; b++) for (let j = 0; j < p.tk; j++) if (j >= p.tk - b || b === 2) mask[b * p.tk + j] = MIN;
    }
    let drop: Float32Array | null = null;
    if (dp > 0) {
      drop = new Float32Array(np);
      ts.dropoutMask(new Uint32Array([np, 2, 3, 4]), drop, dp, 1 / (1 - dp));
    }
    const what = JSON.stringify(c);
    const o1 = new Float32Array(nq).fill(7), o2 = new Float32Array(nq), p1 = new Float32Array(np).fill(7), p2 = new Float32Array(np);
    W.attention(q, k, v, mask, o1, p1, p, drop);
    ts.attention(q, k, v, mask, o2, p2, p, drop);
    close(p1, p2, 1e-4, 1e-6, `attention probs ${what}`);
    close(o1, o2, 1e-4, 1e-5, `attention out ${what}`);
    // out = null: the same probabilities only (how the backward recomputes them)
    const pOnly = new Float32Array(np).fill(7);
    W.attention(q, k, v, mask, null, pOnly, p, drop);
    close(pOnly, p1, 0, 0, `probabilities-only attention ${what}`);
    const go = randn(nq);
    const gq1 = new Float32Array(nq).fill(9), gq2 = new Float32Array(nq);
    const gk1 = new Float32Array(nk).fill(9), gk2 = new Float32Array(nk), gv1 = new Float32Array(nk).fill(9), gv2 = new Float32Array(nk);
    W.attentionBackward(q, k, v, p2, go, gq1, gk1, gv1, p, drop);
    ts.attentionBackward(q, k, v, p2, go, gq2, gk2, gv2, p, drop);
    close(gq1, gq2, 1e-4, 1e-5, `attention gq ${what}`);
    close(gk1, gk2, 1e-4, 1e-5, `attention gk ${what}`);
    close(gv1, gv2, 1e-4, 1e-5, `attention gv ${what}`);
  }
});

test("the module's memory grows for a large call and later small calls still agree", () => {
  const rows = 64, cols = 70000; // 18 MB of logits: past the initial 1 MiB
  const before = W.memoryBytes();
  const x = randn(rows * cols), y1 = new Float32Array(rows * cols), y2 = new Float32Array(rows * cols);
  W.softmax(x, y1, rows, cols);
  ts.softmax(x, y2, rows, cols);
  close(y1, y2, 1e-5, 1e-8, "big softmax");
  assert.ok(W.memoryBytes() > before && W.memoryBytes() >= 2 * rows * cols * 4, `memory grew from ${before} to ${W.memoryBytes()}`);
  gemmCase({ batch: 1, m: 7, n: 33, k: 65, transA: true, transB: false, strideA: 0, strideB: 0, strideOut: 0, accumulate: false });
});

test("gradient checks through ops on the wasm backend (matmul, linear+gelu, siluMul, softmax, norms, cross entropy, attention)", () => {
  const before = getBackend();
  setBackend("wasm");
  try {
    const r = new Rng(5);
    gradcheck((a, b) => ops.matmul(a, b), [randT([2, 3, 5], r), randT([2, 5, 4], r)], { name: "bmm" });
    gradcheck((x, w, b) => ops.linear(x, w, b, { act: "gelu" }), [randT([3, 5], r), randT([7, 5], r), randT([7], r)], { name: "linear+gelu" });
    gradcheck((x) => ops.silu(x), [randT([9], r)], { name: "silu" });
    gradcheck((g, u) => ops.siluMul(g, u), [randT([3, 7], r), randT([3, 7], r)], { name: "siluMul" });
    gradcheck((x) => ops.softmax(x), [randT([3, 7], r)], { name: "softmax" });
    gradcheck((x) => ops.logSoftmax(x), [randT([3, 7], r)], { name: "logSoftmax" });
    gradcheck((x, w, b) => ops.layerNorm(x, w, b), [randT([3, 9], r), randT([9], r), randT([9], r)], { name: "layerNorm" });
    gradcheck((x, w) => ops.rmsNorm(x, w), [randT([3, 9], r), randT([9], r)], { name: "rmsNorm" });
    gradcheck((x) => ops.crossEntropy(x, [1, 4, -100, 0], { labelSmoothing: 0.1 }), [randT([4, 5], r)], { name: "crossEntropy" });
    gradcheck((q, k, v) => ops.scaledDotProductAttention(q, k, v, { keyMask: [[1, 1, 0], [1, 1, 1]], causal: true }),
      [randT([2, 2, 3, 4], r), randT([2, 1, 3, 4], r), randT([2, 1, 3, 4], r)], { name: "attention (GQA, causal, key mask)" });
  } finally {
    setBackend(before.name);
  }
});

/** bert-lora's 10-step run (golden from PEFT + torch: batches of 4 rows, linear warm-up/decay, clip 1.0) on one backend. */
async function trainBertLora(backend: "ts" | "wasm"): Promise<number[]> {
  const before = getBackend();
  setBackend(backend);
  try {
    const G = gjson("bert-lora/golden.json");
    const run = G.train_10_steps;
    const pm = await PeftModel.fromPretrained(await loadBert(), join(GOLDEN, "bert-lora", "adapter"), { isTrainable: true });
    const params = pm.parameters().filter((p) => p.requiresGrad);
    const opt = new AdamW(params, { lr: 1e-3, weightDecay: 0.01, betas: [0.9, 0.999], eps: 1e-8 });
    const lrAt = (step: number) => 1e-3 * (step < 2 ? step / 2 : Math.max(0, (10 - step) / 8));
    const losses: number[] = [];
    // count the wasm GEMM and AdamW calls: the run must go through the module, not only the TS fallbacks
    const calls = { matmul: 0, adamw: 0 };
    const { matmul, adamw } = W;
    if (backend === "wasm") {
      W.matmul = (...a) => { calls.matmul++; matmul(...a); };
      W.adamw = (...a) => { calls.adamw++; adamw(...a); };
    }
    try {
    for (let k = 1; k <= 10; k++) {
      const r0 = ((k - 1) % 3) * 4;
      const rows = (x: any[]) => x.slice(r0, r0 + 4);
      const out = pm.forward({ inputIds: rows(run.input_ids), attentionMask: rows(run.attention_mask), tokenTypeIds: rows(run.token_type_ids), labels: rows(run.labels) as number[] });
      losses.push(out.loss!.f32()[0]);
      out.loss!.backward();
      clipGradNorm(params, 1.0);
      opt.paramGroups[0].lr = lrAt(k - 1);
      opt.step();
      pm.zeroGrad();
    }
    } finally {
      W.matmul = matmul;
      W.adamw = adamw;
    }
    if (backend === "wasm") assert.ok(calls.matmul > 100 && calls.adamw >= 10 * params.length, `wasm kernels used: ${JSON.stringify(calls)}`);
    return losses;
  } finally {
    setBackend(before.name);
  }
}

test("LoRA on bert-tiny-random trains on the wasm backend: 10 steps replay PEFT's losses and the TS backend's within 1e-5", async () => {
  const golden = (gjson("bert-lora/golden.json").train_10_steps.log as { loss: number }[]).map((l) => l.loss);
  const onWasm = await trainBertLora("wasm"), onTs = await trainBertLora("ts");
  assertClose(onWasm, golden, "wasm losses vs PEFT", { abs: 1e-5, rel: 1e-4 });
  assertClose(onWasm, onTs, "wasm losses vs TS backend", { abs: 1e-5, rel: 0 });
  assert.ok(onWasm[9] !== onWasm[0], "the loss moved");
});

