// The wasm SIMD backend: the C kernels of wasm/src compiled to wasm32 + SIMD128 (the committed
// wasm/peft_kernels.wasm), single-threaded, with the TS reference for every kernel it lacks.
// createWasmBackend takes the module's bytes (no Node built-ins); loadWasmBackend reads the
// committed file in Node (file_bytes.ts, registered by src/node.ts) and is what PEFT_TS_BACKEND=wasm selects.
import type { FullBackend, KernelSet } from "../backend.js";
import { tsKernels } from "../ts/index.js";
import { ConfigError } from "../../tensor/errors.js";
import { instantiateWasmKernels } from "./module.js";
import { WasmHeap } from "./heap.js";
import { wasmKernels } from "./kernels.js";
import { envVar } from "../../platform/env.js";

export interface WasmBackend extends FullBackend {
  /** Bytes the module's linear memory holds now (it grows to the largest kernel call). */
  memoryBytes(): number;
}

/** A wasm backend over the given module bytes (or compiled module); `what` names the source in errors. */
export function createWasmBackend(source: BufferSource | WebAssembly.Module, what?: string): WasmBackend {
  const inst = instantiateWasmKernels(source, what);
  const heap = new WasmHeap(inst.memory, inst.heapBase);
  const own = wasmKernels(inst.exports, heap);
  return {
    name: "wasm",
    supports: (k: keyof KernelSet) => k in own,
    numThreads: () => 1,
    // matmulBf16 is the TS kernel, which widens the bf16 weight to f32
    bf16RoundsInputs: () => false,
    memoryBytes: () => heap.byteLength(),
    ...tsKernels,
    ...own,
  };
}

let cached: WasmBackend | null = null;

/** Where the committed module file is and how to read it (Node: file_bytes.ts, registered by src/node.ts). */
export interface WasmModuleFile {
  path(): string | null;
  read(path: string): Uint8Array;
}

let moduleFile: WasmModuleFile | null = null;

export function registerWasmModuleFile(f: WasmModuleFile): void {
  moduleFile = f;
}

/** The wasm backend over the committed module; throws a ConfigError naming the file when it is missing or broken. */
export function loadWasmBackend(): WasmBackend {
  if (cached) return cached;
  if (!moduleFile) throw new ConfigError("wasm backend: no module file reader registered (Node: import src/node.ts; a browser: useWasmBackend(url))");
  const path = moduleFile.path();
  if (!path) {
    const explicit = envVar("PEFT_TS_WASM");
    throw new ConfigError(explicit ? `PEFT_TS_WASM=${explicit} does not exist` : "wasm backend: wasm/peft_kernels.wasm not found (run `npm run build:wasm`)");
  }
  cached = createWasmBackend(moduleFile.read(path), path);
  return cached;
}
