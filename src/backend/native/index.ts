// Loads the native addon (build/Release/peft_native.node) and wraps it as a Backend.
// Kernels the addon lacks fall back to the TS reference kernels.
// TODO(native helper): wrap the addon's kernels.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FullBackend, KernelSet } from "../backend.js";
import { tsKernels } from "../ts/index.js";
import { ConfigError } from "../../tensor/errors.js";

let cached: FullBackend | null | undefined;
let warned = false;

function findAddon(): string | null {
  // walk up from this file to the package root (works from src/ under tsx and from dist/src/)
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, "build", "Release", "peft_native.node");
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return null;
}

export function loadNativeBackend(opts: { required: boolean }): FullBackend | null {
  if (cached !== undefined) {
    if (!cached && opts.required) throw new ConfigError("native backend requested but the addon is not built (run `npm run build:native`; see the warning above)");
    return cached;
  }
  const path = findAddon();
  let addon: any = null;
  let why = "build/Release/peft_native.node not found";
  if (path) {
    try {
      addon = createRequire(import.meta.url)(path);
    } catch (e) {
      why = `loading ${path} failed: ${(e as Error).message}`;
    }
  }
  if (!addon) {
    cached = null;
    if (opts.required) throw new ConfigError(`native backend requested but unavailable: ${why}`);
    if (!warned) {
      warned = true;
      process.emitWarning(`peft-ts: native addon unavailable (${why}); using the TS backend (slower)`);
    }
    return null;
  }
  const own: Partial<KernelSet> = {};
  const kernels = { ...tsKernels, ...own };
  cached = {
    name: "native",
    supports: (k) => k in own,
    numThreads: () => (typeof addon.numThreads === "function" ? addon.numThreads() : 1),
    ...kernels,
  };
  return cached;
}
