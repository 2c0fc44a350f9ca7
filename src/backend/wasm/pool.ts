// The wasm backend's worker pool (no Node built-ins; the platform's worker spawner is passed in:
// pool_node.ts or pool_browser.ts). threads − 1 workers each instantiate the threaded kernels module on
// the same shared WebAssembly.Memory, with their own stack region; the calling thread is part 0.
// A call writes the export's index and arguments into a small shared control block, bumps its sequence
// number and wakes the workers (Atomics.notify); each runs export(...args, part, parts), the caller
// runs part 0 itself, then sleeps (Atomics.wait) until every worker has counted itself done. The
// kernels split their work by (part, parts) in C (wasm/src/kernels.h PART), so nothing here knows
// about shapes. Atomics.wait is not allowed on a browser's main thread: there the library runs
// training in a Web Worker, and canBlock() tells the loader to fall back to one thread.
import { ConfigError } from "../../tensor/errors.js";
import type { WasmKernelExports } from "./module.js";
import { ARGS_OFFSET, CONTROL, MAX_ARGS } from "./worker_source.js";

/** What a worker needs (structured-clonable: the module, the shared memory, the control block). */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** This worker's part (1..parts−1; the calling thread is part 0). */
  index: number;
  parts: number;
  /** Byte offset of the top of this worker's stack (stacks grow down). */
  stackTop: number;
  /** The exports calls refer to by index. */
  names: string[];
}

/** Starts one worker running WORKER_SOURCE's runKernelWorker(init). */
export type SpawnWorker = (init: WorkerInit) => { terminate(): void };

/** The exports a pool call may name (the ones ending in part, parts). */
export const PARALLEL_EXPORTS = ["gemm", "softmax", "softmax_backward", "log_softmax", "log_softmax_backward", "layer_norm", "rms_norm",
  "activation", "activation_backward", "bias_add", "column_sum_add", "adamw", "cross_entropy", "cross_entropy_backward",
  "attention", "attention_backward", "silu_mul", "silu_mul_backward"] as const;
export type ParallelExport = (typeof PARALLEL_EXPORTS)[number];

/** Bytes of stack each worker gets (wasm-ld gives the module's own, the caller's, 64 KiB too). */
export const WORKER_STACK_BYTES = 65536;

/** Whether this thread may block in Atomics.wait on shared memory (false on a browser's main thread or without SharedArrayBuffer). */
export function canBlock(): boolean {
  if (typeof SharedArrayBuffer !== "function" || typeof Atomics?.wait !== "function") return false;
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) return false;
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

export class WasmThreadPool {
  private readonly ctrl: Int32Array;
  private readonly args: Float64Array;
  private readonly workers: { terminate(): void }[] = [];
  private readonly index = new Map<string, number>();
  private closed = false;

  /**
   * Spawns threads − 1 workers for the module `mod` on `memory`; their stacks take
   * [stackBase, stackBase + (threads − 1)·WORKER_STACK_BYTES). Call waitReady() or ready() before run().
   */
  constructor(private readonly main: WasmKernelExports, mod: WebAssembly.Module, memory: WebAssembly.Memory,
    readonly threads: number, stackBase: number, spawn: SpawnWorker) {
    const control = new SharedArrayBuffer(ARGS_OFFSET + 8 * MAX_ARGS);
    this.ctrl = new Int32Array(control);
    this.args = new Float64Array(control, ARGS_OFFSET, MAX_ARGS);
    const names = [...PARALLEL_EXPORTS];
    names.forEach((n, i) => this.index.set(n, i));
    for (let w = 1; w < threads; w++)
      this.workers.push(spawn({ module: mod, memory, control, index: w, parts: threads, stackTop: stackBase + w * WORKER_STACK_BYTES, names }));
  }

  private checkStarted(): boolean {
    const started = Atomics.load(this.ctrl, CONTROL.ready) === this.threads - 1;
    if (started && Atomics.load(this.ctrl, CONTROL.error)) {
      this.close();
      throw new ConfigError("wasm threads: a worker could not instantiate the kernels module on the shared memory");
    }
    return started;
  }

  /** Blocks until every worker has started (Atomics.wait: Node, or a browser worker); ConfigError after timeoutMs. */
  waitReady(timeoutMs = 20000): void {
    const t0 = Date.now();
    let r: number;
    while (!this.checkStarted()) {
      r = Atomics.load(this.ctrl, CONTROL.ready);
      if (Date.now() - t0 > timeoutMs) {
        this.close();
        throw new ConfigError(`wasm threads: ${r} of ${this.threads - 1} workers started within ${timeoutMs} ms`);
      }
      Atomics.wait(this.ctrl, CONTROL.ready, r, 50);
    }
  }

  /** Resolves once every worker has started, without blocking (a browser's main thread may await it). */
  async ready(timeoutMs = 20000): Promise<void> {
    const t0 = Date.now();
    while (!this.checkStarted()) {
      if (Date.now() - t0 > timeoutMs) {
        this.close();
        throw new ConfigError(`wasm threads: ${Atomics.load(this.ctrl, CONTROL.ready)} of ${this.threads - 1} workers started within ${timeoutMs} ms`);
      }
      await new Promise((res) => setTimeout(res, 5));
    }
  }

  /** Runs export `name`(...args, part, threads) on every thread (this one is part 0) and returns when all are done. */
  run(name: ParallelExport, args: number[]): void {
    if (this.closed) throw new ConfigError("wasm threads: the pool was closed");
    const c = this.ctrl, T = this.threads;
    c[CONTROL.fn] = this.index.get(name)!;
    c[CONTROL.nargs] = args.length;
    this.args.set(args);
    Atomics.store(c, CONTROL.done, 0);
    Atomics.add(c, CONTROL.seq, 1);
    Atomics.notify(c, CONTROL.seq);
    let failure: unknown = null;
    try {
      (this.main[name] as (...a: number[]) => void)(...args, 0, T);
    } catch (e) {
      failure = e;
    }
    for (let d = Atomics.load(c, CONTROL.done); d < T - 1; d = Atomics.load(c, CONTROL.done)) Atomics.wait(c, CONTROL.done, d);
    if (failure) throw failure;
    if (Atomics.exchange(c, CONTROL.error, 0)) throw new ConfigError(`wasm threads: ${name} trapped on a worker`);
  }

  /** Stops the workers (they exit their wait loop; terminate() frees them). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, CONTROL.quit, 1);
    Atomics.add(this.ctrl, CONTROL.seq, 1);
    Atomics.notify(this.ctrl, CONTROL.seq);
    for (const w of this.workers) w.terminate();
  }
}
