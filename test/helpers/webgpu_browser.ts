// Runs a bundled module (which calls publishWebGpu from webgpu_ready.ts) in headless Debian chromium with a WebGPU adapter (SwiftShader's Vulkan,
// shipped with chromium: no GPU, no extra packages): esbuild bundles the entry in-process, a server
// on 127.0.0.1 (ephemeral port; localhost is a secure context, which navigator.gpu needs) serves it,
// and playwright-core drives the page. Shared by test/backend/webgpu.test.ts and bench/web_gpu.ts.
import { createServer, type Server } from "node:http";
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** The flags that give headless chromium a WebGPU adapter here (SwiftShader; found by trying, see DESIGN.md). */
export const WEBGPU_FLAGS = ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader", "--enable-unsafe-swiftshader"];

const BASE_FLAGS = ["--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export interface WebGpuPage {
  page: Page;
  /** Adapter description, or null with `why` when the page has no WebGPU adapter. */
  adapter: string | null;
  why: string;
  /** Console errors and uncaught page errors seen so far. */
  errors: string[];
  close(): Promise<void>;
}

async function bundle(entry: string): Promise<string> {
  const r = await build({ entryPoints: [entry], bundle: true, write: false, format: "esm", platform: "browser", target: "es2022", logLevel: "silent" });
  return r.outputFiles[0].text;
}

function serve(js: string): Promise<Server> {
  const html = `<!doctype html><meta charset="utf-8"><title>peft-ts webgpu</title><script type="module" src="/page.js"></script>`;
  const server = createServer((req, res) => {
    if (req.url === "/page.js") res.writeHead(200, { "content-type": "text/javascript" }).end(js);
    else if (req.url === "/") res.writeHead(200, { "content-type": "text/html" }).end(html);
    else if (req.url === "/favicon.ico") res.writeHead(204).end();
    else res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/**
 * Opens the page and waits until the bundle set `globalThis.__ready` (a promise the page resolves
 * to its adapter description, or rejects / resolves to {none: reason}). Returns a page without an
 * adapter (adapter null, why set) rather than throwing when chromium or WebGPU is missing.
 */
export async function openWebGpuPage(entry: string, timeoutMs = 120_000): Promise<WebGpuPage> {
  const errors: string[] = [];
  if (!existsSync(CHROMIUM)) {
    return { page: null as unknown as Page, adapter: null, why: `no WebGPU adapter: ${CHROMIUM} is not installed`, errors, close: async () => {} };
  }
  const js = await bundle(entry);
  const server = await serve(js);
  let browser: Browser | null = null;
  const close = async () => {
    await browser?.close().catch(() => {});
    await new Promise<void>((r) => server.close(() => r()));
  };
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...BASE_FLAGS, ...WEBGPU_FLAGS], timeout: timeoutMs });
    const page = await browser.newPage();
    page.setDefaultTimeout(timeoutMs);
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => (globalThis as { __ready?: unknown }).__ready !== undefined);
    const info = await page.evaluate(() => (globalThis as unknown as { __ready: Promise<{ adapter: string | null; why: string }> }).__ready);
    return { page, adapter: info.adapter, why: info.why, errors, close };
  } catch (e) {
    await close();
    return { page: null as unknown as Page, adapter: null, why: `no WebGPU adapter: chromium did not start or load the page (${String(e).split("\n")[0]})`, errors, close: async () => {} };
  }
}
