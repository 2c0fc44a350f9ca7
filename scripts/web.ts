// `npm run web -- [--port P]`: builds the browser bundle and the page when missing or older than
// their sources, then serves the page at http://127.0.0.1:P/ until stopped (Ctrl-C).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { startWebServer } from "./web_server.js";

const ROOT = resolve(import.meta.dirname, "..");

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

function runNode(script: string, args: string[] = []): void {
  const res = spawnSync(process.execPath, [join(ROOT, script), ...args], { cwd: ROOT, stdio: "inherit" });
  if (res.status !== 0) throw new Error(`${script} failed (exit ${res.status ?? res.signal})`);
}

/** Builds dist/browser (when older than src/ or wasm/) and dist/web (build-web.mjs checks web/ itself). */
export function ensureWebBuilt(): void {
  const bundle = join(ROOT, "dist", "browser", "peft-ts.js");
  if (!existsSync(join(ROOT, "scripts", "build-browser.mjs"))) throw new Error("scripts/build-browser.mjs is missing: the browser bundle cannot be built");
  const sources = Math.max(newest(join(ROOT, "src")), newest(join(ROOT, "wasm")), statSync(join(ROOT, "scripts", "build-browser.mjs")).mtimeMs);
  if (!existsSync(bundle) || statSync(bundle).mtimeMs < sources) runNode("scripts/build-browser.mjs");
  runNode("scripts/build-web.mjs");
}

function parsePort(argv: string[]): number {
  const i = argv.findIndex((a) => a === "--port" || a.startsWith("--port="));
  if (i < 0) return 8080;
  const v = argv[i].includes("=") ? argv[i].split("=")[1] : argv[i + 1];
  const port = Number(v);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: expected an integer in 0..65535, got ${v}`);
  return port;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const port = parsePort(process.argv.slice(2));
  ensureWebBuilt();
  const web = await startWebServer({ port });
  console.log(`peft-ts page: ${web.url}  (Ctrl-C stops; try ${web.url}?autorun=1&steps=30)`);
  const stop = () => { void web.close().then(() => process.exit(0)); };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
