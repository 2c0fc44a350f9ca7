// The workloads of `npm run bench -- web`, written once over the backend kernel set so that the browser
// worker (our wasm backend) and the Node process (our native backend) run the same code: GEMM
// GFLOP/s at 512³ and the bert-small LoRA shapes, and one training step of a 2-layer MLP
// (768 → 3072 → 768, GELU, bias, MSE loss, AdamW) on 128 tokens (the shapes of the GEMM rows).
// No Node built-ins (bundled for the browser by bench/web.ts).
import type { KernelSet, MatmulParams } from "../../src/backend/backend.js";

/** m×n×k of out = x·Wᵀ (x m×k, W n×k): 512³, then bert-small's q/v projection, FFN up, LoRA A and B products. */
export const GEMM_SHAPES: [number, number, number][] = [[512, 512, 512], [128, 768, 768], [128, 3072, 768], [1024, 8, 768], [1024, 768, 8]];
export const MLP = { tokens: 128, dim: 768, hidden: 3072, lr: 1e-3, weightDecay: 0.01 };

/** Deterministic N(0, s²)-ish fill (a sum of uniforms; the values only need to be ordinary). */
export function fill(n: number, seed: number, s = 1): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    let u = 0;
    for (let j = 0; j < 3; j++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      u += (x >>> 0) / 4294967296;
    }
    out[i] = (u - 1.5) * 2 * s;
  }
  return out;
}

/** Median of the per-call ms of `fn` over enough calls for ~budgetMs (2..maxReps, after one warm-up call that sizes the run). */
export function medianMs(fn: () => void, budgetMs: number, maxReps = 50): number {
  const t0 = performance.now();
  fn();
  const one = Math.max(performance.now() - t0, 0.01);
  if (one < budgetMs / 20) fn(); // a second warm-up where it is cheap
  const reps = Math.max(2, Math.min(maxReps, Math.round(budgetMs / one)));
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    fn();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1];
}

/** GFLOP/s of kernels.matmul at m×n×k (x·Wᵀ), copies in and out included. */
export function gemmGflops(k: Pick<KernelSet, "matmul">, [m, n, kk]: [number, number, number], budgetMs: number): number {
  const x = fill(m * kk, 1), w = fill(n * kk, 2), out = new Float32Array(m * n);
  const p: MatmulParams = { batch: 1, m, n, k: kk, transA: false, transB: true, strideA: 0, strideB: 0, strideOut: 0, accumulate: false };
  return (2 * m * n * kk) / medianMs(() => k.matmul(x, w, out, p), budgetMs) / 1e6;
}

const mm = (m: number, n: number, k: number, transA: boolean, transB: boolean, accumulate = false): MatmulParams =>
  ({ batch: 1, m, n, k, transA, transB, strideA: 0, strideB: 0, strideOut: 0, accumulate });

/** An MLP training step on the kernels: forward, MSE loss, backward, AdamW on W1, b1, W2, b2. step() returns the loss. */
export function mlpTrainer(k: KernelSet): { step(): number } {
  const { tokens: T, dim: D, hidden: H } = MLP;
  const x = fill(T * D, 3), target = fill(T * D, 4);
  const params = [fill(H * D, 5, 0.02), new Float32Array(H), fill(D * H, 6, 0.02), new Float32Array(D)];
  const [W1, b1, W2, b2] = params;
  const grads = params.map((p) => new Float32Array(p.length)), m = params.map((p) => new Float32Array(p.length)), v = params.map((p) => new Float32Array(p.length));
  const [gW1, gb1, gW2, gb2] = grads;
  const z = new Float32Array(T * H), a = new Float32Array(T * H), y = new Float32Array(T * D), dy = new Float32Array(T * D);
  const da = new Float32Array(T * H), dz = new Float32Array(T * H);
  let t = 0;
  return {
    step(): number {
      // forward: z = x·W1ᵀ (+ b1 inside biasAct), a = gelu(z), y = b2 + a·W2ᵀ
      k.matmul(x, W1, z, mm(T, H, D, false, true));
      k.biasAct("gelu", z, b1, a, T, H);
      for (let r = 0; r < T; r++) y.set(b2, r * D);
      k.matmul(a, W2, y, mm(T, D, H, false, true, true));
      let loss = 0;
      const scale = 2 / (T * D);
      gb2.fill(0);
      for (let i = 0; i < T * D; i++) {
        const d = y[i] - target[i];
        loss += d * d;
        dy[i] = d * scale;
        gb2[i % D] += dy[i];
      }
      // backward
      k.matmul(dy, a, gW2, mm(D, H, T, true, false));
      k.matmul(dy, W2, da, mm(T, H, D, false, false));
      gb1.fill(0);
      k.biasActBackward("gelu", z, da, dz, gb1, T, H);
      k.matmul(dz, x, gW1, mm(H, D, T, true, false));
      t++;
      for (let i = 0; i < params.length; i++)
        k.adamw(params[i], grads[i], m[i], v[i], { lr: MLP.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: MLP.weightDecay, step: t });
      return loss / (T * D);
    },
  };
}

/** Tokens per second of mlpTrainer steps. */
export function mlpTokensPerS(k: KernelSet, budgetMs: number): { tokPerS: number; loss: number } {
  const tr = mlpTrainer(k);
  let loss = NaN;
  const ms = medianMs(() => { loss = tr.step(); }, budgetMs, 10);
  return { tokPerS: MLP.tokens / (ms / 1000), loss };
}
