// GPU-resident arrays and the pool of storage buffers behind them.
// A GpuArray is a typed, fixed-length view of one pooled GPU buffer; its values live on the GPU
// only and reach the host through WebGpuDevice.readback (the one synchronisation point).
// Buffers are pooled by power-of-two size classes (≥ 256 bytes): a released buffer is handed to
// the next request of its class. Reuse needs no fence: every kernel and copy goes through the one
// queue in order, so a later writer always runs after the earlier readers of the same buffer
// (uploads flush the pending commands first, see device.ts).
import { BufferUsage, type GpuBuffer, type GpuDevice } from "./gpu_types.js";
import { ShapeError } from "../../tensor/errors.js";

/** 4-byte element types, and bf16: 16-bit elements packed two to a u32 word (element 2w in the low half of word w). */
export type GpuDtype = "f32" | "i32" | "u32" | "bf16";

/** Bytes of storage for `length` elements (a whole number of 4-byte words). */
export function storageBytes(length: number, dtype: GpuDtype): number {
  return dtype === "bf16" ? Math.ceil(length / 2) * 4 : length * 4;
}

export class GpuArray {
  private live = true;
  constructor(
    readonly buffer: GpuBuffer,
    /** Number of elements (of `dtype`). */
    readonly length: number,
    readonly dtype: GpuDtype,
    private readonly pool: BufferPool,
  ) {}

  /** Whether release() has been called (the buffer may then belong to another array). */
  get released(): boolean {
    return !this.live;
  }

  /** Returns the buffer to the pool; using the array afterwards is an error. */
  release(): void {
    if (!this.live) return;
    this.live = false;
    this.pool.put(this.buffer);
  }
}

const MIN_BYTES = 256;

function sizeClass(bytes: number): number {
  let s = MIN_BYTES;
  while (s < bytes) s *= 2;
  return s;
}

export class BufferPool {
  private readonly free = new Map<number, GpuBuffer[]>();
  /** Bytes held by live arrays and by free pooled buffers. */
  bytesInUse = 0;
  bytesFree = 0;

  constructor(private readonly device: GpuDevice, private readonly maxBytes: number) {}

  /** A GpuArray of `length` elements (contents undefined: a reused buffer keeps old values). */
  acquire(length: number, dtype: GpuDtype): GpuArray {
    if (!Number.isInteger(length) || length < 0) throw new ShapeError(`webgpu: array length ${length} is not a non-negative integer`);
    const bytes = sizeClass(storageBytes(length, dtype));
    if (bytes > this.maxBytes) throw new ShapeError(`webgpu: an array of ${length} elements (${bytes} bytes) exceeds the device's storage binding limit of ${this.maxBytes} bytes`);
    const list = this.free.get(bytes);
    let buffer = list?.pop();
    if (buffer) this.bytesFree -= bytes;
    else buffer = this.device.createBuffer({ size: bytes, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST });
    this.bytesInUse += bytes;
    return new GpuArray(buffer, length, dtype, this);
  }

  put(buffer: GpuBuffer): void {
    const bytes = buffer.size;
    this.bytesInUse -= bytes;
    this.bytesFree += bytes;
    let list = this.free.get(bytes);
    if (!list) this.free.set(bytes, (list = []));
    list.push(buffer);
  }

  /** Destroys the free buffers (live arrays keep theirs). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.bytesFree = 0;
  }
}
