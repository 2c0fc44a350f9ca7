// Browser side of test/helpers/webgpu_browser.ts (bundled into each page): opens the WebGPU backend
// and publishes globalThis.__ready = {adapter, why}, which openWebGpuPage waits for. A page without
// an adapter or a device says why instead (the test then skips with that reason).
import { createWebGpuBackend, detectWebGpu, type WebGpuBackend } from "../../src/backend/webgpu/index.js";

export function publishWebGpu(onBackend: (gpu: WebGpuBackend) => void): void {
  (globalThis as unknown as { __ready: Promise<{ adapter: string | null; why: string }> }).__ready = (async () => {
    const adapter = await detectWebGpu();
    if (!adapter) return { adapter: null, why: `no WebGPU adapter: navigator.gpu ${"gpu" in navigator ? "exists but requestAdapter() returned null" : "is missing"}` };
    try {
      const gpu = await createWebGpuBackend(adapter);
      onBackend(gpu);
      return { adapter: gpu.adapterName, why: "" };
    } catch (e) {
      return { adapter: null, why: `no WebGPU device: the adapter refused requestDevice (${String(e)})` };
    }
  })();
}
