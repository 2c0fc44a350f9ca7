// Builds the optional C++ addon (native/ → native/build/Release/peft_native.node).
// Detects oneDNN and OpenBLAS, tries the richest configuration first and falls back to fewer
// libraries (down to the plain C++ GEMM). Never fails the install: on any error it prints one
// warning line and exits 0, and peft-ts then runs on its TypeScript backend.
// PEFT_TS_SKIP_NATIVE=1 skips the build; PEFT_TS_NATIVE_ARCH overrides the -m flags;
// PEFT_TS_NATIVE_VERBOSE=1 streams the compiler output.
// Then, when MPI is found, it builds the separate optional MPI addon (native/mpi → peft_mpi.node);
// without MPI it prints one note line. PEFT_TS_SKIP_MPI=1 skips that step; --mpi-only builds only it.
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import os from "node:os";
import { buildMpi } from "./build-mpi.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const nativeDir = join(root, "native");
const logPath = join(nativeDir, "build", "build-native.log");
const verbose = process.env.PEFT_TS_NATIVE_VERBOSE === "1";
const started = Date.now();

function finish() {
  buildMpi({ root, verbose });
  process.exit(0);
}

function warn(msg) {
  console.warn(`peft-ts: native addon not built (${msg}); the TypeScript backend will be used. Details: ${logPath}`);
  finish();
}

if (process.argv.includes("--mpi-only")) finish();

if (process.env.PEFT_TS_SKIP_NATIVE === "1") {
  console.log("peft-ts: PEFT_TS_SKIP_NATIVE=1, skipping the native addon build");
  process.exit(0);
}

const libDirs = [
  process.env.DNNLROOT && join(process.env.DNNLROOT, "lib"),
  "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib", "/usr/local/lib64",
  "/opt/homebrew/lib",
].filter(Boolean);
const incDirs = [
  process.env.DNNLROOT && join(process.env.DNNLROOT, "include"),
  "/usr/include", "/usr/local/include", "/opt/homebrew/include",
].filter(Boolean);
const libExt = process.platform === "darwin" ? "dylib" : "so";

function findLib(name) {
  return libDirs.find((d) => existsSync(join(d, `lib${name}.${libExt}`))) ?? null;
}

function detectDnnl() {
  const lib = findLib("dnnl");
  if (!lib) return null;
  for (const d of incDirs) {
    if (existsSync(join(d, "dnnl.hpp"))) return { inc: d, lib };
    if (existsSync(join(d, "oneapi", "dnnl", "dnnl.hpp"))) return { inc: join(d, "oneapi", "dnnl"), lib };
  }
  return null;
}

function detectOpenBlas() {
  const lib = findLib("openblas");
  if (!lib) return null;
  const cands = [
    "/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/aarch64-linux-gnu/openblas-pthread",
    "/usr/include/x86_64-linux-gnu/openblas-openmp", "/usr/include/openblas", "/usr/local/include/openblas",
    "/opt/OpenBLAS/include", "/opt/homebrew/opt/openblas/include", ...incDirs,
  ];
  for (const d of cands) {
    const h = join(d, "cblas.h");
    if (existsSync(h) && /openblas/i.test(readFileSync(h, "utf8"))) return { inc: d, lib };
  }
  return null;
}

function archFlags() {
  if (process.env.PEFT_TS_NATIVE_ARCH !== undefined) return process.env.PEFT_TS_NATIVE_ARCH;
  if (process.arch !== "x64" || process.platform !== "linux") return "";
  let flags = new Set();
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("flags"));
    flags = new Set((line ?? "").split(":")[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return "";
  }
  // the build machine is the machine that runs it (built on install), so its ISA is safe to use
  const out = [];
  if (["avx2", "fma", "f16c", "bmi2"].every((f) => flags.has(f))) out.push("-mavx2", "-mfma", "-mf16c", "-mbmi2");
  if (["avx512f", "avx512bw", "avx512vl", "avx512dq"].every((f) => flags.has(f)))
    out.push("-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mprefer-vector-width=512");
  return out.join(" ");
}

function nodeGyp() {
  const bin = join(root, "node_modules", ".bin", "node-gyp");
  if (existsSync(bin)) return [bin, []];
  try {
    const js = createRequire(join(root, "package.json")).resolve("node-gyp/bin/node-gyp.js");
    return [process.execPath, [js]];
  } catch {
    return ["npx", ["--yes", "node-gyp"]];
  }
}

const dnnl = detectDnnl();
const blas = detectOpenBlas();
const arch = archFlags();
const configs = [];
if (dnnl && blas) configs.push({ dnnl, blas });
if (blas) configs.push({ dnnl: null, blas });
if (dnnl) configs.push({ dnnl, blas: null });
configs.push({ dnnl: null, blas: null });

const [cmd, pre] = nodeGyp();
// Use the running node's own headers when they are installed next to it (no download, exact version).
const nodeDir = dirname(dirname(process.execPath));
const gypExtra = existsSync(join(nodeDir, "include", "node", "common.gypi")) ? [`--nodedir=${nodeDir}`] : [];
const jobs = String(Math.max(1, Math.min(os.cpus().length, 8)));
let log = "";
mkdirSync(dirname(logPath), { recursive: true });
for (const c of configs) {
  const desc = [c.dnnl && "oneDNN", c.blas && "OpenBLAS"].filter(Boolean).join(" + ") || "plain C++ GEMM";
  const env = {
    ...process.env,
    PEFT_NATIVE_DNNL: c.dnnl ? "1" : "0",
    PEFT_NATIVE_BLAS: c.blas ? "1" : "0",
    PEFT_NATIVE_INCLUDE_DIRS: [c.dnnl?.inc, c.blas?.inc].filter(Boolean).join(" "),
    PEFT_NATIVE_LIB_DIRS: [...new Set([c.dnnl?.lib, c.blas?.lib].filter(Boolean))].map((d) => `-L${d} -Wl,-rpath,${d}`).join(" "),
    PEFT_NATIVE_ARCH: arch,
  };
  const res = spawnSync(cmd, [...pre, "rebuild", `--directory=${nativeDir}`, `--jobs=${jobs}`, ...gypExtra], {
    cwd: root,
    env,
    encoding: "utf8",
    stdio: verbose ? "inherit" : "pipe",
    maxBuffer: 64 << 20,
  });
  log += `### ${desc} (arch: ${arch || "default"})\n${res.stdout ?? ""}\n${res.stderr ?? ""}\n${res.error ? String(res.error) : ""}\n`;
  mkdirSync(dirname(logPath), { recursive: true });
  writeFileSync(logPath, log);
  if (res.status !== 0) continue;
  const addon = join(nativeDir, "build", "Release", "peft_native.node");
  // load it in a child process: catches missing shared libraries before the library needs it
  const probe = spawnSync(process.execPath, ["-e", `const a=require(${JSON.stringify(addon)});console.log(JSON.stringify(a.info()))`], {
    encoding: "utf8",
  });
  log += `probe: ${probe.stdout}${probe.stderr}\n`;
  writeFileSync(logPath, log);
  if (probe.status !== 0) continue;
  let info = {};
  try {
    info = JSON.parse(probe.stdout.trim());
  } catch {}
  const secs = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`peft-ts: native addon built with ${desc} (${info.gemm ?? "?"}, ${info.threads ?? "?"} threads, ${arch || "default ISA"}) in ${secs}s`);
  finish();
}
warn(existsSync(join(root, "node_modules", "node-addon-api")) ? "compilation failed" : "node-addon-api is not installed");
