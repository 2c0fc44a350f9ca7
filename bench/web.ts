// Suite "web" (`npm run bench -- web`): our wasm backend in headless Chromium (Debian's /usr/bin/chromium
// through playwright-core; nothing is downloaded) against tfjs-core + @tensorflow/tfjs-backend-wasm in
// the same page, and against our native backend in this Node process, on the workloads of
// bench/web/workloads.ts: GEMM GFLOP/s (512³, bert-small LoRA shapes) and a 2-layer GELU MLP training
// step with AdamW in tokens/s, at 1 thread and at every core. bench/web/bench_worker.ts is bundled with
// esbuild and served on 127.0.0.1 with COOP/COEP headers (cross-origin isolated: SharedArrayBuffer, so
// both wasm libraries may use threads), with our wasm/ builds and tfjs's .wasm files.
// Rows: ours = wasm in the browser; reference = tfjs-wasm or native at the same thread count; ratio > 1:
// ours is faster. Bounded: ~0.3 s per GEMM figure, ~1.2 s per MLP figure (at least 5 steps).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { rateRow, repoRoot } from "./common.js";
import { GEMM_SHAPES, gemmGflops, mlpTokensPerS } from "./web/workloads.js";
import { CHROMIUM, CHROMIUM_ARGS, serveFiles, wasmRoutes, type Served } from "./web/serve.js";
import { WASM_FILES } from "../src/backend/wasm/create.js";
import { loadNativeBackend, nativeAddon } from "../src/backend/native/index.js";

interface BrowserFigures {
  threads: number;
  ours: { variant: string; threads: number; note: string | null; gemm: number[]; mlpTokPerS: number; mlpLoss: number };
  tfjs: { backend: string; threads: number; gemm: number[]; mlpTokPerS: number; mlpLoss: number } | { error: string };
}

async function runInChromium(threadCounts: number[]): Promise<{ results: BrowserFigures[]; version: string }> {
  const { build } = await import("esbuild");
  const { chromium } = await import("playwright-core");
  const dir = mkdtempSync(join(tmpdir(), "peft-web-bench-"));
  let served: Served | null = null;
  try {
    await build({
      entryPoints: [join(repoRoot, "bench", "web", "bench_worker.ts")], bundle: true, format: "iife", platform: "browser",
      outfile: join(dir, "bench_worker.js"), logLevel: "error", define: { "process.env.NODE_ENV": '"production"' },
    });
    const routes = new Map<string, string>([["/", join(repoRoot, "bench", "web", "page.html")], ["/bench_worker.js", join(dir, "bench_worker.js")]]);
    for (const [url, file] of wasmRoutes(repoRoot, Object.values(WASM_FILES))) routes.set(url, file);
    const tfDist = join(repoRoot, "node_modules", "@tensorflow", "tfjs-backend-wasm", "dist");
    for (const f of ["tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"]) routes.set(`/tfjs/${f}`, join(tfDist, f));
    const s = (served = await serveFiles(routes));
    const browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: CHROMIUM_ARGS,
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`http://127.0.0.1:${s.port}/?threads=${threadCounts.join(",")}`);
      await page.waitForFunction(() => (window as unknown as { __bench?: unknown }).__bench, undefined, { timeout: 170000, polling: 500 });
      const r = await page.evaluate(() => (window as unknown as { __bench: { results?: BrowserFigures[]; error?: string; crossOriginIsolated?: boolean } }).__bench);
      if (r.error || !r.results) throw new Error(`web bench page failed: ${r.error ?? errors.join("; ")}`);
      if (!r.crossOriginIsolated) throw new Error("web bench page is not cross-origin isolated (COOP/COEP headers missing?)");
      return { results: r.results, version: browser.version() };
    } finally {
      await browser.close();
    }
  } finally {
    served?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function cpuFlags(): string {
  try {
    const flags = new Set(/^flags\s*:(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1].trim().split(/\s+/) ?? []);
    return ["avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16"].filter((f) => flags.has(f)).join(" ") || "unknown";
  } catch {
    return "unknown";
  }
}

export const webSuite: Suite = {
  name: "web",
  description: "wasm in headless Chromium vs tfjs-wasm (same page) and native (Node): GEMM GFLOP/s and a GELU MLP AdamW step, 1 thread and all cores",
  async run(opts: BenchOptions, emit: (row: BenchRow) => void): Promise<void> {
    const all = opts.threads ?? availableParallelism();
    const counts = all > 1 ? [1, all] : [1];
    const { results, version } = await runInChromium(counts);
    const native = loadNativeBackend({ required: false });
    if (!opts.json) {
      console.log(`# Chromium ${version}; ${availableParallelism()} cores; CPU flags: ${cpuFlags()}; figures from one run, on a machine that may be loaded`);
      for (const r of results) {
        const t = "error" in r.tfjs ? `tfjs failed: ${r.tfjs.error}` : `tfjs ${r.tfjs.backend} ${r.tfjs.threads} thread(s), MLP loss ${r.tfjs.mlpLoss.toFixed(5)}`;
        console.log(`# ${r.threads} thread(s): ours ${r.ours.variant} on ${r.ours.threads}${r.ours.note ? ` (${r.ours.note})` : ""}, MLP loss ${r.ours.mlpLoss.toFixed(5)}; ${t}`);
      }
      console.log("# LoRA step tokens/s (bert-small, llama-mini-en) in the browser: missing (needs the browser bundle of the core, branch `platform`)");
    }
    for (const r of results) {
      const T = r.ours.threads;
      nativeAddon()?.setNumThreads(r.threads);
      const tf = "error" in r.tfjs ? null : r.tfjs;
      GEMM_SHAPES.forEach((shape, i) => {
        const name = `gemm ${shape.join("x")} ${T}t`;
        emit(rateRow("web", `${name} wasm vs tfjs-wasm`, r.ours.gemm[i], tf ? tf.gemm[i] : null, "GFLOP/s"));
        if (native) emit(rateRow("web", `${name} wasm vs native`, r.ours.gemm[i], gemmGflops(native, shape, 300), "GFLOP/s"));
      });
      emit(rateRow("web", `mlp step ${T}t wasm vs tfjs-wasm`, r.ours.mlpTokPerS, tf ? tf.mlpTokPerS : null, "tok/s"));
      if (native) emit(rateRow("web", `mlp step ${T}t wasm vs native`, r.ours.mlpTokPerS, mlpTokensPerS(native, 1200).tokPerS, "tok/s"));
    }
  },
};
