// Suite "web" (`npm run bench -- web`): our wasm backend in headless Chromium (Debian's /usr/bin/chromium
// through playwright-core; nothing is downloaded) against tfjs-core + @tensorflow/tfjs-backend-wasm in
// the same page, and against our native backend in this Node process, on the workloads of
// bench/web/workloads.ts: GEMM GFLOP/s (512³, bert-small LoRA shapes) and a 2-layer GELU MLP training
// step with AdamW in tokens/s, at 1 thread and at every core. bench/web/bench_worker.ts is bundled with
// esbuild and served on 127.0.0.1 with COOP/COEP headers (cross-origin isolated: SharedArrayBuffer, so
// both wasm libraries may use threads), with our wasm/ builds and tfjs's .wasm files.
// Rows: ours = wasm in the browser; reference = tfjs-wasm or native at the same thread count; ratio > 1:
// ours is faster. Each figure is the best of 2 rounds (in the page ours and tfjs alternate), since the
// load of a shared machine drifts. Bounded: ~0.25 s per GEMM figure, ~1 s per MLP or LoRA figure (at least 3 steps). Also the
// library's LoRA step (bench/web/lora_step.ts) at bert-small and llama-mini-en shapes, wasm in the page vs
// native here.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { rateRow, repoRoot } from "./common.js";
import { GEMM_SHAPES, gemmGflops, mlpTokensPerS } from "./web/workloads.js";
import { CHROMIUM, CHROMIUM_ARGS, serveFiles, wasmRoutes, type Served } from "./web/serve.js";
import { WASM_FILES } from "../src/backend/wasm/create.js";
import { loraCases, loraTokensPerS, type LoraCase } from "./web/lora_step.js";
import { setBackend } from "../src/backend/registry.js";
import { loadNativeBackend, nativeAddon } from "../src/backend/native/index.js";

interface BrowserFigures {
  threads: number;
  ours: { variant: string; threads: number; note: string | null; gemm: number[]; mlpTokPerS: number; mlpLoss: number; lora: { name: string; tokPerS: number; loss: number }[] };
  tfjs: { backend: string; threads: number; gemm: number[]; mlpTokPerS: number; mlpLoss: number } | { error: string };
}

async function runInChromium(threadCounts: number[], lora: LoraCase[]): Promise<{ results: BrowserFigures[]; version: string }> {
  const { build } = await import("esbuild");
  const { chromium } = await import("playwright-core");
  const dir = mkdtempSync(join(tmpdir(), "peft-web-bench-"));
  let served: Served | null = null;
  try {
    await build({
      entryPoints: [join(repoRoot, "bench", "web", "bench_worker.ts")], bundle: true, format: "iife", platform: "browser",
      outfile: join(dir, "bench_worker.js"), logLevel: "error", define: { "process.env.NODE_ENV": '"production"' },
    });
    writeFileSync(join(dir, "lora_cases.json"), JSON.stringify(lora));
    const routes = new Map<string, string>([["/", join(repoRoot, "bench", "web", "page.html")], ["/bench_worker.js", join(dir, "bench_worker.js")],
      ["/lora_cases.json", join(dir, "lora_cases.json")]]);
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
      await page.waitForFunction(() => (window as unknown as { __bench?: unknown }).__bench, undefined, { timeout: 200000, polling: 500 });
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

/** The best of two measurements (the browser side keeps its best of two rounds too). */
const bestOf2 = (f: () => number) => Math.max(f(), f());

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
  description: "wasm in headless Chromium vs tfjs-wasm (same page) and native (Node): GEMM GFLOP/s, a GELU MLP AdamW step, LoRA steps (bert-small, llama-mini-en); 1 thread and all cores",
  async run(opts: BenchOptions, emit: (row: BenchRow) => void): Promise<void> {
    const all = opts.threads ?? availableParallelism();
    const counts = all > 1 ? [1, all] : [1];
    const lora = loraCases(JSON.parse(readFileSync(join(repoRoot, "models", "llama-mini-en", "config.json"), "utf8")));
    const { results, version } = await runInChromium(counts, lora);
    const native = loadNativeBackend({ required: false });
    if (!opts.json) {
      console.log(`# Chromium ${version}; ${availableParallelism()} cores; CPU flags: ${cpuFlags()}; figures from one run, on a machine that may be loaded`);
      for (const r of results) {
        const t = "error" in r.tfjs ? `tfjs failed: ${r.tfjs.error}` : `tfjs ${r.tfjs.backend} ${r.tfjs.threads} thread(s), MLP loss ${r.tfjs.mlpLoss.toFixed(5)}`;
        console.log(`# ${r.threads} thread(s): ours ${r.ours.variant} on ${r.ours.threads}${r.ours.note ? ` (${r.ours.note})` : ""}, MLP loss ${r.ours.mlpLoss.toFixed(5)}; ${t}`);
      }
      console.log("# LoRA steps: bert-small b8 s128 q/v r8; llama-mini-en b32 s64 all-linear r8 (the demo recipe's batch); one demo epoch = 5,000 rows × 64 tokens");
    }
    for (const r of results) {
      const T = r.ours.threads;
      nativeAddon()?.setNumThreads(r.threads);
      const tf = "error" in r.tfjs ? null : r.tfjs;
      GEMM_SHAPES.forEach((shape, i) => {
        const name = `gemm ${shape.join("x")} ${T}t`;
        emit(rateRow("web", `${name} wasm vs tfjs-wasm`, r.ours.gemm[i], tf ? tf.gemm[i] : null, "GFLOP/s"));
        if (native) emit(rateRow("web", `${name} wasm vs native`, r.ours.gemm[i], bestOf2(() => gemmGflops(native, shape, 200)), "GFLOP/s"));
      });
      emit(rateRow("web", `mlp step ${T}t wasm vs tfjs-wasm`, r.ours.mlpTokPerS, tf ? tf.mlpTokPerS : null, "tok/s"));
      if (native) emit(rateRow("web", `mlp step ${T}t wasm vs native`, r.ours.mlpTokPerS, bestOf2(() => mlpTokensPerS(native, 1000).tokPerS), "tok/s"));
      if (native) setBackend("native");
      for (const [i, c] of lora.entries()) {
        const o = r.ours.lora[i];
        emit(rateRow("web", `lora step ${c.name} ${T}t wasm vs native`, o.tokPerS, native ? loraTokensPerS(c, 600).tokPerS : null, "tok/s"));
        if (!opts.json && c.name === "llama-mini-en") console.log(`# ${T}t: a demo epoch (320k tokens) would take ${(320000 / o.tokPerS).toFixed(0)} s on wasm in the tab (loss ${o.loss.toFixed(4)})`);
      }
    }
  },
};
