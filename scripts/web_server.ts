// The static server behind `npm run web`: node:http on 127.0.0.1 only, serving the built page
// (dist/web at /), the browser bundle (dist/browser at /browser/), and the bundled models/ and data/.
// Every answer is cross-origin isolated (COOP same-origin + COEP require-corp), so the page gets
// SharedArrayBuffer (the worker's cancel flag, the wasm backend's threads).
import { createServer, type Server, type IncomingMessage, type ServerResponse } from "node:http";
import { createReadStream, statSync } from "node:fs";
import { extname, join, normalize, resolve, sep } from "node:path";
import type { AddressInfo } from "node:net";

const ROOT = resolve(import.meta.dirname, "..");

/** URL prefix → folder (under the root, or absolute); the first match wins ("/" last). */
export type Mounts = [prefix: string, dir: string][];

/** What `npm run web` serves. */
export const PAGE_MOUNTS: Mounts = [
  ["/browser/", "dist/browser"],
  ["/models/", "models"],
  ["/data/", "data"],
  ["/", "dist/web"],
];

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".jsonl": "application/jsonl; charset=utf-8",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
  ".tsv": "text/tab-separated-values; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".conll": "text/plain; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

/** Headers every answer carries: isolation for SharedArrayBuffer, and no caching (a rebuilt page shows at once). */
const ISOLATION = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-cache",
};

export interface WebServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** The file a URL path names, or null when it lies outside every mount (or is not a file). */
export function resolveUrlPath(urlPath: string, root = ROOT, mounts: Mounts = PAGE_MOUNTS): string | null {
  let path: string;
  try {
    path = decodeURIComponent(urlPath.split("?")[0]);
  } catch {
    return null;
  }
  if (path.includes("\0")) return null;
  if (path === "/") path = "/index.html";
  for (const [prefix, dir] of mounts) {
    if (!path.startsWith(prefix)) continue;
    const base = resolve(root, dir);
    const file = normalize(join(base, path.slice(prefix.length)));
    if (file !== base && !file.startsWith(base + sep)) return null;
    try {
      return statSync(file).isFile() ? file : null;
    } catch {
      return null;
    }
  }
  return null;
}

interface ServeOptions { root: string; mounts: Mounts; headers: Record<string, string> }

function answer(req: IncomingMessage, res: ServerResponse, o: ServeOptions): void {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { ...o.headers, Allow: "GET, HEAD", "Content-Type": "text/plain" }).end("method not allowed\n");
    return;
  }
  const file = resolveUrlPath(req.url ?? "/", o.root, o.mounts);
  if (!file) {
    res.writeHead(404, { ...o.headers, "Content-Type": "text/plain" }).end(`not found: ${req.url}\n`);
    return;
  }
  const size = statSync(file).size;
  res.writeHead(200, { ...o.headers, "Content-Type": MIME[extname(file).toLowerCase()] ?? "application/octet-stream", "Content-Length": size });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  createReadStream(file).on("error", () => res.destroy()).pipe(res);
}

/**
 * Serves the page on 127.0.0.1:port (0 = a free port) until close(). Other browser runs (tests,
 * benchmarks) can pass their own `mounts`; `isolated: false` leaves COOP/COEP out (a page without
 * SharedArrayBuffer).
 */
export function startWebServer(opts: { port?: number; root?: string; mounts?: Mounts; isolated?: boolean } = {}): Promise<WebServer> {
  const o: ServeOptions = {
    root: opts.root ?? ROOT, mounts: opts.mounts ?? PAGE_MOUNTS,
    headers: opts.isolated === false ? { "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache" } : ISOLATION,
  };
  const server = createServer((req, res) => answer(req, res, o));
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port;
      ok({
        server, port, url: `http://127.0.0.1:${port}/`,
        close: () => new Promise<void>((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
      });
    });
  });
}
