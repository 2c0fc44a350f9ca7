// The wasm backend in Debian's headless Chromium (playwright-core, no download), served on 127.0.0.1:
// on a cross-origin isolated page's main thread 2 threads fall back to 1 (Atomics.wait is forbidden
// there) and say so; in a Web Worker the threaded relaxed-SIMD build runs on 2 threads (Blob workers on
// the shared memory), bit-identical to 1 thread and within the GEMM tolerance of the TS reference;
// on a page that is not cross-origin isolated the worker falls back to 1 thread (no SharedArrayBuffer).
// Without /usr/bin/chromium the test says so and is skipped (not counted as passed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WASM_FILES } from "../../src/backend/wasm/create.js";
import { tsBackend } from "../../src/backend/ts/index.js";
import { CHROMIUM, CHROMIUM_ARGS, serveFiles, wasmRoutes } from "../../bench/web/serve.js";
import { fill } from "../../bench/web/workloads.js";
import { GEMM, SOFTMAX } from "./wasm_browser_probe.js";
import { close, maxAbs } from "./wasm_helpers.js";

const root = join(import.meta.dirname, "..", "..");

interface Run { threads: number; variant: string; note: string | null; threadedCalls: number; gemm: number[]; softmax: number[] }
interface Probe { error?: string; crossOriginIsolated: boolean; onMain: { threads: number; variant: string; note: string | null }; inWorker: { error?: string; one: Run; two: Run } }

async function probeIn(isolated: boolean, dir: string): Promise<Probe> {
  const { chromium } = await import("playwright-core");
  const html = join(dir, "index.html");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(html, '<!doctype html><meta charset="utf-8"><script src="/probe.js"></script>');
  const served = await serveFiles(new Map([["/", html], ["/probe.js", join(dir, "probe.js")], ...wasmRoutes(root, Object.values(WASM_FILES))]), isolated);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${served.port}/`);
    await page.waitForFunction(() => (globalThis as unknown as { __probe?: unknown }).__probe, undefined, { timeout: 60000, polling: 200 });
    return await page.evaluate(() => (globalThis as unknown as { __probe: Probe }).__probe);
  } finally {
    await browser.close();
    served.close();
  }
}

test("wasm backend in Chromium: 2 threads in a Web Worker (bit-identical to 1, matches TS), 1 thread with a reason on the main thread and without isolation", async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is not installed (apt-get install -y chromium): cannot run the browser check here`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "wasm-browser-"));
  try {
    const { build } = await import("esbuild");
    await build({ entryPoints: [join(import.meta.dirname, "wasm_browser_probe.ts")], bundle: true, format: "iife", platform: "browser", outfile: join(dir, "probe.js"), logLevel: "error" });
    const p = await probeIn(true, dir);
    assert.equal(p.error, undefined, p.error);
    assert.equal(p.crossOriginIsolated, true);
    assert.equal(p.onMain.threads, 1);
    assert.match(p.onMain.note!, /Atomics\.wait is not allowed on this thread/);
    const { one, two, error } = p.inWorker;
    assert.equal(error, undefined, error);
    assert.deepEqual([one.threads, one.variant, two.threads, two.variant, two.note], [1, "relaxed", 2, "threadsRelaxed", null]);
    assert.equal(two.threadedCalls, 2, "the GEMM and the softmax ran on the pool");
    assert.deepEqual(two.gemm, one.gemm, "GEMM on 2 threads = 1 thread, bitwise");
    assert.deepEqual(two.softmax, one.softmax, "softmax on 2 threads = 1 thread, bitwise");
    const ref = new Float32Array(GEMM.m * GEMM.n);
    tsBackend.matmul(fill(GEMM.m * GEMM.k, 1), fill(GEMM.n * GEMM.k, 2), ref, GEMM);
    close(two.gemm, ref, 1e-5, 2e-6 * Math.sqrt(GEMM.k) * Math.max(1, maxAbs(ref) / Math.sqrt(GEMM.k)), "relaxed GEMM in Chromium vs TS");
    const sref = new Float32Array(SOFTMAX.rows * SOFTMAX.cols);
    tsBackend.softmax(fill(sref.length, 3, 3), sref, SOFTMAX.rows, SOFTMAX.cols);
    close(two.softmax, sref, 1e-5, 1e-8, "softmax in Chromium vs TS");
    const q = await probeIn(false, dir);
    assert.equal(q.crossOriginIsolated, false);
    assert.equal(q.inWorker.two.threads, 1);
    assert.match(q.inWorker.two.note!, /SharedArrayBuffer is unavailable/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
