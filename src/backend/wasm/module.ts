// Compiles and instantiates the kernels' WebAssembly module synchronously, with a memory created here
// and imported by the module (env.memory): private for the one-thread variants, shared (a
// SharedArrayBuffer underneath) for the threaded ones, where the worker pool instantiates the same
// module on the same memory. No Node built-ins: a browser loader passes the bytes of a fetched
// Response (or a precompiled WebAssembly.Module) the same way.
import { ConfigError } from "../../tensor/errors.js";

/** The C exports (wasm/src/*.c); pointers are byte offsets into the memory. part/parts: see pool.ts. */
export interface WasmKernelExports {
  gemm(a: number, b: number, out: number, batch: number, m: number, n: number, k: number, transA: number, transB: number,
    strideA: number, strideB: number, strideOut: number, accumulate: number, scratch: number, part: number, parts: number): void;
  gemm_scratch_floats(): number;
  softmax(x: number, out: number, rows: number, cols: number, part: number, parts: number): void;
  softmax_backward(y: number, gy: number, gx: number, rows: number, cols: number, part: number, parts: number): void;
  log_softmax(x: number, out: number, rows: number, cols: number, part: number, parts: number): void;
  log_softmax_backward(y: number, gy: number, gx: number, rows: number, cols: number, part: number, parts: number): void;
  layer_norm(x: number, w: number, b: number, out: number, mean: number, rstd: number, rows: number, cols: number, eps: number, part: number, parts: number): void;
  layer_norm_backward(x: number, w: number, mean: number, rstd: number, gy: number, gx: number, gw: number, gb: number, rows: number, cols: number): void;
  rms_norm(x: number, w: number, out: number, rstd: number, rows: number, cols: number, eps: number, part: number, parts: number): void;
  rms_norm_backward(x: number, w: number, rstd: number, gy: number, gx: number, gw: number, rows: number, cols: number): void;
  activation(op: number, x: number, out: number, n: number, part: number, parts: number): void;
  activation_backward(op: number, x: number, gy: number, gx: number, n: number, part: number, parts: number): void;
  bias_add(x: number, bias: number, rows: number, cols: number, part: number, parts: number): void;
  column_sum_add(x: number, out: number, rows: number, cols: number, part: number, parts: number): void;
  adamw(p: number, g: number, m: number, v: number, n: number, decay: number, hasDecay: number, w1: number, lerpLow: number,
    w2: number, b2: number, bc2Sqrt: number, negStepSize: number, eps: number, part: number, parts: number): void;
  cross_entropy(logits: number, labels: number, loss: number, lse: number, rows: number, cols: number, ignoreIndex: number, eps: number, part: number, parts: number): void;
  cross_entropy_backward(logits: number, lse: number, labels: number, gLoss: number, gLogits: number, rows: number, cols: number, ignoreIndex: number, eps: number,
    part: number, parts: number): void;
  attention(q: number, k: number, v: number, mask: number, out: number, probs: number, batch: number, heads: number, kvHeads: number,
    tq: number, tk: number, headDim: number, scale: number, causal: number, drop: number, scratch: number, part: number, parts: number): void;
  attention_backward(q: number, k: number, v: number, probs: number, gOut: number, gq: number, gk: number, gv: number, batch: number, heads: number,
    kvHeads: number, tq: number, tk: number, headDim: number, scale: number, drop: number, scratch: number, part: number, parts: number): void;
  silu_mul(gate: number, up: number, out: number, n: number, part: number, parts: number): void;
  silu_mul_backward(gate: number, up: number, gy: number, gGate: number, gUp: number, n: number, part: number, parts: number): void;
  __heap_base: WebAssembly.Global;
  /** Exported by the threaded variants only: each instance's own stack top. */
  __stack_pointer?: WebAssembly.Global;
}

export interface WasmKernelInstance {
  exports: WasmKernelExports;
  memory: WebAssembly.Memory;
  /** First free byte after the module's stack and data (where the worker stacks, then the host's heap, start). */
  heapBase: number;
}

export const PAGE = 65536;
/** Pages a memory starts with beyond the module's own stack and data (the worker stacks, the first calls). */
const SPARE_PAGES = 16;
/** wasm32's limit: 4 GiB (the threaded variants declare it as their maximum). */
const MAX_PAGES = 65536;
const REQUIRED = ["gemm", "gemm_scratch_floats", "softmax", "layer_norm", "rms_norm", "activation", "adamw", "cross_entropy", "attention", "__heap_base"];

/** Compiles the kernels module from its bytes (or checks a precompiled one); `what` names the source in errors. */
export function compileWasmKernels(source: BufferSource | WebAssembly.Module, what: string): WebAssembly.Module {
  let mod: WebAssembly.Module;
  try {
    mod = source instanceof WebAssembly.Module ? source : new WebAssembly.Module(source);
  } catch (e) {
    throw new ConfigError(`${what}: not a valid WebAssembly module (${(e as Error).message}); rebuild it with \`npm run build:wasm\``);
  }
  const names = new Set(WebAssembly.Module.exports(mod).map((e) => e.name));
  const missing = REQUIRED.filter((n) => !names.has(n));
  if (missing.length) throw new ConfigError(`${what}: module lacks the exports ${missing.join(", ")}; rebuild it with \`npm run build:wasm\``);
  return mod;
}

/** A memory for the module: `shared` for the threaded variants, with room for `extraBytes` past the module's own data. */
export function createKernelMemory(shared: boolean, extraBytes: number): WebAssembly.Memory {
  const initial = SPARE_PAGES + Math.ceil(extraBytes / PAGE);
  try {
    return new WebAssembly.Memory({ initial, maximum: MAX_PAGES, shared } as WebAssembly.MemoryDescriptor);
  } catch (e) {
    throw new ConfigError(`wasm kernels: cannot create a ${shared ? "shared " : ""}memory of ${initial} pages (${(e as Error).message})`);
  }
}

/** Instantiates a compiled kernels module on `memory`; `stackTop` (threaded variants) moves this instance's stack there. */
export function instantiateOn(mod: WebAssembly.Module, memory: WebAssembly.Memory, what: string, stackTop?: number): WasmKernelInstance {
  let instance: WebAssembly.Instance;
  try {
    instance = new WebAssembly.Instance(mod, { env: { memory } });
  } catch (e) {
    throw new ConfigError(`${what}: instantiation failed (${(e as Error).message})`);
  }
  const exports = instance.exports as unknown as WasmKernelExports;
  const heapBase = exports.__heap_base.value as number;
  if (heapBase > memory.buffer.byteLength) throw new ConfigError(`${what}: __heap_base ${heapBase} lies past the initial memory`);
  if (stackTop !== undefined) {
    if (!exports.__stack_pointer) throw new ConfigError(`${what}: module does not export __stack_pointer (not a threaded build)`);
    exports.__stack_pointer.value = stackTop;
  }
  return { exports, memory, heapBase };
}

/** Compiles (when given bytes) and instantiates the one-thread kernels module on a memory of its own. */
export function instantiateWasmKernels(source: BufferSource | WebAssembly.Module, what = "wasm kernels"): WasmKernelInstance {
  return instantiateOn(compileWasmKernels(source, what), createKernelMemory(false, 0), what);
}
