// Reads the committed kernels module (wasm/peft_kernels.wasm) in Node: the only Node-specific part of
// the wasm backend. A browser build passes the bytes of a fetched Response to createWasmBackend instead.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The module's path: PEFT_TS_WASM names it explicitly, else wasm/peft_kernels.wasm above this file (from src/ or dist/src/). */
export function wasmModulePath(): string | null {
  const explicit = process.env.PEFT_TS_WASM;
  if (explicit) return existsSync(explicit) ? explicit : null;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, "wasm", "peft_kernels.wasm");
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return null;
}

export function readWasmModuleBytes(path: string): Uint8Array {
  return readFileSync(path);
}
