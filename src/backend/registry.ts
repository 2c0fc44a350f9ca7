// Backend selection: PEFT_TS_BACKEND=ts|native|wasm, else native when the addon loaded, else ts.
import type { FullBackend } from "./backend.js";
import { tsBackend } from "./ts/index.js";
import { loadNativeBackend } from "./native/index.js";
import { loadWasmBackend } from "./wasm/index.js";
import { ConfigError } from "../tensor/errors.js";

let current: FullBackend | null = null;

function pick(name: string | undefined): FullBackend {
  if (name === "ts") return tsBackend;
  if (name === "native") {
    const nb = loadNativeBackend({ required: true });
    return nb!;
  }
  if (name === "wasm") return loadWasmBackend();
  if (name !== undefined && name !== "") {
    throw new ConfigError(`PEFT_TS_BACKEND='${name}' is not a backend; expected 'ts', 'native' or 'wasm'`);
  }
  return loadNativeBackend({ required: false }) ?? tsBackend;
}

/** The active backend (chosen on first use). */
export function getBackend(): FullBackend {
  if (!current) current = pick(process.env.PEFT_TS_BACKEND);
  return current;
}

/** Selects the backend: "ts" (reference), "native" (C++ addon; throws if it is not built) or "wasm" (SIMD128 module). */
export function setBackend(name: "ts" | "native" | "wasm"): FullBackend {
  if (name !== "ts" && name !== "native" && name !== "wasm") throw new ConfigError(`setBackend('${name}'): expected 'ts', 'native' or 'wasm'`);
  current = pick(name);
  return current;
}

export { tsBackend };
