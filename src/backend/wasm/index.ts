// The wasm SIMD backend: the C kernels of wasm/src compiled to wasm32 + SIMD128 (the committed
// wasm/peft_kernels*.wasm builds), on a pool of worker threads sharing the module's memory, with the TS
// reference for every kernel it lacks. create.ts holds the browser-safe part (createWasmBackend,
// createWasmBackendAsync over module bytes); loadWasmBackend is Node's loader (file_bytes.ts reads the
// committed files, pool_node.ts starts worker_threads) and is what PEFT_TS_BACKEND=wasm selects.
import { ConfigError } from "../../tensor/errors.js";
import { WASM_FILES, createWasmBackend, parseThreads, type WasmBackend, type WasmModuleSet, type WasmVariant } from "./create.js";
import { readWasmModuleBytes, wasmModulePath } from "./file_bytes.js";
import { nodeCores, spawnNodeWorker } from "./pool_node.js";

export { WASM_FILES, createWasmBackend, createWasmBackendAsync, parseThreads } from "./create.js";
export type { WasmBackend, WasmBackendOptions, WasmModuleSet, WasmVariant } from "./create.js";

/** Threads for Node: PEFT_TS_WASM_THREADS, else every core the process may use. */
export function wasmThreadsFromEnv(): number {
  const v = process.env.PEFT_TS_WASM_THREADS;
  return v ? parseThreads(v, "PEFT_TS_WASM_THREADS") : nodeCores();
}

/** The committed builds next to the one-thread module at `path` (the others are optional). */
export function readWasmModuleSet(path: string): WasmModuleSet {
  const set: Partial<WasmModuleSet> = {};
  for (const [variant, file] of Object.entries(WASM_FILES) as [WasmVariant, string][]) {
    const p = variant === "simd" ? path : path.replace(/peft_kernels\.wasm$/, file);
    if (variant === "simd" || p !== path) {
      try {
        set[variant] = readWasmModuleBytes(p);
      } catch (e) {
        if (variant === "simd") throw e;
      }
    }
  }
  return set as WasmModuleSet;
}

let cached: WasmBackend | null = null;

/**
 * The wasm backend over the committed modules, on wasmThreadsFromEnv() threads (`threads` overrides);
 * throws a ConfigError naming the file when it is missing or broken. One backend is kept per process
 * (a different thread count replaces it).
 */
export function loadWasmBackend(threads = wasmThreadsFromEnv()): WasmBackend {
  if (cached && cached.numThreads() === threads) return cached;
  const path = wasmModulePath();
  if (!path) {
    const explicit = process.env.PEFT_TS_WASM;
    throw new ConfigError(explicit ? `PEFT_TS_WASM=${explicit} does not exist` : "wasm backend: wasm/peft_kernels.wasm not found (run `npm run build:wasm`)");
  }
  cached?.close();
  cached = createWasmBackend(readWasmModuleSet(path), { threads, spawn: spawnNodeWorker });
  return cached;
}
