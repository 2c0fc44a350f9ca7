// Builds the browser bundle: dist/browser/peft-ts.js (one ESM file from src/browser.ts, platform
// "browser": a Node built-in anywhere in the graph fails the build) and dist/browser/peft_kernels.wasm
// next to it (useWasmBackend's default URL). `npm run build` runs it after tsc.
// Usage: node scripts/build-browser.mjs [--outdir DIR]   (also importable: buildBrowserBundle())
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** esbuild options of the bundle (the bundle test builds with the same ones, in memory). */
export function browserBuildOptions(outfile) {
  return {
    absWorkingDir: root,
    entryPoints: [join(root, "src", "browser.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    outfile,
    metafile: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "silent",
  };
}

/** Writes the bundle and the wasm module into outdir; returns esbuild's result (metafile included). */
export async function buildBrowserBundle(outdir = join(root, "dist", "browser")) {
  const { build } = await import("esbuild");
  mkdirSync(outdir, { recursive: true });
  const result = await build(browserBuildOptions(join(outdir, "peft-ts.js")));
  const wasm = join(root, "wasm", "peft_kernels.wasm");
  if (existsSync(wasm)) copyFileSync(wasm, join(outdir, "peft_kernels.wasm"));
  else console.warn(`build-browser: ${wasm} is missing (npm run build:wasm); useWasmBackend will have nothing to fetch`);
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const i = process.argv.indexOf("--outdir");
  const outdir = i > 0 ? resolve(process.argv[i + 1]) : undefined;
  try {
    const r = await buildBrowserBundle(outdir);
    const out = Object.entries(r.metafile.outputs).find(([k]) => k.endsWith(".js"));
    console.log(`build-browser: ${out[0]} (${(out[1].bytes / 1024).toFixed(0)} KiB, ${Object.keys(r.metafile.inputs).length} modules)`);
  } catch (e) {
    for (const err of e.errors ?? []) console.error(`build-browser: ${err.location ? `${err.location.file}:${err.location.line}: ` : ""}${err.text}`);
    if (!e.errors) console.error(e);
    process.exit(1);
  }
}
