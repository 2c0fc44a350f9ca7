// Backend choice in the browser: WebGPU when an adapter exists, else wasm, else the TS reference;
// a caller's preference overrides it (and fails loudly when the preferred backend is unavailable).
import { ConfigError } from "../../tensor/errors.js";
import type { Gpu, GpuAdapter } from "./gpu_types.js";

export type BrowserBackendName = "webgpu" | "wasm" | "ts";

export interface BrowserBackendChoice {
  name: BrowserBackendName;
  /** The adapter when name is "webgpu". */
  adapter: GpuAdapter | null;
  /** Why this backend: shown to the user next to the backend in use. */
  reason: string;
}

function navigatorGpu(): Gpu | undefined {
  const nav = (globalThis as { navigator?: { gpu?: Gpu } }).navigator;
  return nav?.gpu;
}

/**
 * The WebGPU adapter of this page (high-performance preference), or null where there is none: no
 * navigator.gpu (not a secure context, or a browser without WebGPU), or no adapter (blocklisted or
 * absent GPU). Never throws.
 */
export async function detectWebGpu(gpu: Gpu | undefined = navigatorGpu()): Promise<GpuAdapter | null> {
  if (!gpu) return null;
  try {
    return await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch {
    return null;
  }
}

/**
 * Picks the backend: `prefer` "auto" (default) takes the first available of webgpu, wasm, ts among
 * `allow` (default all three: a caller whose engine cannot run a backend yet leaves it out, e.g.
 * allow: ["wasm", "ts"] while the Tensor engine has no WebGPU storage). A named preference is
 * honoured or refused with a ConfigError saying why. wasm counts as available when WebAssembly
 * exists (pass wasmAvailable to override, e.g. false when the module failed to load).
 */
export async function pickBrowserBackend(opts: {
  prefer?: BrowserBackendName | "auto";
  allow?: readonly BrowserBackendName[];
  wasmAvailable?: boolean;
  gpu?: Gpu;
} = {}): Promise<BrowserBackendChoice> {
  const prefer = opts.prefer ?? "auto";
  const allow = opts.allow ?? ["webgpu", "wasm", "ts"];
  if (!["auto", "webgpu", "wasm", "ts"].includes(prefer)) throw new ConfigError(`backend '${prefer}': expected 'auto', 'webgpu', 'wasm' or 'ts'`);
  if (prefer !== "auto" && !allow.includes(prefer)) throw new ConfigError(`backend '${prefer}' is not allowed here (allowed: ${allow.join(", ")})`);
  const wasm = opts.wasmAvailable ?? typeof WebAssembly === "object";
  const wantGpu = allow.includes("webgpu") && (prefer === "auto" || prefer === "webgpu");
  const adapter = wantGpu ? await detectWebGpu(opts.gpu ?? navigatorGpu()) : null;
  if (prefer === "webgpu") {
    if (!adapter) throw new ConfigError("backend 'webgpu' was asked for, but this browser gives no WebGPU adapter (navigator.gpu missing or requestAdapter() returned null)");
    return { name: "webgpu", adapter, reason: "asked for" };
  }
  if (prefer === "wasm") {
    if (!wasm) throw new ConfigError("backend 'wasm' was asked for, but WebAssembly is not available");
    return { name: "wasm", adapter: null, reason: "asked for" };
  }
  if (prefer === "ts") return { name: "ts", adapter: null, reason: "asked for" };
  if (adapter) return { name: "webgpu", adapter, reason: "a WebGPU adapter is available" };
  if (allow.includes("wasm") && wasm) return { name: "wasm", adapter: null, reason: allow.includes("webgpu") ? "no WebGPU adapter" : "WebGPU not allowed here" };
  if (allow.includes("ts")) return { name: "ts", adapter: null, reason: "neither WebGPU nor WebAssembly is available" };
  throw new ConfigError(`no allowed backend is available (allowed: ${allow.join(", ")})`);
}
