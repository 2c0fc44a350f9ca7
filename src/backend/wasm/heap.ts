// The host side of the kernels' memory: a bump allocator over the imported linear memory, reset
// before every kernel call (a call is synchronous, its worker parts included, so nothing outlives it).
// Inputs are copied in and outputs copied back out; the memory grows to the largest call seen and
// never shrinks. Views are re-created after a grow (growing detaches the old ArrayBuffer).
import { ConfigError, ShapeError } from "../../tensor/errors.js";

const PAGE = 65536;
const MAX_BYTES = 65536 * PAGE;

type Typed = Float32Array | Int32Array;

export class WasmHeap {
  private top: number;
  private buffer: ArrayBuffer | null = null;
  private f32view = new Float32Array(0);
  private i32view = new Int32Array(0);
  /** The kernel being called (named in errors). */
  private kernel = "";

  constructor(private readonly memory: WebAssembly.Memory, private readonly base: number) {
    this.top = base;
  }

  /** Frees everything allocated since the last reset; `kernel` names the call in errors. */
  reset(kernel: string): void {
    this.top = this.base;
    this.kernel = kernel;
  }

  /** Bytes currently reserved by the linear memory. */
  byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  /** Reserves `count` 4-byte elements (16-byte aligned) and returns the byte offset. */
  alloc(count: number): number {
    const ptr = (this.top + 15) & ~15;
    const end = ptr + count * 4;
    if (end > MAX_BYTES) throw new ConfigError(`wasm ${this.kernel}: the call needs ${end} bytes, past wasm32's 4 GiB memory`);
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE));
      } catch (e) {
        throw new ConfigError(`wasm ${this.kernel}: growing the module's memory to ${end} bytes failed (${(e as Error).message})`);
      }
    }
    this.top = end;
    return ptr;
  }

  f32(): Float32Array {
    this.refresh();
    return this.f32view;
  }

  private checkLength(x: Typed, count: number, name: string): void {
    if (x.length < count) throw new ShapeError(`wasm ${this.kernel}: ${name} has ${x.length} elements, needs ${count}`);
  }

  private refresh(): void {
    if (this.buffer !== this.memory.buffer) {
      this.buffer = this.memory.buffer as ArrayBuffer;
      this.f32view = new Float32Array(this.buffer);
      this.i32view = new Int32Array(this.buffer);
    }
  }

  /** Allocates room for the first `count` elements of x (all of it by default) and copies them in. */
  copyIn(x: Typed, count = x.length, name = "an operand"): number {
    this.checkLength(x, count, name);
    const ptr = this.alloc(count);
    this.refresh();
    const view = x instanceof Int32Array ? this.i32view : this.f32view;
    view.set(count === x.length ? x : x.subarray(0, count), ptr >> 2);
    return ptr;
  }

  /** copyIn for optional arrays: null gives the null pointer 0. */
  copyInOrNull(x: Float32Array | null, count?: number, name?: string): number {
    return x ? this.copyIn(x, count, name) : 0;
  }

  /** Copies `count` floats at ptr back into out (from its start). */
  copyOut(ptr: number, out: Float32Array, count = out.length, name = "an output"): void {
    this.checkLength(out, count, name);
    this.refresh();
    out.set(this.f32view.subarray(ptr >> 2, (ptr >> 2) + count));
  }
}
