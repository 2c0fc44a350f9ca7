// The browser side of `npm run bench -- web`: a Web Worker (Atomics.wait is allowed here, not on the
// page's main thread) started by page.html with {threads}. It measures the workloads of workloads.ts on
// our wasm backend (createWasmBackendAsync over the modules served under /wasm/) and the same GEMMs and
// the same MLP step written with tfjs-core + @tensorflow/tfjs-backend-wasm (its .wasm files served under
// /tfjs/), both on `threads` threads, and posts back the figures. One worker per thread count: tfjs
// fixes its thread count when its backend starts. tfjs gets its weights stored [in, out] (as its dense
// layers keep them): its matMul with transposeB is ~10× slower than without (measured in Chromium 156).
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { createWasmBackendAsync, WASM_FILES, type WasmModuleSet, type WasmVariant } from "../../src/backend/wasm/create.js";
import { GEMM_SHAPES, MLP, fill, gemmGflops, medianMs, mlpTokensPerS } from "./workloads.js";

interface Figures {
  threads: number;
  ours: { variant: string; threads: number; note: string | null; gemm: number[]; mlpTokPerS: number; mlpLoss: number };
  tfjs: { backend: string; threads: number; gemm: number[]; mlpTokPerS: number; mlpLoss: number } | { error: string };
  crossOriginIsolated: boolean;
}

const BUDGET_MS = 300;

async function ours(threads: number): Promise<Figures["ours"]> {
  const set: Partial<WasmModuleSet> = {};
  for (const [v, file] of Object.entries(WASM_FILES) as [WasmVariant, string][])
    set[v] = new Uint8Array(await (await fetch(`/wasm/${file}`)).arrayBuffer());
  const be = await createWasmBackendAsync(set as WasmModuleSet, { threads });
  const gemm = GEMM_SHAPES.map((s) => gemmGflops(be, s, BUDGET_MS));
  const mlp = mlpTokensPerS(be, 4 * BUDGET_MS);
  be.close();
  return { variant: be.variant, threads: be.numThreads(), note: be.threadNote, gemm, mlpTokPerS: mlp.tokPerS, mlpLoss: mlp.loss };
}

const INV_SQRT2 = Math.SQRT1_2;
const gelu = (z: tf.Tensor) => tf.mul(tf.mul(z, 0.5), tf.add(1, tf.erf(tf.mul(z, INV_SQRT2))));

async function tfjs(threads: number): Promise<Figures["tfjs"]> {
  setWasmPaths("/tfjs/");
  setThreadsCount(threads);
  if (!(await tf.setBackend("wasm"))) return { error: "tf.setBackend('wasm') failed" };
  await tf.ready();
  const gemm = GEMM_SHAPES.map(([m, n, k]) => {
    const x = tf.tensor2d(fill(m * k, 1), [m, k]), w = tf.tensor2d(fill(n * k, 2), [k, n]);
    const ms = medianMs(() => {
      const y = tf.matMul(x, w);
      y.dataSync();
      y.dispose();
    }, BUDGET_MS);
    x.dispose();
    w.dispose();
    return (2 * m * n * k) / ms / 1e6;
  });
  // the same MLP step: tf.variableGrads for the backward, AdamW as Adam plus decoupled decay
  const { tokens: T, dim: D, hidden: H } = MLP;
  const x = tf.tensor2d(fill(T * D, 3), [T, D]), target = tf.tensor2d(fill(T * D, 4), [T, D]);
  const W1 = tf.variable(tf.tensor2d(fill(H * D, 5, 0.02), [D, H])), b1 = tf.variable(tf.zeros([H]));
  const W2 = tf.variable(tf.tensor2d(fill(D * H, 6, 0.02), [H, D])), b2 = tf.variable(tf.zeros([D]));
  const vars = [W1, b1, W2, b2];
  const opt = tf.train.adam(MLP.lr, 0.9, 0.999, 1e-8);
  let loss = NaN;
  const ms = medianMs(() => {
    tf.tidy(() => {
      for (const p of vars) p.assign(tf.mul(p, 1 - MLP.lr * MLP.weightDecay));
      const { value, grads } = tf.variableGrads(() => {
        const a = gelu(tf.add(tf.matMul(x, W1), b1));
        const y = tf.add(tf.matMul(a, W2), b2);
        return tf.mean(tf.square(tf.sub(y, target))) as tf.Scalar;
      }, vars);
      opt.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      loss = value.dataSync()[0];
    });
  }, 4 * BUDGET_MS, 10);
  return { backend: tf.getBackend(), threads, gemm, mlpTokPerS: T / (ms / 1000), mlpLoss: loss };
}

self.onmessage = async (e: MessageEvent<{ threads: number }>) => {
  const { threads } = e.data;
  try {
    const o = await ours(threads);
    let t: Figures["tfjs"];
    try {
      t = await tfjs(threads);
    } catch (err) {
      t = { error: String((err as Error)?.message ?? err) };
    }
    const fig: Figures = { threads, ours: o, tfjs: t, crossOriginIsolated: (self as unknown as { crossOriginIsolated: boolean }).crossOriginIsolated };
    self.postMessage({ ok: fig });
  } catch (err) {
    self.postMessage({ error: String((err as Error)?.stack ?? err) });
  }
};
