// The page bench/web_gpu.ts runs in chromium: times the WebGPU GEMM kernel on the shapes it is
// given (operands resident on the GPU, no copies in the timed loop; the loop ends with a wait for
// the queue), in GFLOP/s.
import type { WebGpuBackend } from "../src/backend/webgpu/index.js";
import { publishWebGpu } from "../test/helpers/webgpu_ready.js";

let gpu: WebGpuBackend;

async function gemmGflops(batch: number, m: number, n: number, k: number, transB: boolean, budgetFlop: number): Promise<{ gflops: number; reps: number }> {
  const fill = (len: number) => Float32Array.from({ length: len }, (_, i) => Math.sin(i) * 0.5);
  const a = gpu.upload(fill(batch * m * k)), b = gpu.upload(fill(batch * k * n)), out = gpu.empty(batch * m * n);
  const p = { batch, m, n, k, transA: false, transB, strideA: m * k, strideB: k * n, strideOut: m * n, accumulate: false };
  const flop = 2 * batch * m * n * k;
  gpu.matmul(a, b, out, p);
  await gpu.sync(); // compiles the pipeline, warms the caches
  const reps = Math.max(2, Math.min(100, Math.round(budgetFlop / flop)));
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) gpu.matmul(a, b, out, p);
  await gpu.sync();
  const ms = performance.now() - t0;
  for (const x of [a, b, out]) x.release();
  return { gflops: (flop * reps) / ms / 1e6, reps };
}

const g = globalThis as unknown as {
  __gemm(shapes: [number, number, number, number, boolean][], budgetFlop: number): Promise<{ gflops: number; reps: number }[]>;
};
g.__gemm = async (shapes, budgetFlop) => {
  const out = [];
  for (const [batch, m, n, k, transB] of shapes) out.push(await gemmGflops(batch, m, n, k, transB, budgetFlop));
  return out;
};
publishWebGpu((backend) => { gpu = backend; });
