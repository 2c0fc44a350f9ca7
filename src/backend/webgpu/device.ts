// The device wrapper: one GPUDevice, its pipeline cache, the open command encoder, uploads and
// the asynchronous readback.
// Kernels only enqueue: dispatch() records a compute dispatch into one open compute pass; nothing
// is submitted until flush() (called by readback, before every upload/write, and every
// MAX_PENDING dispatches). WebGPU orders dispatches of a pass and of successive submissions, so a
// kernel always sees the results of the kernels enqueued before it. `await readback(x)` is the only
// point where the host waits for the GPU; it also reports the first GPU error since the last one
// (a validation error of a kernel, out of memory, a lost device) as a PeftError.
import { BufferUsage, MAP_READ_MODE, type GpuAdapter, type GpuBuffer, type GpuCommandEncoder, type GpuComputePass, type GpuComputePipeline, type GpuDevice } from "./gpu_types.js";
import { BufferPool, GpuArray, storageBytes, type GpuDtype } from "./buffer_pool.js";
import { PeftError, ShapeError } from "../../tensor/errors.js";

/** Dispatches recorded before the encoder is submitted on its own (bounds the uniform buffers alive). */
const MAX_PENDING = 512;

/** Host arrays that upload to / read back from a GpuArray of the matching dtype. */
export type HostArray = Float32Array | Int32Array | Uint32Array | Uint16Array;

/** A kernel's scalar parameters, packed as a WGSL uniform struct of 4-byte fields in order. */
export type Uniform = ["u32" | "i32" | "f32", number][];

function packUniform(fields: Uniform): ArrayBuffer {
  // a uniform binding's size is a multiple of 16 bytes
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((fields.length * 4) / 16) * 16));
  const view = new DataView(buf);
  fields.forEach(([t, v], i) => {
    if (t === "f32") view.setFloat32(i * 4, v, true);
    else if (t === "i32") view.setInt32(i * 4, v, true);
    else view.setUint32(i * 4, v, true);
  });
  return buf;
}

export class WebGpuDevice {
  readonly pool: BufferPool;
  private readonly pipelines = new Map<string, GpuComputePipeline>();
  private encoder: GpuCommandEncoder | null = null;
  private pass: GpuComputePass | null = null;
  private pending = 0;
  private uniforms: GpuBuffer[] = [];
  private error: string | null = null;
  /** Whether the error scopes of the batch being recorded are pushed; their pops, one pair per flush. */
  private scoped = false;
  private scopeResults: Promise<{ message: string } | null>[] = [];
  /** Dispatches recorded and readbacks made so far (counts for tests and the benchmark). */
  dispatches = 0;
  readbacks = 0;

  constructor(readonly device: GpuDevice, readonly adapterName: string) {
    this.pool = new BufferPool(device, device.limits.maxStorageBufferBindingSize);
    device.addEventListener("uncapturederror", (e) => { this.error ??= e.error.message; });
    void device.lost.then((info) => { this.error ??= `device lost (${info.reason}): ${info.message}`; });
  }

  /** Opens a device on `adapter` with its largest buffer limits (the defaults are 128/256 MB). */
  static async open(adapter: GpuAdapter): Promise<WebGpuDevice> {
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
    const info = adapter.info;
    return new WebGpuDevice(device, info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(" ") : "unknown adapter");
  }

  /** Max workgroups per grid dimension (WebGPU's default limit, 65535: we do not ask for more). */
  get maxGroups(): number {
    return this.device.limits.maxComputeWorkgroupsPerDimension;
  }

  private pipeline(code: string): GpuComputePipeline {
    let p = this.pipelines.get(code);
    if (!p) {
      const module = this.device.createShaderModule({ code });
      p = this.device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
      this.pipelines.set(code, p);
    }
    return p;
  }

  /**
   * Records one dispatch of the WGSL program `code` (entry point `main`): the uniform (if any) at
   * @binding(0), then `buffers` at @binding(1), (2), … of group 0. A buffer bound writable must not
   * also be bound elsewhere in the same dispatch (WebGPU's usage rules); kernels guarantee it.
   */
  dispatch(code: string, uniform: Uniform | null, buffers: GpuArray[], groups: [number, number?, number?]): void {
    const [x, y = 1, z = 1] = groups;
    if (x === 0 || y === 0 || z === 0) return;
    for (const b of buffers) if (b.released) throw new ShapeError("webgpu: a kernel was given a released GpuArray");
    this.openScopes();
    const pipeline = this.pipeline(code);
    const entries = buffers.map((b, i) => ({ binding: i + 1, resource: { buffer: b.buffer } }));
    if (uniform) {
      const data = packUniform(uniform);
      const ub = this.device.createBuffer({ size: data.byteLength, usage: BufferUsage.UNIFORM, mappedAtCreation: true });
      new Uint8Array(ub.getMappedRange()).set(new Uint8Array(data));
      ub.unmap();
      this.uniforms.push(ub);
      entries.unshift({ binding: 0, resource: { buffer: ub } });
    }
    const group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
    if (++this.pending >= MAX_PENDING) this.flush();
  }

  /** A grid of ≥ `count` workgroups within the per-dimension limit (kernels rebuild the flat id). */
  grid(count: number): [number, number] {
    if (count <= this.maxGroups) return [count, 1];
    const y = Math.ceil(count / this.maxGroups);
    return [Math.ceil(count / y), y];
  }

  // Errors of the calls recorded in a batch (shader compilation, pipelines, bind groups, dispatches,
  // the submit) are caught by error scopes pushed when the batch starts and popped after its submit,
  // so readback reports them deterministically (an uncapturederror event may arrive later).
  private openScopes(): void {
    if (this.scoped) return;
    this.device.pushErrorScope("out-of-memory");
    this.device.pushErrorScope("validation");
    this.scoped = true;
  }

  private closeScopes(): void {
    if (!this.scoped) return;
    this.scopeResults.push(this.device.popErrorScope(), this.device.popErrorScope());
    this.scoped = false;
  }

  /** Submits the recorded work. */
  flush(): void {
    if (!this.encoder) {
      this.closeScopes();
      return;
    }
    this.pass?.end();
    this.device.queue.submit([this.encoder.finish()]);
    this.closeScopes();
    this.encoder = null;
    this.pass = null;
    this.pending = 0;
    const done = this.uniforms;
    this.uniforms = [];
    void this.device.queue.onSubmittedWorkDone().then(() => { for (const b of done) b.destroy(); });
  }

  /** A new array (contents undefined). */
  empty(length: number, dtype: GpuDtype = "f32"): GpuArray {
    return this.pool.acquire(length, dtype);
  }

  /** A new array holding a copy of `data` (Float32Array → f32, Int32Array → i32, Uint32Array → u32, Uint16Array → bf16 bits). */
  upload(data: HostArray): GpuArray {
    const dtype: GpuDtype = data instanceof Float32Array ? "f32" : data instanceof Int32Array ? "i32" : data instanceof Uint16Array ? "bf16" : "u32";
    const arr = this.pool.acquire(data.length, dtype);
    this.write(arr, data);
    return arr;
  }

  /** Overwrites the first data.length elements of `arr` (after the work recorded so far). */
  write(arr: GpuArray, data: HostArray): void {
    if (data.length > arr.length) throw new ShapeError(`webgpu write: ${data.length} values into an array of ${arr.length}`);
    // queue.writeBuffer runs before commands not yet submitted: submit them first
    this.flush();
    // writes are whole, aligned 4-byte words: an odd number of bf16 values (or a view at an odd
    // 2-byte offset) goes through a copy, padded with a zero
    let src: HostArray = data;
    if (data.byteLength % 4 !== 0 || data.byteOffset % 4 !== 0) {
      src = new Uint16Array(data.length + (data.length % 2));
      src.set(data);
    }
    if (src.length > 0) this.device.queue.writeBuffer(arr.buffer, 0, src.buffer, src.byteOffset, src.byteLength);
  }

  /** Copies `arr` to the host once the work recorded so far has run: the one synchronisation point. */
  async readback(arr: GpuArray): Promise<HostArray> {
    if (arr.released) throw new ShapeError("webgpu readback: the GpuArray was released");
    this.readbacks++;
    const bytes = Math.max(4, storageBytes(arr.length, arr.dtype));
    this.openScopes();
    const staging = this.device.createBuffer({ size: bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    this.pass?.end();
    this.pass = null;
    this.encoder.copyBufferToBuffer(arr.buffer, 0, staging, 0, bytes);
    this.flush();
    try {
      await staging.mapAsync(MAP_READ_MODE);
      await this.check();
      const copy = staging.getMappedRange().slice(0, arr.length * (arr.dtype === "bf16" ? 2 : 4));
      staging.unmap();
      switch (arr.dtype) {
        case "f32": return new Float32Array(copy);
        case "i32": return new Int32Array(copy);
        case "u32": return new Uint32Array(copy);
        case "bf16": return new Uint16Array(copy);
      }
    } catch (e) {
      await this.check();
      throw e;
    } finally {
      staging.destroy();
    }
  }

  /** Waits for the recorded work to finish (for timing); reports GPU errors like readback. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.check();
  }

  /** Throws the first error of the submitted batches (scoped) or of the device (uncaptured, lost). */
  private async check(): Promise<void> {
    const scoped = this.scopeResults;
    this.scopeResults = [];
    for (const r of await Promise.all(scoped)) if (r && this.error === null) this.error = r.message;
    if (this.error) {
      const e = this.error;
      this.error = null;
      throw new PeftError(`webgpu (${this.adapterName}): ${e}`);
    }
  }

  /** Frees the pool and the device. */
  destroy(): void {
    this.flush();
    this.pool.trim();
    this.device.destroy();
  }
}
