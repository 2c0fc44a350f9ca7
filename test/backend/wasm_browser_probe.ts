// Bundled for Chromium by wasm_browser.test.ts (no Node built-ins). On the page's main thread it asks
// createWasmBackendAsync for 2 threads (which must fall back to 1: Atomics.wait is not allowed there),
// then starts itself as a Web Worker, where it builds a 1-thread and a 2-thread backend and runs a GEMM
// and a softmax on both; everything comes back in window.__probe for the test to check.
import { createWasmBackendAsync, WASM_FILES, type WasmModuleSet, type WasmVariant } from "../../src/backend/wasm/create.js";
import type { MatmulParams } from "../../src/backend/backend.js";
import { fill } from "../../bench/web/workloads.js";

export const GEMM: MatmulParams = { batch: 1, m: 130, n: 515, k: 257, transA: false, transB: true, strideA: 0, strideB: 0, strideOut: 0, accumulate: false };
export const SOFTMAX = { rows: 301, cols: 203 };

async function backend(threads: number) {
  const set: Partial<WasmModuleSet> = {};
  for (const [v, file] of Object.entries(WASM_FILES) as [WasmVariant, string][]) set[v] = new Uint8Array(await (await fetch(`/wasm/${file}`)).arrayBuffer());
  return createWasmBackendAsync(set as WasmModuleSet, { threads });
}

async function run(threads: number) {
  const be = await backend(threads);
  const a = fill(GEMM.m * GEMM.k, 1), b = fill(GEMM.n * GEMM.k, 2), out = new Float32Array(GEMM.m * GEMM.n);
  be.matmul(a, b, out, GEMM);
  const x = fill(SOFTMAX.rows * SOFTMAX.cols, 3, 3), y = new Float32Array(x.length);
  be.softmax(x, y, SOFTMAX.rows, SOFTMAX.cols);
  const r = { threads: be.numThreads(), variant: be.variant, note: be.threadNote, threadedCalls: be.threadedCalls(), gemm: Array.from(out), softmax: Array.from(y) };
  be.close();
  return r;
}

// (imported by the test in Node too, for GEMM and SOFTMAX: there neither branch runs)
const g = globalThis as unknown as { __probe: unknown; crossOriginIsolated: boolean; document?: unknown; WorkerGlobalScope?: unknown };
if (g.WorkerGlobalScope !== undefined) {
  self.onmessage = async () => {
    try {
      self.postMessage({ one: await run(1), two: await run(2) });
    } catch (e) {
      self.postMessage({ error: String((e as Error)?.stack ?? e) });
    }
  };
} else if (g.document !== undefined) {
  (async () => {
    try {
      const main = await backend(2);
      const onMain = { threads: main.numThreads(), variant: main.variant, note: main.threadNote };
      const w = new Worker("/probe.js");
      const inWorker = await new Promise((res) => {
        w.onmessage = (e) => res(e.data);
        w.onerror = (e) => res({ error: e.message });
        w.postMessage(null);
      });
      g.__probe = { crossOriginIsolated: g.crossOriginIsolated, onMain, inWorker };
    } catch (e) {
      g.__probe = { error: String((e as Error)?.stack ?? e) };
    }
  })();
}
