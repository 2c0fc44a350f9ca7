// The public API of peft-ts in a browser (package.json's "browser" condition): the portable core
// (src/core.ts) over an in-memory file system, with the helpers that fill it (fetch, dropped
// Files), keep it across reloads (OPFS / IndexedDB), and set the wasm backend from fetched bytes.
// Nothing here reaches Node built-ins, the native addon, MPI or the CLI (test/browser/bundle.test.ts).
import { setFiles } from "./platform/files.js";
import { MemoryFiles } from "./platform/memory_files.js";
import { createWasmBackend, type WasmBackend } from "./backend/wasm/index.js";
import { useBackend } from "./backend/registry.js";
import { ConfigError } from "./tensor/errors.js";

export * from "./core.js";
export { mountUrl, mountBlobs, type MountUrlOptions } from "./platform/memory_mount.js";
export { persistToOpfs, restoreFromOpfs, type PersistTarget } from "./platform/memory_persist.js";

/** The file system every library call of this page reads and writes (paths start at "/"). */
export const memoryFiles = new MemoryFiles();
setFiles(memoryFiles);

/** The module's name next to the bundle (scripts/build-browser.mjs copies it there). */
export const WASM_MODULE_NAME = "peft_kernels.wasm";

/**
 * Fetches the wasm SIMD kernels (default: peft_kernels.wasm next to this module), builds the wasm
 * backend over them and makes it the active one. Bytes or a compiled module are taken as they are.
 */
export async function useWasmBackend(source?: string | URL | BufferSource | WebAssembly.Module): Promise<WasmBackend> {
  let bytes: BufferSource | WebAssembly.Module;
  let what: string;
  if (source === undefined || typeof source === "string" || source instanceof URL) {
    const url = new URL(source ?? WASM_MODULE_NAME, import.meta.url).href;
    const res = await fetch(url);
    if (!res.ok) throw new ConfigError(`useWasmBackend: ${url} answered HTTP ${res.status}; expected the wasm kernels module (${WASM_MODULE_NAME})`);
    bytes = await res.arrayBuffer();
    what = url;
  } else {
    bytes = source;
    what = "the given wasm module";
  }
  const backend = createWasmBackend(bytes, what);
  useBackend(backend);
  return backend;
}
