// Shared by the page tests: Debian chromium headless (no download), a page whose console errors,
// failed answers and off-origin requests are collected, and waiting on the page's status.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

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

/** Fails (never passes silently) when chromium is not installed. */
export async function launchChromium(): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is required for the browser page tests (apt-get install -y chromium); NOT RUN`);
  return chromium.launch({
    executablePath: CHROMIUM, timeout: 30_000,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
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
