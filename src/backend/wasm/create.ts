// The wasm SIMD backend over the kernels module's bytes (no Node built-ins: a browser passes fetched
// bytes). Of the four builds (scripts/build-wasm.mjs) it picks the relaxed-SIMD one where the engine
// validates it (WebAssembly.validate: Chromium ships relaxed SIMD, Node 20 only behind
// --experimental-wasm-relaxed-simd), and the threaded one when threads > 1 and this thread may block on
// shared memory (pool.ts canBlock) and can start workers; else it runs on one thread and says why
// (threadNote). The TS reference serves every kernel the module lacks.
import type { FullBackend, KernelSet } from "../backend.js";
import { tsKernels } from "../ts/index.js";
import { ConfigError } from "../../tensor/errors.js";
import { compileWasmKernels, createKernelMemory, instantiateOn, type WasmKernelInstance } from "./module.js";
import { WasmHeap } from "./heap.js";
import { wasmKernels } from "./kernels.js";
import { WasmThreadPool, WORKER_STACK_BYTES, canBlock, type SpawnWorker } from "./pool.js";
import { browserCores, hasWebWorkers, webWorkerSpawner } from "./pool_browser.js";

type ModuleSource = BufferSource | WebAssembly.Module;

/** The builds of wasm/ (file names in WASM_FILES); only `simd` is required. */
export interface WasmModuleSet {
  simd: ModuleSource;
  relaxed?: ModuleSource;
  threads?: ModuleSource;
  threadsRelaxed?: ModuleSource;
}
export type WasmVariant = keyof WasmModuleSet;

/** The committed file of each build, under wasm/. */
export const WASM_FILES: Record<WasmVariant, string> = {
  simd: "peft_kernels.wasm",
  relaxed: "peft_kernels_relaxed.wasm",
  threads: "peft_kernels_threads.wasm",
  threadsRelaxed: "peft_kernels_threads_relaxed.wasm",
};

export interface WasmBackendOptions {
  /** Threads (the calling one included). Default: every core (navigator.hardwareConcurrency; Node's loader: PEFT_TS_WASM_THREADS, else os.availableParallelism()). */
  threads?: number;
  /** Take the relaxed-SIMD build where the engine has relaxed SIMD (default true). */
  relaxed?: boolean;
  /** Browser: the worker script to start instead of the built-in Blob worker (see pool_browser.ts). */
  workerUrl?: string | URL;
  /** Starts a worker (default: Web Workers where this realm has them; Node's loader passes worker_threads). */
  spawn?: SpawnWorker;
  /** Names the source in errors. */
  what?: string;
}

export interface WasmBackend extends FullBackend {
  /** Bytes the module's linear memory holds now (it grows to the largest kernel call). */
  memoryBytes(): number;
  /** The build in use. */
  readonly variant: WasmVariant;
  /** Why the backend runs on one thread although more were asked for (null when it has them or was asked for one). */
  readonly threadNote: string | null;
  /** Stops the worker pool (the backend then runs nothing more). */
  close(): void;
  /** Kernel calls so far that ran on the worker pool (big enough to split). */
  threadedCalls(): number;
}

function isModuleSet(s: ModuleSource | WasmModuleSet): s is WasmModuleSet {
  return !(s instanceof WebAssembly.Module) && !ArrayBuffer.isView(s) && !(s instanceof ArrayBuffer) && "simd" in s;
}

/** Whether the engine takes a build (a compiled Module: it already did). */
const validates = (s: ModuleSource | undefined) => s !== undefined && (s instanceof WebAssembly.Module || WebAssembly.validate(s));

interface Plan {
  variant: WasmVariant;
  threads: number;
  note: string | null;
  spawn: SpawnWorker | null;
}

function plan(set: WasmModuleSet, o: WasmBackendOptions): Plan {
  const asked = Math.max(1, Math.floor(o.threads ?? browserCores()));
  const spawn = o.spawn ?? (hasWebWorkers() ? webWorkerSpawner(o.workerUrl) : null);
  let note: string | null = null;
  if (asked > 1) {
    if (!set.threads) note = "no threaded build was given";
    else if (typeof SharedArrayBuffer !== "function" || (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false)
      note = "SharedArrayBuffer is unavailable (a browser page must be cross-origin isolated: COOP same-origin + COEP require-corp)";
    else if (!canBlock()) note = "Atomics.wait is not allowed on this thread (a browser's main thread: run training in a Web Worker)";
    else if (!spawn) note = "no way to start workers here";
  }
  const threads = note ? 1 : asked;
  const relaxed = o.relaxed !== false;
  const variant: WasmVariant = threads > 1
    ? (relaxed && validates(set.threadsRelaxed) ? "threadsRelaxed" : "threads")
    : (relaxed && validates(set.relaxed) ? "relaxed" : "simd");
  return { variant, threads, note, spawn };
}

interface Built {
  backend: WasmBackend;
  pool: WasmThreadPool | null;
}

function build(source: ModuleSource | WasmModuleSet, opts: string | WasmBackendOptions | undefined): Built {
  const o: WasmBackendOptions = typeof opts === "string" ? { what: opts, threads: 1 } : { ...opts };
  const set: WasmModuleSet = isModuleSet(source) ? source : { simd: source };
  if (!isModuleSet(source) && o.threads === undefined) o.threads = 1;
  const p = plan(set, o);
  const what = o.what ?? `wasm kernels (${WASM_FILES[p.variant]})`;
  const mod = compileWasmKernels(set[p.variant]!, what);
  const stacks = (p.threads - 1) * WORKER_STACK_BYTES;
  const inst: WasmKernelInstance = instantiateOn(mod, createKernelMemory(p.threads > 1, stacks), what);
  const stackBase = (inst.heapBase + 15) & ~15;
  const pool = p.threads > 1 ? new WasmThreadPool(inst.exports, mod, inst.memory, p.threads, stackBase, p.spawn!) : null;
  const heap = new WasmHeap(inst.memory, stackBase + stacks);
  const table = wasmKernels(inst.exports, heap, pool);
  const own = table.kernels;
  const backend: WasmBackend = {
    name: "wasm",
    supports: (k: keyof KernelSet) => k in own,
    numThreads: () => p.threads,
    // matmulBf16 is the TS kernel, which widens the bf16 weight to f32
    bf16RoundsInputs: () => false,
    memoryBytes: () => heap.byteLength(),
    variant: p.variant,
    threadNote: p.note,
    close: () => pool?.close(),
    threadedCalls: table.threadedCalls,
    ...tsKernels,
    ...own,
  };
  return { backend, pool };
}

/**
 * A wasm backend, synchronously. `source`: the bytes (or compiled Module) of the one-thread SIMD build,
 * which gives one thread as before, or a WasmModuleSet of the builds. `opts`: a name for errors (the
 * old signature) or WasmBackendOptions. Starting threads blocks until the workers are up, so in a
 * browser use createWasmBackendAsync.
 */
export function createWasmBackend(source: ModuleSource | WasmModuleSet, opts?: string | WasmBackendOptions): WasmBackend {
  const { backend, pool } = build(source, opts);
  pool?.waitReady();
  return backend;
}

/** createWasmBackend that awaits the workers' start instead of blocking (a browser page or worker). */
export async function createWasmBackendAsync(source: ModuleSource | WasmModuleSet, opts?: WasmBackendOptions): Promise<WasmBackend> {
  const { backend, pool } = build(source, opts);
  await pool?.ready();
  return backend;
}

/** Checks a thread count from an environment variable or option: a positive integer. */
export function parseThreads(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${what}='${value}': expected a positive integer thread count`);
  return n;
}
