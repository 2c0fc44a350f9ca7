// The wasm kernels as KernelSet functions: copy the operands into the module's memory, call the C
// export, copy the results back. Ops the module does not implement (other unary ops) go to the TS
// reference; kernels absent from the returned table fall back to TS in index.ts.
import type { AdamWParams, AttentionParams, BiasActOp, F32, KernelSet, MatmulParams, UnaryOp } from "../backend.js";
import { tsKernels } from "../ts/index.js";
import type { WasmKernelExports } from "./module.js";
import type { WasmHeap } from "./heap.js";

/** Activation codes of wasm/src/act.c. */
const ACT: Partial<Record<UnaryOp, number>> = { gelu: 0, gelu_tanh: 1, silu: 2, relu: 3 };
const f = Math.fround;

/** Elements an operand spans over the batch: the last item's offset plus one item (stride 0 = one shared item). */
function extent(batch: number, stride: number, item: number): number {
  return batch > 1 && stride > 0 ? stride * (batch - 1) + item : item;
}

export function wasmKernels(x: WasmKernelExports, heap: WasmHeap): Partial<KernelSet> {
  const scratchFloats = x.gemm_scratch_floats();

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
    const scratch = heap.alloc(scratchFloats);
    x.gemm(pa, pb, po, batch, m, n, k, +p.transA, +p.transB, p.strideA, p.strideB, p.strideOut, +p.accumulate, scratch);
    heap.copyOut(po, out, outLen, "out");
  }

  function rowKernel(name: string, fn: (i: number, o: number, rows: number, cols: number) => void) {
    return (xIn: F32, out: F32, rows: number, cols: number): void => {
      heap.reset(name);
      const n = rows * cols;
      const pi = heap.copyIn(xIn, n), po = heap.alloc(n);
      fn(pi, po, rows, cols);
      heap.copyOut(po, out, n);
    };
  }
  function rowBackward(name: string, fn: (y: number, gy: number, gx: number, rows: number, cols: number) => void) {
    return (y: F32, gy: F32, gx: F32, rows: number, cols: number): void => {
      heap.reset(name);
      const n = rows * cols;
      const py = heap.copyIn(y, n), pg = heap.copyIn(gy, n), px = heap.alloc(n);
      fn(py, pg, px, rows, cols);
      heap.copyOut(px, gx, n);
    };
  }

  function unary(op: UnaryOp, xIn: F32, out: F32, alpha: number): void {
    const code = ACT[op];
    if (code === undefined) return tsKernels.unary(op, xIn, out, alpha);
    heap.reset("unary");
    const n = xIn.length;
    const pi = heap.copyIn(xIn), po = heap.alloc(n);
    x.activation(code, pi, po, n);
    heap.copyOut(po, out, n);
  }

  function unaryBackward(op: UnaryOp, xIn: F32, y: F32, gy: F32, gx: F32, alpha: number): void {
    const code = ACT[op];
    if (code === undefined) return tsKernels.unaryBackward(op, xIn, y, gy, gx, alpha);
    heap.reset("unaryBackward");
    const n = xIn.length;
    const pi = heap.copyIn(xIn), pg = heap.copyIn(gy, n), po = heap.alloc(n);
    x.activation_backward(code, pi, pg, po, n);
    heap.copyOut(po, gx, n);
  }

  function biasAct(op: BiasActOp, xIn: F32, bias: F32 | null, out: F32, rows: number, cols: number): void {
    heap.reset("biasAct");
    const n = rows * cols;
    const pi = heap.copyIn(xIn, n), po = heap.alloc(n);
    if (bias) x.bias_add(pi, heap.copyIn(bias, cols), rows, cols);
    x.activation(ACT[op]!, pi, po, n);
    // z back into x first: when out is x, x ends up holding act(z), as in the reference
    if (bias) heap.copyOut(pi, xIn, n);
    heap.copyOut(po, out, n);
  }

  function biasActBackward(op: BiasActOp, z: F32, gy: F32, gx: F32, gBias: F32 | null, rows: number, cols: number): void {
    heap.reset("biasActBackward");
    const n = rows * cols;
    const pz = heap.copyIn(z, n), pg = heap.copyIn(gy, n), po = heap.alloc(n);
    x.activation_backward(ACT[op]!, pz, pg, po, n);
    heap.copyOut(po, gx, n);
    if (!gBias) return;
    const pb = heap.copyIn(gBias, cols);
    x.column_sum_add(po, pb, rows, cols);
    heap.copyOut(pb, gBias, cols);
  }

  function layerNorm(xIn: F32, w: F32 | null, b: F32 | null, out: F32, mean: F32, rstd: F32, rows: number, cols: number, eps: number): void {
    heap.reset("layerNorm");
    const n = rows * cols;
    const pi = heap.copyIn(xIn, n), pw = heap.copyInOrNull(w, cols), pb = heap.copyInOrNull(b, cols);
    const po = heap.alloc(n), pm = heap.alloc(rows), pr = heap.alloc(rows);
    x.layer_norm(pi, pw, pb, po, pm, pr, rows, cols, eps);
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
    x.rms_norm(pi, pw, po, pr, rows, cols, eps);
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
    x.cross_entropy(pl, py, pLoss, pLse, rows, cols, ignoreIndex, labelSmoothing);
    heap.copyOut(pLoss, loss, rows);
    heap.copyOut(pLse, lse, rows);
  }

  function crossEntropyBackward(logits: F32, lse: F32, labels: Int32Array, gLoss: F32, gLogits: F32, rows: number, cols: number, ignoreIndex: number, labelSmoothing: number): void {
    heap.reset("crossEntropyBackward");
    const n = rows * cols;
    const pl = heap.copyIn(logits, n), pLse = heap.copyIn(lse, rows), py = heap.copyIn(labels, rows), pg = heap.copyIn(gLoss, rows), po = heap.alloc(n);
    x.cross_entropy_backward(pl, pLse, py, pg, po, rows, cols, ignoreIndex, labelSmoothing);
    heap.copyOut(po, gLogits, n);
  }

  function adamw(p: F32, g: F32, m: F32, v: F32, hp: AdamWParams): void {
    const { lr, beta1, beta2, eps, weightDecay, step } = hp;
    // the step's scalars exactly as the TS reference derives them (in double, then rounded to f32)
    const w1 = f(1 - beta1);
    heap.reset("adamw");
    const n = p.length;
    const pp = heap.copyIn(p), pg = heap.copyIn(g, n), pm = heap.copyIn(m, n), pv = heap.copyIn(v, n);
    x.adamw(pp, pg, pm, pv, n, f(1 - lr * weightDecay), +(weightDecay !== 0), w1, +(w1 < 0.5), f(1 - beta2), f(beta2),
      f(Math.sqrt(1 - beta2 ** step)), f(-(lr / (1 - beta1 ** step))), f(eps));
    heap.copyOut(pp, p, n);
    heap.copyOut(pm, m, n);
    heap.copyOut(pv, v, n);
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
    const scratch = heap.alloc(scratchFloats + 2 * Tq * Tk);
    x.attention(pq, pk, pv, pm, po, pp, B, H, Hkv, Tq, Tk, D, p.scale, +p.causal, pd, scratch);
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
    const scratch = heap.alloc(scratchFloats + 2 * Tq * Tk);
    x.attention_backward(pq, pk, pv, pp, pg, pgq, pgk, pgv, B, H, Hkv, Tq, Tk, D, p.scale, pd, scratch);
    heap.copyOut(pgq, gq, nq);
    heap.copyOut(pgk, gk, nkv);
    heap.copyOut(pgv, gv, nkv);
  }

  return {
    matmul,
    attention,
    attentionBackward,
    unary,
    unaryBackward,
    biasAct,
    biasActBackward,
    softmax: rowKernel("softmax", (i, o, r, c) => x.softmax(i, o, r, c)),
    softmaxBackward: rowBackward("softmaxBackward", (y, gy, gx, r, c) => x.softmax_backward(y, gy, gx, r, c)),
    logSoftmax: rowKernel("logSoftmax", (i, o, r, c) => x.log_softmax(i, o, r, c)),
    logSoftmaxBackward: rowBackward("logSoftmaxBackward", (y, gy, gx, r, c) => x.log_softmax_backward(y, gy, gx, r, c)),
    layerNorm,
    layerNormBackward,
    rmsNorm,
    rmsNormBackward,
    crossEntropy,
    crossEntropyBackward,
    adamw,
  };
}
