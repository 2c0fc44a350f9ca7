// WebGPU test page cases, model kernels: attention (+ a finite-difference check of its backward),
// AdamW, SwiGLU, rotary, dropout, embeddings, and a LoRA training loop resident on the GPU.
import { tsKernels as ts } from "../../src/backend/ts/index.js";
import { MASK_MIN, type AttentionParams, type KernelSet, type MatmulParams } from "../../src/backend/backend.js";
import type { GpuArray } from "../../src/backend/webgpu/index.js";
import { Checks, cases, close, gpu, maxAbs, randint, randn } from "./webgpu_checks.js";

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
