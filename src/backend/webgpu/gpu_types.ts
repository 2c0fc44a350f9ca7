// The few WebGPU API types this backend uses (TypeScript's DOM lib has none and @webgpu/types is not
// a dependency). Structural subsets of the W3C WebGPU IDL: a real navigator.gpu object satisfies them.

/** GPUBufferUsage flag values (WebGPU spec §5.1). */
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

/** GPUMapMode.READ. */
export const MAP_READ_MODE = 0x0001;

export interface GpuBuffer {
  readonly size: number;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}

export interface GpuBindGroupEntry {
  binding: number;
  resource: { buffer: GpuBuffer; offset?: number; size?: number };
}

export interface GpuComputePipeline {
  getBindGroupLayout(index: number): unknown;
}

export interface GpuComputePass {
  setPipeline(p: GpuComputePipeline): void;
  setBindGroup(index: number, group: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}

export interface GpuCommandEncoder {
  beginComputePass(desc?: object): GpuComputePass;
  copyBufferToBuffer(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number): void;
  finish(): unknown;
}

export interface GpuQueue {
  submit(buffers: unknown[]): void;
  writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBufferLike | ArrayBufferView, dataOffset?: number, size?: number): void;
  onSubmittedWorkDone(): Promise<void>;
}

export interface GpuCompilationMessage {
  readonly type: string;
  readonly message: string;
  readonly lineNum: number;
  readonly linePos: number;
}

export interface GpuShaderModule {
  getCompilationInfo(): Promise<{ messages: readonly GpuCompilationMessage[] }>;
}

export interface GpuSupportedLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxStorageBuffersPerShaderStage: number;
}

export interface GpuDevice {
  readonly limits: GpuSupportedLimits;
  readonly queue: GpuQueue;
  readonly lost: Promise<{ reason: string; message: string }>;
  createBuffer(desc: { size: number; usage: number; mappedAtCreation?: boolean; label?: string }): GpuBuffer;
  createShaderModule(desc: { code: string; label?: string }): GpuShaderModule;
  createComputePipeline(desc: { layout: "auto"; compute: { module: GpuShaderModule; entryPoint: string }; label?: string }): GpuComputePipeline;
  createBindGroup(desc: { layout: unknown; entries: GpuBindGroupEntry[] }): unknown;
  createCommandEncoder(): GpuCommandEncoder;
  pushErrorScope(filter: "validation" | "out-of-memory" | "internal"): void;
  popErrorScope(): Promise<{ message: string } | null>;
  addEventListener(type: "uncapturederror", listener: (e: { error: { message: string } }) => void): void;
  destroy(): void;
}

export interface GpuAdapterInfo {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
}

export interface GpuAdapter {
  readonly info?: GpuAdapterInfo;
  readonly limits: GpuSupportedLimits;
  readonly features: { has(name: string): boolean };
  requestDevice(desc?: { requiredLimits?: Record<string, number>; label?: string }): Promise<GpuDevice>;
}

export interface Gpu {
  requestAdapter(opts?: { powerPreference?: "low-power" | "high-performance" }): Promise<GpuAdapter | null>;
}
