#!/usr/bin/env node
// Builds wasm/peft_kernels.wasm from wasm/src/*.c with Debian's clang + lld (target wasm32, SIMD128),
// freestanding: no libc, no emscripten runtime, the memory imported from the host (env.memory).
// The built module is committed, so users and CI need no toolchain; test/backend/wasm.test.ts
// rebuilds it (with --out) when clang is present and checks the committed bytes match.
// Usage: node scripts/build-wasm.mjs [--out FILE]   (exit status 3: clang or wasm-ld is not installed)
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = join(root, "wasm", "src");
const args = process.argv.slice(2);
const oi = args.indexOf("--out");
const out = oi >= 0 ? args[oi + 1] : join(root, "wasm", "peft_kernels.wasm");

/** First of the candidate executables that runs (Debian installs clang-NN with a clang alternative). */
function findTool(names) {
  for (const n of names) {
    const r = spawnSync(n, ["--version"], { encoding: "utf8" });
    if (r.status === 0) return n;
  }
  return null;
}

const versions = [19, 18, 17, 16, 15, 14];
const clang = findTool([process.env.CLANG ?? "clang", ...versions.map((v) => `clang-${v}`)]);
const lld = findTool(["wasm-ld", ...versions.map((v) => `wasm-ld-${v}`)]);
if (!clang || !lld) {
  console.error(`build-wasm: ${!clang ? "clang" : "wasm-ld (package lld)"} not found; install with: apt-get install -y clang lld`);
  process.exit(3);
}

const sources = readdirSync(srcDir).filter((f) => f.endsWith(".c")).sort().map((f) => join("wasm", "src", f));
const flags = [
  "--target=wasm32", "-O3", "-msimd128", "-ffreestanding", "-nostdlib", "-Wall", "-Werror",
  // no absolute paths or timestamps in the output: the build is reproducible from the sources
  "-fno-ident", `-ffile-prefix-map=${root}=.`,
  "-Wl,--no-entry", "-Wl,--import-memory", "-Wl,--export=__heap_base", "-Wl,--strip-all",
  // wasm-ld looks for itself next to clang; name it explicitly when it carries a version suffix
  ...(lld !== "wasm-ld" ? [`-fuse-ld=${lld}`] : []),
];
mkdirSync(dirname(out), { recursive: true });
execFileSync(clang, [...flags, "-o", out, ...sources], { cwd: root, stdio: "inherit" });
console.log(`build-wasm: ${out} (${statSync(out).size} bytes, ${execFileSync(clang, ["--version"], { encoding: "utf8" }).split("\n")[0]})`);
