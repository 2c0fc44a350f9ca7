// WebGPU GEMM throughput in headless chromium (the measurement the `web` suite reports next to
// wasm): GFLOP/s of the WGSL tiled GEMM for 512×512×512 and the GEMMs of a bert-small LoRA step
// (batch 8 × seq 128 = 1024 tokens, hidden 512, FFN 2048, r 8, 8 heads of 64), operands resident
// on the GPU. Here the adapter is SwiftShader (Vulkan on the CPU): its figures say nothing about a
// real GPU, they only show the path works end to end. Call webGpuGemmRows from a suite, or run the
// standalone suite object below once registered (`npm run bench -- webgpu`).
import { join } from "node:path";
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { rateRow } from "./common.js";
import { openWebGpuPage } from "../test/helpers/webgpu_browser.js";

/** [label, batch, m, n, k, transB]: out (m×n) = a (m×k) · b, b stored n×k when transB (a Linear weight). */
export const WEBGPU_GEMM_SHAPES: [string, number, number, number, number, boolean][] = [
  ["512x512x512", 1, 512, 512, 512, false],
  ["bert-small q/v x·Wᵀ 1024x512x512", 1, 1024, 512, 512, true],
  ["bert-small FFN up 1024x2048x512", 1, 1024, 2048, 512, true],
  ["bert-small FFN down 1024x512x2048", 1, 1024, 512, 2048, true],
  ["bert-small LoRA A 1024x8x512", 1, 1024, 8, 512, true],
  ["bert-small LoRA B 1024x512x8", 1, 1024, 512, 8, true],
  ["bert-small attention QKᵀ 64x(128x128x64)", 64, 128, 128, 64, true],
];

/**
 * Measures the shapes in chromium and emits one row per shape (suite name `suite`, unit GFLOP/s, no
 * reference). Without chromium or an adapter it prints why and emits nothing.
 */
export async function webGpuGemmRows(opts: BenchOptions, emit: (row: BenchRow) => void, suite = "web"): Promise<void> {
  const page = await openWebGpuPage(join(import.meta.dirname, "web_gpu_page.ts"));
  try {
    if (!page.adapter) {
      console.log(`# webgpu: ${page.why}`);
      return;
    }
    if (!opts.json) console.log(`# webgpu adapter: ${page.adapter}${/swiftshader/i.test(page.adapter) ? " (SwiftShader runs on the CPU: these GFLOP/s say nothing about a real GPU)" : ""}`);
    const shapes = WEBGPU_GEMM_SHAPES.map(([, ...s]) => s);
    const budget = opts.quick ? 2e8 : 2e9;
    const res = await page.page.evaluate(([s, b]) => (globalThis as unknown as { __gemm(s: unknown, b: number): Promise<{ gflops: number }[]> }).__gemm(s, b), [shapes, budget] as const);
    res.forEach((r, i) => emit(rateRow(suite, `webgpu gemm ${WEBGPU_GEMM_SHAPES[i][0]}`, r.gflops, null, "GFLOP/s")));
  } finally {
    await page.close();
  }
}

export const webGpuSuite: Suite = {
  name: "webgpu",
  description: "WebGPU (chromium) GEMM GFLOP/s: 512³ and the bert-small LoRA step's GEMMs (SwiftShader here: not a GPU figure)",
  run: (opts, emit) => webGpuGemmRows(opts, emit, "webgpu"),
};
