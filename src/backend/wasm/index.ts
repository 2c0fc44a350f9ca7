// The wasm SIMD backend: the C kernels of wasm/src compiled to wasm32 + SIMD128 (the committed
// wasm/peft_kernels*.wasm builds), on a pool of worker threads sharing the module's memory, with the TS
// reference for every kernel it lacks. create.ts builds it from module bytes (createWasmBackend,
// createWasmBackendAsync); loadWasmBackend is what PEFT_TS_BACKEND=wasm selects: it reads the committed
// files and starts workers through what the host registered (Node: src/node.ts registers file_bytes.ts
// and pool_node.ts's worker_threads), so this file stays free of Node built-ins.
import { ConfigError } from "../../tensor/errors.js";
import { envVar } from "../../platform/env.js";
import { WASM_FILES, createWasmBackend, parseThreads, type WasmBackend, type WasmModuleSet, type WasmVariant } from "./create.js";
import type { SpawnWorker } from "./pool.js";
import { browserCores } from "./pool_browser.js";

export { WASM_FILES, createWasmBackend, createWasmBackendAsync, parseThreads } from "./create.js";
export type { WasmBackend, WasmBackendOptions, WasmModuleSet, WasmVariant } from "./create.js";

/** Where the committed module file is and how to read it (Node: file_bytes.ts, registered by src/node.ts). */
export interface WasmModuleFile {
  path(): string | null;
  read(path: string): Uint8Array;
}

/** How this host starts kernel workers and how many cores it has (Node: pool_node.ts, registered by src/node.ts). */
export interface WasmThreadHost {
  spawn: SpawnWorker;
  cores(): number;
}

let moduleFile: WasmModuleFile | null = null;
let threadHost: WasmThreadHost | null = null;

export function registerWasmModuleFile(f: WasmModuleFile): void {
  moduleFile = f;
}

export function registerWasmThreadHost(h: WasmThreadHost): void {
  threadHost = h;
}

/** Threads for loadWasmBackend: PEFT_TS_WASM_THREADS, else every core (the registered host's count, else navigator.hardwareConcurrency). */
export function wasmThreadsFromEnv(): number {
  const v = envVar("PEFT_TS_WASM_THREADS");
  return v ? parseThreads(v, "PEFT_TS_WASM_THREADS") : threadHost?.cores() ?? browserCores();
}

/** The committed builds next to the one-thread module at `path` (the others are optional). */
export function readWasmModuleSet(path: string): WasmModuleSet {
  if (!moduleFile) throw new ConfigError("wasm backend: no module file reader registered (Node: import src/node.ts; a browser: useWasmBackend(url))");
  const set: Partial<WasmModuleSet> = {};
  for (const [variant, file] of Object.entries(WASM_FILES) as [WasmVariant, string][]) {
    const p = variant === "simd" ? path : path.replace(/peft_kernels\.wasm$/, file);
    if (variant !== "simd" && p === path) continue;
    try {
      set[variant] = moduleFile.read(p);
    } catch (e) {
      if (variant === "simd") throw e;
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
  if (!moduleFile) throw new ConfigError("wasm backend: no module file reader registered (Node: import src/node.ts; a browser: useWasmBackend(url))");
  const path = moduleFile.path();
  if (!path) {
    const explicit = envVar("PEFT_TS_WASM");
    throw new ConfigError(explicit ? `PEFT_TS_WASM=${explicit} does not exist` : "wasm backend: wasm/peft_kernels.wasm not found (run `npm run build:wasm`)");
  }
  cached?.close();
  cached = createWasmBackend(readWasmModuleSet(path), { threads, spawn: threadHost?.spawn });
  return cached;
}
