// Shared by the page tests: the built page on `npm run web`'s server (scripts/web_server.ts) and
// headless chromium (scripts/chromium.ts), closed after the test; a page whose console errors, failed
// answers and off-origin requests are collected; and waiting on the page's status.
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { chromiumMissing, launchChromium } from "../../scripts/chromium.js";
import { ensureWebBuilt } from "../../scripts/web.js";
import { startWebServer, type WebServer } from "../../scripts/web_server.js";

/** What window.__peftResult holds (web/page.ts). */
export interface PageResult {
  status: string;
  backend: string;
  losses: [number, number][];
  accuracyBefore: number | null;
  accuracyAfter: number | null;
  probes: { texts: string[]; logits: number[][] } | null;
  summary: { steps: number; seconds: number; tokensPerSecond: number; stepsPerSecond: number; trainRows: number; evalRows: number; backend: string } | null;
  errors: string[];
}

/**
 * Builds the page when stale, serves it on an ephemeral port and starts chromium, both closed when
 * the test `t` ends. Fails (never passes silently) when chromium is not installed.
 */
export async function startPageSession(t: TestContext): Promise<{ server: WebServer; browser: Browser }> {
  const missing = chromiumMissing();
  assert.ok(!missing, `${missing}; the browser page tests are NOT RUN`);
  ensureWebBuilt();
  const server = await startWebServer({ port: 0 });
  let browser: Browser | null = null;
  t.after(async () => {
    await browser?.close().catch(() => {});
    await server.close();
  });
  browser = await launchChromium({ timeout: 30_000 });
  return { server, browser };
}

export interface WatchedPage {
  page: Page;
  /** Console errors, uncaught exceptions and HTTP errors. */
  errors: string[];
  /** Requests to anything but `origin` (and blob: URLs). */
  offOrigin: string[];
}

export async function watchedPage(context: BrowserContext, origin: string): Promise<WatchedPage> {
  const page = await context.newPage();
  const errors: string[] = [];
  const offOrigin: string[] = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} for ${r.url()}`); });
  context.on("request", (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith("blob:")) offOrigin.push(r.url()); });
  return { page, errors, offOrigin };
}

/** Waits until the page's status is one of `statuses` (or "error"); returns window.__peftResult. */
export async function waitForStatus(page: Page, statuses: string[], timeoutMs: number): Promise<PageResult> {
  const want = [...statuses, "error"];
  await page.waitForFunction((w) => w.includes((window as unknown as { __peftResult?: { status: string } }).__peftResult?.status ?? ""), want,
    { timeout: timeoutMs, polling: 200 });
  return pageResult(page);
}

export function pageResult(page: Page): Promise<PageResult> {
  return page.evaluate(() => (window as unknown as { __peftResult: PageResult }).__peftResult);
}
