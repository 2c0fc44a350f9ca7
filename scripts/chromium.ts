// The one headless chromium launcher of the browser tests and benchmarks (with scripts/web_server.ts,
// the one static server): Debian's /usr/bin/chromium through playwright-core (nothing downloaded),
// the flags every run here uses (no GPU, nothing beyond 127.0.0.1), a fresh profile per launch, and
// optionally the flags that give it a WebGPU adapter (SwiftShader, on the CPU).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type LaunchOptions } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** The flags of every headless run (--disable-gpu is left out when WebGPU is asked for). */
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** The flags that give headless chromium a WebGPU adapter here (SwiftShader; found by trying, see DESIGN.md). */
export const WEBGPU_FLAGS = ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader", "--enable-unsafe-swiftshader"];

export interface ChromiumOptions {
  /** Adds WEBGPU_FLAGS and drops --disable-gpu. */
  webgpu?: boolean;
  /** Launch timeout in ms (playwright's default when absent). */
  timeout?: number;
}

/** Why chromium cannot run here (the reason a skipped browser test prints), or null when it is installed. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install -y chromium): the browser run cannot happen here`;
}

function launchOptions(o: ChromiumOptions): LaunchOptions {
  const args = o.webgpu ? [...CHROMIUM_ARGS.filter((a) => a !== "--disable-gpu"), ...WEBGPU_FLAGS] : CHROMIUM_ARGS;
  return { executablePath: CHROMIUM, headless: true, args, ...(o.timeout === undefined ? {} : { timeout: o.timeout }) };
}

/** A browser with a fresh temporary profile (playwright makes and removes it); its contexts share nothing. */
export function launchChromium(o: ChromiumOptions = {}): Promise<Browser> {
  return chromium.launch(launchOptions(o));
}

/**
 * One persistent context on a fresh user-data-dir of its own (storage such as OPFS lives there, across
 * reloads); close() shuts the browser and removes the folder.
 */
export async function launchChromiumProfile(o: ChromiumOptions = {}): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "peft-chromium-"));
  try {
    const context = await chromium.launchPersistentContext(dir, launchOptions(o));
    return {
      context,
      close: async () => {
        await context.close().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
