// The page test/backend/webgpu.test.ts bundles and runs in chromium: each case draws random inputs,
// runs a kernel on the WebGPU backend and the TS reference on the same inputs, and returns what
// disagrees (an empty list when everything agrees). Tolerances (f32 on the GPU, where the reference
// sums some rows in double; WGSL's exp/log/sqrt/division may be off by a few ulp):
// GEMM |Δ| ≤ 1e-5·|ref| + 2e-6·√k·scale as the wasm and native tests; elementwise 1e-5 relative;
// row kernels 1e-5..1e-4 relative; f32 sums in the reference's order (reductions, column sums) exact
// or 1e-6; AdamW a few ulp (1e-6 relative after three steps).
import { publishWebGpu } from "../helpers/webgpu_ready.js";
import { cases, setGpu } from "./webgpu_checks.js";
import "./webgpu_cases_dense.js";
import "./webgpu_cases_model.js";

// ------------------------------------------------------------------ the page's interface to the test
const g = globalThis as unknown as { __cases: string[]; __run(name: string): Promise<string[]> };
g.__cases = Object.keys(cases);
g.__run = async (name) => {
  const run = cases[name];
  if (!run) return [`no case named ${name}`];
  try {
    return await run();
  } catch (e) {
    return [`threw: ${(e as Error).stack ?? e}`];
  }
};
publishWebGpu(setGpu);
