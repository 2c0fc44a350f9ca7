// A static file server on 127.0.0.1 for the browser runs (bench/web.ts, test/backend/wasm_browser.test.ts):
// serves a fixed map of URL paths to files, by default with the COOP/COEP headers that make the page
// cross-origin isolated (SharedArrayBuffer, so wasm threads); `isolated: false` leaves them out.
import { createServer, type Server } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const TYPES: Record<string, string> = { html: "text/html", js: "text/javascript", wasm: "application/wasm" };

export interface Served {
  server: Server;
  port: number;
  close(): void;
}

export function serveFiles(routes: Map<string, string>, isolated = true): Promise<Served> {
  const server = createServer((req, res) => {
    const file = routes.get((req.url ?? "/").split("?")[0]);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      "Content-Type": TYPES[file.split(".").pop()!] ?? "application/octet-stream",
      "Cache-Control": "no-store",
      ...(isolated ? { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp", "Cross-Origin-Resource-Policy": "same-origin" } : {}),
    });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () =>
    resolve({ server, port: (server.address() as { port: number }).port, close: () => server.close() })));
}

/** Routes /wasm/<file> to the committed kernels builds under root/wasm. */
export function wasmRoutes(root: string, files: string[]): [string, string][] {
  return files.map((f) => [`/wasm/${f}`, join(root, "wasm", f)]);
}

/** Debian's chromium and the flags every headless run here uses (no GPU, no network beyond 127.0.0.1). */
export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
