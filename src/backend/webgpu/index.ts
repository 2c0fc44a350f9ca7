// The WebGPU backend: the kernel set as WGSL programs over GPU-resident arrays.
// Usage (browser code; no Node built-ins anywhere in this folder):
//   const adapter = await detectWebGpu();            // null: no WebGPU here
//   const gpu = await createWebGpuBackend(adapter!);
//   const a = gpu.upload(aData), b = gpu.upload(bData), out = gpu.empty(m * n);
//   gpu.matmul(a, b, out, params);                    // enqueues, returns at once
//   const values = await gpu.readback(out);           // the only point that waits for the GPU
// Every kernel has the Backend contract's signature (src/backend/backend.ts) with GpuArray operands.
import { WebGpuDevice, type HostArray } from "./device.js";
import type { GpuAdapter } from "./gpu_types.js";
import type { GpuArray, GpuDtype } from "./buffer_pool.js";
import type { GpuKernelName, GpuKernelSet } from "./kernel_types.js";
import { matmulKernels } from "./matmul.js";
import { elementwiseKernels } from "./elementwise.js";
import { reduceKernels } from "./reduce.js";
import { softmaxKernels } from "./softmax.js";
import { normKernels } from "./norm.js";
import { crossEntropyKernels } from "./cross_entropy.js";
import { attentionKernels } from "./attention.js";
import { adamwKernels } from "./adamw.js";
import { swigluKernels } from "./swiglu.js";
import { rotaryKernels } from "./rotary.js";
import { dropoutKernels } from "./dropout.js";
import { embeddingKernels } from "./embedding.js";
import { bf16Kernels } from "./bf16.js";

export { WebGpuDevice, type HostArray } from "./device.js";
export { GpuArray, type GpuDtype } from "./buffer_pool.js";
export type { GpuKernelName, GpuKernelSet } from "./kernel_types.js";
export type { Gpu, GpuAdapter } from "./gpu_types.js";
export { detectWebGpu, pickBrowserBackend, type BrowserBackendName, type BrowserBackendChoice } from "./detect.js";

export interface WebGpuBackend extends GpuKernelSet {
  readonly name: "webgpu";
  readonly device: WebGpuDevice;
  /** Human-readable adapter (vendor, architecture), e.g. "google swiftshader". */
  readonly adapterName: string;
  upload(data: HostArray): GpuArray;
  empty(length: number, dtype?: GpuDtype): GpuArray;
  readback(x: GpuArray): Promise<HostArray>;
  /** Waits until the enqueued work has run (benchmarks); throws the first GPU error. */
  sync(): Promise<void>;
  supports(kernel: string): kernel is GpuKernelName;
  destroy(): void;
}

const KERNELS: readonly GpuKernelName[] = [
  "matmul", "unary", "unaryBackward", "binary", "affine", "biasAct", "biasActBackward", "sum", "max",
  "softmax", "softmaxBackward", "logSoftmax", "logSoftmaxBackward", "layerNorm", "layerNormBackward", "rmsNorm", "rmsNormBackward",
  "crossEntropy", "crossEntropyBackward", "attention", "attentionBackward", "adamw",
  "siluMul", "siluMulBackward", "rotary", "dropoutMask", "dropoutApply", "embedding", "embeddingBackward",
  "matmulBf16", "f32ToBf16", "bf16ToF32",
];

/** The backend on an already opened device. */
export function webGpuBackendOn(dev: WebGpuDevice): WebGpuBackend {
  return {
    name: "webgpu",
    device: dev,
    adapterName: dev.adapterName,
    upload: (data) => dev.upload(data),
    empty: (length, dtype) => dev.empty(length, dtype),
    readback: (x) => dev.readback(x),
    sync: () => dev.sync(),
    supports: (kernel): kernel is GpuKernelName => (KERNELS as readonly string[]).includes(kernel),
    destroy: () => dev.destroy(),
    ...matmulKernels(dev),
    ...elementwiseKernels(dev),
    ...reduceKernels(dev),
    ...softmaxKernels(dev),
    ...normKernels(dev),
    ...crossEntropyKernels(dev),
    ...attentionKernels(dev),
    ...adamwKernels(dev),
    ...swigluKernels(dev),
    ...rotaryKernels(dev),
    ...dropoutKernels(dev),
    ...embeddingKernels(dev),
    ...bf16Kernels(dev),
  };
}

/** Opens a device on `adapter` (see detectWebGpu) and returns the backend on it. */
export async function createWebGpuBackend(adapter: GpuAdapter): Promise<WebGpuBackend> {
  return webGpuBackendOn(await WebGpuDevice.open(adapter));
}
