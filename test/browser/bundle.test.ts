// The browser bundle (scripts/build-browser.mjs, esbuild, platform "browser"): it builds, holds
// no Node-only module of the library (CLI, native addon, MPI, signal handling, the progress bar,
// the Node file loaders), imports no Node built-in and touches no Node global (process, Buffer, …)
// directly; and a Node built-in in its graph fails the build.
import { test } from "node:test";
import assert from "node:assert/strict";
import { builtinModules } from "node:module";
import { build } from "esbuild";
import { browserBuildOptions } from "../../scripts/build-browser.mjs";

const NODE_ONLY = [
  /^src\/cli\//, /^src\/backend\/native\//, /^src\/dist\/mpi/, /^src\/train\/stop_signals\.ts$/, /^src\/train\/progress_bar\.ts$/,
  /cli-progress/, /^src\/backend\/wasm\/file_bytes\.ts$/, /^src\/platform\/node_/, /^src\/node\.ts$/, /^src\/index\.ts$/,
];
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

test("the browser bundle holds no Node-only module and imports no Node built-in", async () => {
  const r = await build({ ...browserBuildOptions("peft-ts.js"), write: false });
  const inputs = Object.keys(r.metafile.inputs);
  assert.ok(inputs.includes("src/browser.ts") && inputs.includes("src/core.ts") && inputs.includes("src/train/trainer.ts"), "the entry, the core API and the Trainer are bundled");
  assert.deepEqual(inputs.filter((f) => NODE_ONLY.some((re) => re.test(f))), [], "Node-only modules in the bundle");
  const imported = Object.values(r.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
  assert.deepEqual(imported.filter((p) => p.startsWith("node:") || builtins.has(p)), [], "Node built-ins imported");
  const js = r.outputFiles!.find((f) => f.path.endsWith(".js"))!.text;
  assert.ok(!/\brequire\(["']/.test(js), "no require() calls in the ESM bundle");
  // Node globals are reached only through src/platform/env.ts's globalThis lookups
  for (const re of [/(?<![\w.$])process\.\w/, /(?<![\w.$])Buffer\.\w/, /(?<![\w.$])setImmediate\(/, /(?<![\w.$])__dirname\b/]) {
    assert.ok(!re.test(js), `the bundle uses a Node global: ${js.match(re)?.[0]} (${re})`);
  }
  assert.ok(/export\s*\{[^}]*\buseWasmBackend\b/.test(js) && /\bmountUrl\b/.test(js), "the browser helpers are exported");
});

test("a Node built-in reached from the browser entry fails the build (it is not marked external)", async () => {
  const opts = browserBuildOptions("x.js");
  await assert.rejects(
    build({ ...opts, entryPoints: undefined, stdin: { contents: 'import { readFileSync } from "node:fs"; export const f = readFileSync;', resolveDir: opts.absWorkingDir, loader: "ts" }, write: false }),
    (e: Error & { errors?: { text: string }[] }) => (e.errors ?? []).some((x) => /node:fs/.test(x.text)),
  );
});
