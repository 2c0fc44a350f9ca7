#!/usr/bin/env node
// Builds the kernels module wasm/peft_kernels*.wasm from wasm/src/*.c with Debian's clang + lld (target
// wasm32, SIMD128), freestanding: no libc, no emscripten runtime, the memory imported from the host
// (env.memory). Four variants (src/backend/wasm/variants.ts picks one at load):
//   peft_kernels.wasm                  SIMD128, private memory (one thread)
//   peft_kernels_relaxed.wasm          + relaxed SIMD (f32x4.relaxed_madd in the GEMM micro-kernel)
//   peft_kernels_threads.wasm          SIMD128 on a shared memory (atomics + bulk memory), for the worker pool
//   peft_kernels_threads_relaxed.wasm  both
// Relaxed SIMD has its final opcodes from LLVM 16 on (clang 14 emits the pre-standard ones), so the
// build needs clang ≥ 16 (Debian 12: apt-get install clang-16 lld-16). The built modules are committed,
// so users and CI need no toolchain; test/backend/wasm.test.ts rebuilds them (with --out-dir) when the
// toolchain is present and checks the committed bytes match.
// Usage: node scripts/build-wasm.mjs [--out-dir DIR]   (exit status 3: no clang ≥ 16 or wasm-ld)
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const srcDir = join(root, "wasm", "src");
const args = process.argv.slice(2);
const oi = args.indexOf("--out-dir");
const outDir = oi >= 0 ? args[oi + 1] : join(root, "wasm");

/** Major version of a clang executable, or 0 when it does not run. */
function clangMajor(name) {
  const r = spawnSync(name, ["--version"], { encoding: "utf8" });
  const m = r.status === 0 ? /clang version (\d+)/.exec(r.stdout) : null;
  return m ? Number(m[1]) : 0;
}

const versions = [19, 18, 17, 16];
const candidates = [...(process.env.CLANG ? [process.env.CLANG] : []), ...versions.map((v) => `clang-${v}`), "clang"];
const clang = candidates.find((c) => clangMajor(c) >= 16);
const major = clang ? clangMajor(clang) : 0;
const lld = clang ? [`wasm-ld-${major}`, "wasm-ld"].find((n) => spawnSync(n, ["--version"]).status === 0) : undefined;
if (!clang || !lld) {
  console.error(`build-wasm: ${!clang ? "clang ≥ 16" : `wasm-ld-${major} (package lld-${major})`} not found; install with: apt-get install -y clang-16 lld-16`);
  process.exit(3);
}
const lldPath = execFileSync("sh", ["-c", `command -v ${lld}`], { encoding: "utf8" }).trim();

const sources = readdirSync(srcDir).filter((f) => f.endsWith(".c")).sort().map((f) => join("wasm", "src", f));
const common = [
  "--target=wasm32", "-O3", "-msimd128", "-ffreestanding", "-nostdlib", "-Wall", "-Werror",
  // no absolute paths or timestamps in the output: the build is reproducible from the sources
  "-fno-ident", `-ffile-prefix-map=${root}=.`,
  "-Wl,--no-entry", "-Wl,--import-memory", "-Wl,--export=__heap_base", "-Wl,--strip-all", `-fuse-ld=${lldPath}`,
];
// the threaded build: a shared memory up to wasm32's 4 GiB; each instance gets its own stack by setting
// the exported __stack_pointer (src/backend/wasm/module.ts)
const threads = ["-matomics", "-mbulk-memory", "-Wl,--shared-memory", "-Wl,--max-memory=4294967296", "-Wl,--export=__stack_pointer"];
const relaxed = ["-mrelaxed-simd", "-DWK_RELAXED"];
const variants = [
  ["peft_kernels.wasm", []],
  ["peft_kernels_relaxed.wasm", relaxed],
  ["peft_kernels_threads.wasm", threads],
  ["peft_kernels_threads_relaxed.wasm", [...threads, ...relaxed]],
];
mkdirSync(outDir, { recursive: true });
const version = execFileSync(clang, ["--version"], { encoding: "utf8" }).split("\n")[0];
for (const [name, flags] of variants) {
  const out = join(outDir, name);
  execFileSync(clang, [...common, ...flags, "-o", out, ...sources], { cwd: root, stdio: "inherit" });
  console.log(`build-wasm: ${out} (${statSync(out).size} bytes, ${version})`);
}
