// Runs a bundled module (which calls publishWebGpu from webgpu_ready.ts) in headless Debian chromium with a WebGPU adapter (SwiftShader's Vulkan,
// shipped with chromium: no GPU, no extra packages): esbuild bundles the entry in-process into a
// temporary folder, scripts/web_server.ts serves it on 127.0.0.1 (ephemeral port; localhost is a
// secure context, which navigator.gpu needs), and scripts/chromium.ts's launcher (WebGPU flags) drives
// the page. Shared by test/backend/webgpu.test.ts and bench/web_gpu.ts.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import type { Browser, Page } from "playwright-core";
import { chromiumMissing, launchChromium } from "../../scripts/chromium.js";
import { startWebServer, type WebServer } from "../../scripts/web_server.js";

export interface WebGpuPage {
  page: Page;
  /** Adapter description, or null with `why` when the page has no WebGPU adapter. */
  adapter: string | null;
  why: string;
  /** Console errors and uncaught page errors seen so far. */
  errors: string[];
  close(): Promise<void>;
}

const HTML = `<!doctype html><meta charset="utf-8"><title>peft-ts webgpu</title><link rel="icon" href="data:,"><script type="module" src="/page.js"></script>`;

/** Bundles `entry` as page.js next to an index.html in a fresh folder. */
async function bundleInto(entry: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "peft-webgpu-"));
  await build({ entryPoints: [entry], bundle: true, format: "esm", platform: "browser", target: "es2022", logLevel: "silent", outfile: join(dir, "page.js") });
  writeFileSync(join(dir, "index.html"), HTML);
  return dir;
}

/**
 * Opens the page and waits until the bundle set `globalThis.__ready` (a promise the page resolves
 * to its adapter description, or rejects / resolves to {none: reason}). Returns a page without an
 * adapter (adapter null, why set) rather than throwing when chromium or WebGPU is missing.
 */
export async function openWebGpuPage(entry: string, timeoutMs = 120_000): Promise<WebGpuPage> {
  const errors: string[] = [];
  const missing = chromiumMissing();
  if (missing) return { page: null as unknown as Page, adapter: null, why: `no WebGPU adapter: ${missing}`, errors, close: async () => {} };
  const dir = await bundleInto(entry);
  let server: WebServer | null = null;
  let browser: Browser | null = null;
  const close = async () => {
    await browser?.close().catch(() => {});
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    server = await startWebServer({ mounts: [["/", dir]], isolated: false });
    browser = await launchChromium({ webgpu: true, timeout: timeoutMs });
    const page = await browser.newPage();
    page.setDefaultTimeout(timeoutMs);
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(server.url);
    await page.waitForFunction(() => (globalThis as { __ready?: unknown }).__ready !== undefined);
    const info = await page.evaluate(() => (globalThis as unknown as { __ready: Promise<{ adapter: string | null; why: string }> }).__ready);
    return { page, adapter: info.adapter, why: info.why, errors, close };
  } catch (e) {
    await close();
    return { page: null as unknown as Page, adapter: null, why: `no WebGPU adapter: chromium did not start or load the page (${String(e).split("\n")[0]})`, errors, close: async () => {} };
  }
}
