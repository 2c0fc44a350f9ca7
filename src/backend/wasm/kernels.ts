// The wasm kernels as KernelSet functions: copy the operands into the module's memory, call the C
// export, copy the results back. With a thread pool, a call big enough to pay for waking the workers
// (the MIN_WORK figures) runs on every thread, each doing its (part, parts) share in C; smaller ones and
// the backward norms (their weight gradients are sums over rows) run here alone. Ops the module does not
// implement (other unary ops) go to the TS reference; kernels absent from the returned table fall back
// to TS in create.ts.
import type { AdamWParams, AttentionParams, BiasActOp, F32, KernelSet, MatmulParams, UnaryOp } from "../backend.js";
import { tsKernels } from "../ts/index.js";
import type { WasmKernelExports } from "./module.js";
import type { WasmHeap } from "./heap.js";
import type { ParallelExport, WasmThreadPool } from "./pool.js";

/** Activation codes of wasm/src/act.c. */
const ACT: Partial<Record<UnaryOp, number>> = { gelu: 0, gelu_tanh: 1, silu: 2, relu: 3 };
const f = Math.fround;

/** Elements an operand spans over the batch: the last item's offset plus one item (stride 0 = one shared item). */
function extent(batch: number, stride: number, item: number): number {
  return batch > 1 && stride > 0 ? stride * (batch - 1) + item : item;
}

/**
 * Work (multiply-adds for GEMM and attention, elements for the rest) below which a call stays on the
 * calling thread: waking the workers and waiting for them costs tens of microseconds.
 */
const MIN_WORK = { gemm: 1 << 20, attention: 1 << 18, rows: 1 << 15, elementwise: 1 << 14 };

/** The kernels plus a count of the calls that ran on the pool (tests and benchmarks read it). */
export interface WasmKernelTable {
  kernels: Partial<KernelSet>;
  threadedCalls(): number;
}

export function wasmKernels(x: WasmKernelExports, heap: WasmHeap, pool: WasmThreadPool | null): WasmKernelTable {
  let threaded = 0;
  const scratchFloats = x.gemm_scratch_floats();
  /** Threads a call of `work` (vs its MIN_WORK `min`) runs on. */
  const partsFor = (work: number, min: number) => (pool && work >= min ? pool.threads : 1);
  /** Runs export `name`(...args, part, parts) on `parts` threads (1: here alone). */
  function run(name: ParallelExport, args: number[], parts: number): void {
    if (parts > 1) {
      threaded++;
      pool!.run(name, args);
    } else (x[name] as (...a: number[]) => void)(...args, 0, 1);
  }

  function matmul(a: F32, b: F32, out: F32, p: MatmulParams): void {
    const { batch, m, n, k } = p;
    if (batch === 0 || m === 0 || n === 0) return;
    heap.reset("matmul");
    const outLen = extent(batch, p.strideOut, m * n);
    const pa = heap.copyIn(a, extent(batch, p.strideA, m * k), "a");
    const pb = heap.copyIn(b, extent(batch, p.strideB, k * n), "b");
    // the output is read when accumulating, and between strided items it must stay as it was
    const readOut = p.accumulate || (batch > 1 && p.strideOut !== m * n);
    const po = readOut ? heap.copyIn(out, outLen, "out") : heap.alloc(outLen);
    const parts = partsFor(batch * m * n * k, MIN_WORK.gemm);
    const scratch = heap.alloc(scratchFloats * parts);
    run("gemm", [pa, pb, po, batch, m, n, k, +p.transA, +p.transB, p.strideA, p.strideB, p.strideOut, +p.accumulate, scratch], parts);
    heap.copyOut(po, out, outLen, "out");
  }

  const rowParts = (rows: number, cols: number) => partsFor(rows > 1 ? rows * cols : 0, MIN_WORK.rows);
  function rowKernel(name: string, fn: ParallelExport) {
    return (xIn: F32, out: F32, rows: number, cols: number): void => {
      heap.reset(name);
      const n = rows * cols;
      const pi = heap.copyIn(xIn, n), po = heap.alloc(n);
      run(fn, [pi, po, rows, cols], rowParts(rows, cols));
      heap.copyOut(po, out, n);
    };
  }
  function rowBackward(name: string, fn: ParallelExport) {
    return (y: F32, gy: F32, gx: F32, rows: number, cols: number): void => {
      heap.reset(name);
      const n = rows * cols;
      const py = heap.copyIn(y, n), pg = heap.copyIn(gy, n), px = heap.alloc(n);
      run(fn, [py, pg, px, rows, cols], rowParts(rows, cols));
      heap.copyOut(px, gx, n);
    };
  }
  const elementParts = (n: number) => partsFor(n, MIN_WORK.elementwise);

  function unary(op: UnaryOp, xIn: F32, out: F32, alpha: number): void {
    const code = ACT[op];
    if (code === undefined) return tsKernels.unary(op, xIn, out, alpha);
    heap.reset("unary");
    const n = xIn.length;
    const pi = heap.copyIn(xIn), po = heap.alloc(n);
    run("activation", [code, pi, po, n], elementParts(n));
    heap.copyOut(po, out, n);
  }

  function unaryBackward(op: UnaryOp, xIn: F32, y: F32, gy: F32, gx: F32, alpha: number): void {
    const code = ACT[op];
    if (code === undefined) return tsKernels.unaryBackward(op, xIn, y, gy, gx, alpha);
    heap.reset("unaryBackward");
    const n = xIn.length;
    const pi = heap.copyIn(xIn), pg = heap.copyIn(gy, n), po = heap.alloc(n);
    run("activation_backward", [code, pi, pg, po, n], elementParts(n));
    heap.copyOut(po, gx, n);
  }

  function biasAct(op: BiasActOp, xIn: F32, bias: F32 | null, out: F32, rows: number, cols: number): void {
    heap.reset("biasAct");
    const n = rows * cols;
    const pi = heap.copyIn(xIn, n), po = heap.alloc(n);
    if (bias) run("bias_add", [pi, heap.copyIn(bias, cols), rows, cols], rowParts(rows, cols));
    run("activation", [ACT[op]!, pi, po, n], elementParts(n));
    // z back into x first: when out is x, x ends up holding act(z), as in the reference
    if (bias) heap.copyOut(pi, xIn, n);
    heap.copyOut(po, out, n);
  }

  function biasActBackward(op: BiasActOp, z: F32, gy: F32, gx: F32, gBias: F32 | null, rows: number, cols: number): void {
    heap.reset("biasActBackward");
    const n = rows * cols;
    const pz = heap.copyIn(z, n), pg = heap.copyIn(gy, n), po = heap.alloc(n);
    run("activation_backward", [ACT[op]!, pz, pg, po, n], elementParts(n));
    heap.copyOut(po, gx, n);
    if (!gBias) return;
    const pb = heap.copyIn(gBias, cols);
    run("column_sum_add", [po, pb, rows, cols], cols >= 8 ? rowParts(rows, cols) : 1);
    heap.copyOut(pb, gBias, cols);
  }

  function layerNorm(xIn: F32, w: F32 | null, b: F32 | null, out: F32, mean: F32, rstd: F32, rows: number, cols: number, eps: number): void {
    heap.reset("layerNorm");
    const n = rows * cols;
    const pi = heap.copyIn(xIn, n), pw = heap.copyInOrNull(w, cols), pb = heap.copyInOrNull(b, cols);
    const po = heap.alloc(n), pm = heap.alloc(rows), pr = heap.alloc(rows);
    run("layer_norm", [pi, pw, pb, po, pm, pr, rows, cols, eps], rowParts(rows, cols));
    heap.copyOut(po, out, n);
    heap.copyOut(pm, mean, rows);
    heap.copyOut(pr, rstd, rows);
  }

  function layerNormBackward(xIn: F32, w: F32 | null, mean: F32, rstd: F32, gy: F32, gx: F32, gw: F32 | null, gb: F32 | null, rows: number, cols: number): void {
    heap.reset("layerNormBackward");
    const n = rows * cols;
    const pi = heap.copyIn(xIn, n), pw = heap.copyInOrNull(w, cols), pm = heap.copyIn(mean, rows), pr = heap.copyIn(rstd, rows);
    const pg = heap.copyIn(gy, n), po = heap.alloc(n), pgw = heap.copyInOrNull(gw, cols), pgb = heap.copyInOrNull(gb, cols);
    x.layer_norm_backward(pi, pw, pm, pr, pg, po, pgw, pgb, rows, cols);
    heap.copyOut(po, gx, n);
    if (gw) heap.copyOut(pgw, gw, cols);
    if (gb) heap.copyOut(pgb, gb, cols);
  }

  function rmsNorm(xIn: F32, w: F32 | null, out: F32, rstd: F32, rows: number, cols: number, eps: number): void {
    heap.reset("rmsNorm");
    const n = rows * cols;
    const pi = heap.copyIn(xIn, n), pw = heap.copyInOrNull(w, cols), po = heap.alloc(n), pr = heap.alloc(rows);
    run("rms_norm", [pi, pw, po, pr, rows, cols, eps], rowParts(rows, cols));
    heap.copyOut(po, out, n);
    heap.copyOut(pr, rstd, rows);
  }

  function rmsNormBackward(xIn: F32, w: F32 | null, rstd: F32, gy: F32, gx: F32, gw: F32 | null, rows: number, cols: number): void {
    heap.reset("rmsNormBackward");
    const n = rows * cols;
    const pi = heap.copyIn(xIn, n), pw = heap.copyInOrNull(w, cols), pr = heap.copyIn(rstd, rows);
    const pg = heap.copyIn(gy, n), po = heap.alloc(n), pgw = heap.copyInOrNull(gw, cols);
    x.rms_norm_backward(pi, pw, pr, pg, po, pgw, rows, cols);
    heap.copyOut(po, gx, n);
    if (gw) heap.copyOut(pgw, gw, cols);
  }

  function crossEntropy(logits: F32, labels: Int32Array, loss: F32, lse: F32, rows: number, cols: number, ignoreIndex: number, labelSmoothing: number): void {
    heap.reset("crossEntropy");
    const pl = heap.copyIn(logits, rows * cols), py = heap.copyIn(labels, rows), pLoss = heap.alloc(rows), pLse = heap.alloc(rows);
    run("cross_entropy", [pl, py, pLoss, pLse, rows, cols, ignoreIndex, labelSmoothing], rowParts(rows, cols));
    heap.copyOut(pLoss, loss, rows);
    heap.copyOut(pLse, lse, rows);
  }

  function crossEntropyBackward(logits: F32, lse: F32, labels: Int32Array, gLoss: F32, gLogits: F32, rows: number, cols: number, ignoreIndex: number, labelSmoothing: number): void {
    heap.reset("crossEntropyBackward");
    const n = rows * cols;
    const pl = heap.copyIn(logits, n), pLse = heap.copyIn(lse, rows), py = heap.copyIn(labels, rows), pg = heap.copyIn(gLoss, rows), po = heap.alloc(n);
    run("cross_entropy_backward", [pl, pLse, py, pg, po, rows, cols, ignoreIndex, labelSmoothing], rowParts(rows, cols));
    heap.copyOut(po, gLogits, n);
  }

  function adamw(p: F32, g: F32, m: F32, v: F32, hp: AdamWParams): void {
    const { lr, beta1, beta2, eps, weightDecay, step } = hp;
    // the step's scalars exactly as the TS reference derives them (in double, then rounded to f32)
    const w1 = f(1 - beta1);
    heap.reset("adamw");
    const n = p.length;
    const pp = heap.copyIn(p), pg = heap.copyIn(g, n), pm = heap.copyIn(m, n), pv = heap.copyIn(v, n);
    run("adamw", [pp, pg, pm, pv, n, f(1 - lr * weightDecay), +(weightDecay !== 0), w1, +(w1 < 0.5), f(1 - beta2), f(beta2),
      f(Math.sqrt(1 - beta2 ** step)), f(-(lr / (1 - beta1 ** step))), f(eps)], partsFor(n, MIN_WORK.rows));
    heap.copyOut(pp, p, n);
    heap.copyOut(pm, m, n);
    heap.copyOut(pv, v, n);
  }

  function siluMul(gate: F32, up: F32, out: F32): void {
    heap.reset("siluMul");
    const n = out.length;
    const pg = heap.copyIn(gate, n, "gate"), pu = heap.copyIn(up, n, "up"), po = heap.alloc(n);
    run("silu_mul", [pg, pu, po, n], elementParts(n));
    heap.copyOut(po, out, n);
  }

  function siluMulBackward(gate: F32, up: F32, gy: F32, gGate: F32, gUp: F32): void {
    heap.reset("siluMulBackward");
    const n = gy.length;
    const pg = heap.copyIn(gate, n, "gate"), pu = heap.copyIn(up, n, "up"), py = heap.copyIn(gy, n, "gy");
    const pgg = heap.alloc(n), pgu = heap.alloc(n);
    run("silu_mul_backward", [pg, pu, py, pgg, pgu, n], elementParts(n));
    heap.copyOut(pgg, gGate, n, "gGate");
    heap.copyOut(pgu, gUp, n, "gUp");
  }

  function attention(q: F32, k: F32, v: F32, mask: F32 | null, out: F32 | null, probs: F32, p: AttentionParams, drop?: F32 | null): void {
    const { batch: B, heads: H, kvHeads: Hkv, tq: Tq, tk: Tk, headDim: D } = p;
    if (B * H * Tq * Tk === 0) return tsKernels.attention(q, k, v, mask, out, probs, p, drop);
    heap.reset("attention");
    const nq = B * H * Tq * D, nkv = B * Hkv * Tk * D, np = B * H * Tq * Tk;
    const pq = heap.copyIn(q, nq), pk = heap.copyIn(k, nkv), pv = heap.copyIn(v, nkv), pm = heap.copyInOrNull(mask, B * Tk);
    // drop is ignored when only the probabilities are asked for
    const pd = out && drop ? heap.copyIn(drop, np) : 0;
    const po = out ? heap.alloc(nq) : 0, pp = heap.alloc(np);
    const parts = B * H > 1 ? partsFor(B * H * Tq * Tk * D, MIN_WORK.attention) : 1;
    const scratch = heap.alloc((scratchFloats + 2 * Tq * Tk) * parts);
    run("attention", [pq, pk, pv, pm, po, pp, B, H, Hkv, Tq, Tk, D, p.scale, +p.causal, pd, scratch], parts);
    if (out) heap.copyOut(po, out, nq);
    heap.copyOut(pp, probs, np);
  }

  function attentionBackward(q: F32, k: F32, v: F32, probs: F32, gOut: F32, gq: F32, gk: F32, gv: F32, p: AttentionParams, drop?: F32 | null): void {
    const { batch: B, heads: H, kvHeads: Hkv, tq: Tq, tk: Tk, headDim: D } = p;
    if (B * H * Tq * Tk === 0) return tsKernels.attentionBackward(q, k, v, probs, gOut, gq, gk, gv, p, drop);
    heap.reset("attentionBackward");
    const nq = B * H * Tq * D, nkv = B * Hkv * Tk * D, np = B * H * Tq * Tk;
    const pq = heap.copyIn(q, nq), pk = heap.copyIn(k, nkv), pv = heap.copyIn(v, nkv), pp = heap.copyIn(probs, np), pg = heap.copyIn(gOut, nq);
    const pd = drop ? heap.copyIn(drop, np) : 0;
    const pgq = heap.alloc(nq), pgk = heap.alloc(nkv), pgv = heap.alloc(nkv);
    const parts = B * Hkv > 1 ? partsFor(B * H * Tq * Tk * D, MIN_WORK.attention) : 1;
    const scratch = heap.alloc((scratchFloats + 2 * Tq * Tk) * parts);
    run("attention_backward", [pq, pk, pv, pp, pg, pgq, pgk, pgv, B, H, Hkv, Tq, Tk, D, p.scale, pd, scratch], parts);
    heap.copyOut(pgq, gq, nq);
    heap.copyOut(pgk, gk, nkv);
    heap.copyOut(pgv, gv, nkv);
  }

  const kernels: Partial<KernelSet> = {
    matmul,
    attention,
    attentionBackward,
    unary,
    unaryBackward,
    biasAct,
    biasActBackward,
    softmax: rowKernel("softmax", "softmax"),
    softmaxBackward: rowBackward("softmaxBackward", "softmax_backward"),
    logSoftmax: rowKernel("logSoftmax", "log_softmax"),
    logSoftmaxBackward: rowBackward("logSoftmaxBackward", "log_softmax_backward"),
    layerNorm,
    layerNormBackward,
    rmsNorm,
    rmsNormBackward,
    crossEntropy,
    crossEntropyBackward,
    adamw,
    siluMul,
    siluMulBackward,
  };
  return { kernels, threadedCalls: () => threaded };
}
