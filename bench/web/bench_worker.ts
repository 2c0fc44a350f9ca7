// The browser side of `npm run bench -- web`: a Web Worker (Atomics.wait is allowed here, not on the
// page's main thread) started by page.html with {threads}. It measures the workloads of workloads.ts on
// our wasm backend (createWasmBackendAsync over the modules served under /wasm/; also the library's
// LoRA step of lora_step.ts on it, the cases coming with the message) and the same GEMMs and
// the same MLP step written with tfjs-core + @tensorflow/tfjs-backend-wasm (its .wasm files served under
// /tfjs/), both on `threads` threads, and posts back the figures. One worker per thread count: tfjs
// fixes its thread count when its backend starts. tfjs gets its weights stored [in, out] (as its dense
// layers keep them): its matMul with transposeB is ~10× slower than without (measured in Chromium 156).
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { createWasmBackendAsync, WASM_FILES, type WasmModuleSet, type WasmVariant } from "../../src/backend/wasm/create.js";
import { GEMM_SHAPES, MLP, fill, gemmGflops, medianMs, mlpTokensPerS } from "./workloads.js";
import { useBackend } from "../../src/core.js";
import { loraTokensPerS, type LoraCase } from "./lora_step.js";

interface Figures {
  threads: number;
  ours: { variant: string; threads: number; note: string | null; gemm: number[]; mlpTokPerS: number; mlpLoss: number; lora: { name: string; tokPerS: number; loss: number }[] };
  tfjs: { backend: string; threads: number; gemm: number[]; mlpTokPerS: number; mlpLoss: number } | { error: string };
  crossOriginIsolated: boolean;
}

const BUDGET_MS = 200;
/** Rounds per figure: ours and tfjs alternate and each keeps its best round (the machine's load drifts). */
const ROUNDS = 2;

async function oursBackend(threads: number) {
  const set: Partial<WasmModuleSet> = {};
  for (const [v, file] of Object.entries(WASM_FILES) as [WasmVariant, string][])
    set[v] = new Uint8Array(await (await fetch(`/wasm/${file}`)).arrayBuffer());
  return createWasmBackendAsync(set as WasmModuleSet, { threads });
}

/** tfjs on its wasm backend with `threads` threads, or why not. */
async function tfjsReady(threads: number): Promise<string | null> {
  try {
    setWasmPaths("/tfjs/");
    setThreadsCount(threads);
    if (!(await tf.setBackend("wasm"))) return "tf.setBackend('wasm') failed";
    await tf.ready();
    return null;
  } catch (err) {
    return String((err as Error)?.message ?? err);
  }
}

function tfGemmGflops([m, n, k]: [number, number, number]): number {
  const x = tf.tensor2d(fill(m * k, 1), [m, k]), w = tf.tensor2d(fill(n * k, 2), [k, n]);
  const ms = medianMs(() => {
    const y = tf.matMul(x, w);
    y.dataSync();
    y.dispose();
  }, BUDGET_MS);
  x.dispose();
  w.dispose();
  return (2 * m * n * k) / ms / 1e6;
}

const INV_SQRT2 = Math.SQRT1_2;
const gelu = (z: tf.Tensor) => tf.mul(tf.mul(z, 0.5), tf.add(1, tf.erf(tf.mul(z, INV_SQRT2))));

/** workloads.ts's MLP step in tfjs: tf.variableGrads for the backward, AdamW as Adam plus decoupled decay. */
function tfMlpTrainer(): { step(): number } {
  const { tokens: T, dim: D, hidden: H } = MLP;
  const x = tf.tensor2d(fill(T * D, 3), [T, D]), target = tf.tensor2d(fill(T * D, 4), [T, D]);
  const W1 = tf.variable(tf.tensor2d(fill(H * D, 5, 0.02), [D, H])), b1 = tf.variable(tf.zeros([H]));
  const W2 = tf.variable(tf.tensor2d(fill(D * H, 6, 0.02), [H, D])), b2 = tf.variable(tf.zeros([D]));
  const vars = [W1, b1, W2, b2];
  const opt = tf.train.adam(MLP.lr, 0.9, 0.999, 1e-8);
  return {
    step: () => tf.tidy(() => {
      for (const p of vars) p.assign(tf.mul(p, 1 - MLP.lr * MLP.weightDecay));
      const { value, grads } = tf.variableGrads(() => {
        const a = gelu(tf.add(tf.matMul(x, W1), b1));
        const y = tf.add(tf.matMul(a, W2), b2);
        return tf.mean(tf.square(tf.sub(y, target))) as tf.Scalar;
      }, vars);
      opt.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      return value.dataSync()[0];
    }),
  };
}

/** Best of ROUNDS of `a` and `b`, alternating. */
function alternate(a: () => number, b: (() => number) | null): [number, number | null] {
  let ba = 0, bb: number | null = b ? 0 : null;
  for (let r = 0; r < ROUNDS; r++) {
    ba = Math.max(ba, a());
    if (b) bb = Math.max(bb!, b());
  }
  return [ba, bb];
}

async function measure(threads: number, loraCases: LoraCase[]): Promise<Figures> {
  const be = await oursBackend(threads);
  const tfError = await tfjsReady(threads);
  const tfOk = tfError === null;
  const gemm = GEMM_SHAPES.map((s) => alternate(() => gemmGflops(be, s, BUDGET_MS), tfOk ? () => tfGemmGflops(s) : null));
  // MLP steps: ours measured over ~1 s a round, tfjs (seconds a step) one step a round after a warm-up
  const { tokens } = MLP;
  const tfm = tfOk ? tfMlpTrainer() : null;
  let tfLoss = tfm ? tfm.step() : NaN, oursLoss = NaN;
  const [oursMlp, tfMlp] = alternate(() => {
    const r = mlpTokensPerS(be, 4 * BUDGET_MS);
    oursLoss = r.loss;
    return r.tokPerS;
  }, tfm ? () => {
    const t0 = performance.now();
    tfLoss = tfm.step();
    return tokens / ((performance.now() - t0) / 1000);
  } : null);
  // the library's LoRA step on our backend
  useBackend(be);
  const lora = loraCases.map((c) => ({ name: c.name, ...loraTokensPerS(c, 3 * BUDGET_MS) }));
  be.close();
  return {
    threads,
    ours: { variant: be.variant, threads: be.numThreads(), note: be.threadNote, gemm: gemm.map((g) => g[0]), mlpTokPerS: oursMlp, mlpLoss: oursLoss, lora },
    tfjs: tfOk ? { backend: tf.getBackend(), threads, gemm: gemm.map((g) => g[1]!), mlpTokPerS: tfMlp!, mlpLoss: tfLoss } : { error: tfError },
    crossOriginIsolated: (self as unknown as { crossOriginIsolated: boolean }).crossOriginIsolated,
  };
}

self.onmessage = async (e: MessageEvent<{ threads: number; lora: LoraCase[] }>) => {
  try {
    self.postMessage({ ok: await measure(e.data.threads, e.data.lora) });
  } catch (err) {
    self.postMessage({ error: String((err as Error)?.stack ?? err) });
  }
};
