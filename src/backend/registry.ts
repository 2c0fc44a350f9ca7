// Backend selection: PEFT_TS_BACKEND=ts|native|wasm, else native when the addon loaded, else ts.
// The native and the Node wasm loaders are registered by the Node entry (src/node.ts), so the
// browser entry reaches neither the addon nor node:fs; a browser sets its wasm backend with useBackend.
import type { FullBackend } from "./backend.js";
import { tsBackend } from "./ts/index.js";
import { ConfigError } from "../tensor/errors.js";
import { envVar } from "../platform/env.js";

export interface BackendLoaders {
  /** The native addon's backend; null (not required) when it cannot be loaded. */
  native?: (opts: { required: boolean }) => FullBackend | null;
  /** The wasm backend over the module file. */
  wasm?: () => FullBackend;
}

let current: FullBackend | null = null;
const loaders: BackendLoaders = {};

/** Registers how "native" and "wasm" are loaded here (src/node.ts does it in Node). */
export function registerBackendLoaders(l: BackendLoaders): void {
  Object.assign(loaders, l);
}

function pick(name: string | undefined): FullBackend {
  if (name === "ts") return tsBackend;
  if (name === "native") {
    if (!loaders.native) throw new ConfigError("the native backend is Node-only: import peft-ts's Node entry (src/index.ts or src/node.ts) first");
    return loaders.native({ required: true })!;
  }
  if (name === "wasm") {
    if (!loaders.wasm) throw new ConfigError("no wasm module loader here: in a browser call useWasmBackend(url) (peft-ts/browser); in Node import peft-ts's Node entry");
    return loaders.wasm();
  }
  if (name !== undefined && name !== "") {
    throw new ConfigError(`PEFT_TS_BACKEND='${name}' is not a backend; expected 'ts', 'native' or 'wasm'`);
  }
  return loaders.native?.({ required: false }) ?? tsBackend;
}

/** The active backend (chosen on first use). */
export function getBackend(): FullBackend {
  if (!current) current = pick(envVar("PEFT_TS_BACKEND"));
  return current;
}

/** Selects the backend: "ts" (reference), "native" (C++ addon; throws if it is not built) or "wasm" (SIMD128 module). */
export function setBackend(name: "ts" | "native" | "wasm"): FullBackend {
  if (name !== "ts" && name !== "native" && name !== "wasm") throw new ConfigError(`setBackend('${name}'): expected 'ts', 'native' or 'wasm'`);
  current = pick(name);
  return current;
}

/** Makes an already built backend the active one (a browser's wasm backend over fetched bytes). */
export function useBackend(backend: FullBackend): FullBackend {
  current = backend;
  return current;
}

export { tsBackend };
