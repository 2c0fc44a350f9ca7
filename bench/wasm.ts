// Suite "wasm": the wasm SIMD backend side by side with the TS reference and the native addon, all
// single-threaded (`web` compares threads, in the browser): f32 GEMM GFLOP/s at LoRA shapes (a
// Linear x·Wᵀ, the adapter's rank-r products and a per-head attention product), copies in and out of
// the module's memory included, and one LoRA training step (q/v targets, r 8) at bert-small shapes
// (batch 8, seq 128) in tokens/s. The ts LoRA step takes about a minute: pass --with-ts for it.
// Rows: "ours" is wasm, "reference" the other backend; ratio > 1 means wasm is faster.
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { rateRow, timeMs } from "./common.js";
import { buildModel, makeBatch, withBenchLora } from "./lora.js";
import { tsBackend } from "../src/backend/ts/index.js";
import { loadWasmBackend } from "../src/backend/wasm/index.js";
import { loadNativeBackend, nativeAddon } from "../src/backend/native/index.js";
import { getBackend, setBackend } from "../src/backend/registry.js";
import type { FullBackend, MatmulParams } from "../src/backend/backend.js";
import { Rng } from "../src/tensor/random.js";

const SHAPES: [number, number, number][] = [[128, 768, 768], [128, 3072, 768], [512, 64, 64], [1024, 8, 768], [1024, 768, 8]];

function gemmGflops(be: FullBackend, m: number, n: number, k: number, quick: boolean): number {
  const rng = new Rng(3);
  const x = rng.fillNormal(new Float32Array(m * k)), w = rng.fillNormal(new Float32Array(n * k)), out = new Float32Array(m * n);
  const p: MatmulParams = { batch: 1, m, n, k, transA: false, transB: true, strideA: 0, strideB: 0, strideOut: 0, accumulate: false };
  const flop = 2 * m * n * k;
  // enough calls for ~0.2 s of native time; the TS kernel gets fewer
  const reps = Math.max(3, Math.min(200, Math.round((quick ? 2e9 : 2e10) / flop / (be.name === "ts" ? 20 : 1))));
  const ms = timeMs(() => be.matmul(x, w, out, p), reps, be.name === "ts" ? 1 : 10);
  return flop / ms / 1e6;
}

async function loraStepTokPerS(backend: "ts" | "wasm" | "native", steps: number): Promise<{ tokPerS: number; loss: number }> {
  const before = getBackend();
  setBackend(backend);
  try {
    const { AdamW } = await import("../src/train/optim/index.js");
    const pm = await withBenchLora(await buildModel("bert-small"), "bert-small", false);
    const params = pm.parameters().filter((p: { requiresGrad: boolean }) => p.requiresGrad);
    const opt = new AdamW(params, { lr: 1e-4, weightDecay: 0.01 });
    const { inputs, tokens } = await makeBatch("bert-small", true);
    pm.train();
    const times: number[] = [];
    let loss = NaN;
    for (let i = 0; i <= steps; i++) {
      const t0 = performance.now();
      const out = pm.forward(inputs);
      out.loss!.backward();
      opt.step();
      pm.zeroGrad();
      loss = out.loss!.item();
      if (i > 0) times.push(performance.now() - t0); // the first step warms up
    }
    times.sort((a, b) => a - b);
    return { tokPerS: tokens / (times[times.length >> 1] / 1000), loss };
  } finally {
    setBackend(before.name);
  }
}

export const wasmSuite: Suite = {
  name: "wasm",
  description: "wasm SIMD backend vs ts and native (1 thread each): GEMM GFLOP/s at LoRA shapes, a bert-small LoRA step (--with-ts: also on ts)",
  async run(opts: BenchOptions, emit: (row: BenchRow) => void): Promise<void> {
    // setBackend("wasm") in the LoRA step reads the thread count from the environment
    const savedThreads = process.env.PEFT_TS_WASM_THREADS;
    process.env.PEFT_TS_WASM_THREADS = "1";
    try {
      await runOneThread(opts, emit);
    } finally {
      if (savedThreads === undefined) delete process.env.PEFT_TS_WASM_THREADS;
      else process.env.PEFT_TS_WASM_THREADS = savedThreads;
    }
  },
};

async function runOneThread(opts: BenchOptions, emit: (row: BenchRow) => void): Promise<void> {
  const wasm = loadWasmBackend(1);
  const native = loadNativeBackend({ required: false });
  nativeAddon()?.setNumThreads(1);
  if (!opts.json) console.log(`# 1 thread each; wasm build ${wasm.variant} (Node 20: relaxed SIMD only with node --experimental-wasm-relaxed-simd); native: ${native ? nativeAddon()!.info().gemm : "unavailable"}; the copies into and out of the wasm memory are included`);
  for (const [m, n, k] of SHAPES) {
    const w = gemmGflops(wasm, m, n, k, opts.quick);
    emit(rateRow("wasm", `gemm ${m}x${n}x${k} wasm vs ts`, w, gemmGflops(tsBackend, m, n, k, opts.quick), "GFLOP/s"));
    if (native) emit(rateRow("wasm", `gemm ${m}x${n}x${k} wasm vs native`, w, gemmGflops(native, m, n, k, opts.quick), "GFLOP/s"));
  }
  const steps = opts.quick ? 1 : 3;
  const w = await loraStepTokPerS("wasm", steps);
  if (!opts.json) console.log(`# bert-small LoRA q/v r8, batch 8 × seq 128: wasm loss ${w.loss.toFixed(4)}`);
  if (native) emit(rateRow("wasm", "lora step bert-small wasm vs native", w.tokPerS, (await loraStepTokPerS("native", steps)).tokPerS, "tok/s"));
  if (opts.args.includes("--with-ts")) emit(rateRow("wasm", "lora step bert-small wasm vs ts", w.tokPerS, (await loraStepTokPerS("ts", 1)).tokPerS, "tok/s"));
  else if (!native) emit(rateRow("wasm", "lora step bert-small wasm", w.tokPerS, null, "tok/s"));
}
