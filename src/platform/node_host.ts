// Host facts from node:os for env.ts (registered by src/node.ts): total memory, the home directory,
// the CPU (model, cores, SIMD flags from /proc/cpuinfo where there is one).
import { cpus, homedir, totalmem } from "node:os";
import { readFileSync } from "node:fs";
import type { HostInfo } from "./env.js";

/** The flags run reports show: the vector extensions the native/wasm kernels use. */
const SIMD_FLAGS = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "asimd", "sve"];

function cpuFlags(): string[] {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => /^(flags|Features)\s*:/.test(l));
    const have = new Set((line?.split(":")[1] ?? "").trim().split(/\s+/));
    return SIMD_FLAGS.filter((f) => have.has(f));
  } catch {
    return [];
  }
}

function cpu(): { model: string; cores: number; flags: string[] } | null {
  const c = cpus();
  if (!c.length) return null;
  return { model: c[0].model.trim(), cores: c.length, flags: cpuFlags() };
}

export const nodeHost: HostInfo = { totalMemoryBytes: () => totalmem(), homeDir: () => homedir(), cpu };
