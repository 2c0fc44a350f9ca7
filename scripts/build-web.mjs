// Builds the page that fine-tunes in the tab (web/) into dist/web/ with esbuild: page.js (the UI),
// worker.js (the training Web Worker), index.html, and bundled.json (the files of the bundled models
// and data sets, so the page can fetch them from any static server). The worker's `import … from
// "peft-ts"` stays an import of the browser bundle (/browser/peft-ts.js, scripts/build-browser.mjs):
// the page uses the library exactly as a user's <script type="module"> would.
// Usage: node scripts/build-web.mjs [--force]   (skips the build when dist/web is newer than web/)
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const src = join(root, "web");
const out = join(root, "dist", "web");
const BUNDLED_MODELS = ["llama-mini-en", "bert-mini-en"];
const BUNDLED_DATA = ["data/sst2/train_5k.tsv", "data/sst2/dev.tsv"];

function newest(dir) {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

const outputs = ["index.html", "page.js", "worker.js", "bundled.json"].map((f) => join(out, f));
const stale = process.argv.includes("--force") || outputs.some((f) => !existsSync(f))
  || Math.min(...outputs.map((f) => statSync(f).mtimeMs)) < Math.max(newest(src), statSync(import.meta.filename).mtimeMs);
if (!stale) {
  console.log("dist/web is up to date");
  process.exit(0);
}

/** "peft-ts" is the browser bundle next door, fetched at run time, not inlined. */
const peftTsExternal = {
  name: "peft-ts-external",
  setup(b) {
    b.onResolve({ filter: /^peft-ts$/ }, () => ({ path: "./browser/peft-ts.js", external: true }));
  },
};

mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(src, "page.ts"), join(src, "worker.ts")],
  outdir: out,
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  sourcemap: true,
  logLevel: "warning",
  plugins: [peftTsExternal],
});
copyFileSync(join(src, "index.html"), join(out, "index.html"));
const models = Object.fromEntries(BUNDLED_MODELS.map((m) => [m, readdirSync(join(root, "models", m)).filter((f) => statSync(join(root, "models", m, f)).isFile()).sort()]));
writeFileSync(join(out, "bundled.json"), JSON.stringify({ models, data: BUNDLED_DATA }, null, 1) + "\n");
console.log(`built ${out}`);
