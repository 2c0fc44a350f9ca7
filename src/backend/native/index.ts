// Loads the native addon (native/build/Release/peft_native.node, built on install by
// scripts/build-native.mjs) and wraps it as a Backend. Kernels the addon lacks fall back to the TS
// reference kernels; when the addon is missing altogether the library warns once and runs on TS.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BiasActOp, BinaryOp, FullBackend, KernelSet, MatmulParams, UnaryOp } from "../backend.js";
import { tsKernels } from "../ts/index.js";
import { ConfigError } from "../../tensor/errors.js";
import { quantMatmulVia } from "../../quant/quant_gemm.js";
import { DYNAMIC_CODE, FP4_CODE, NF4_CODE } from "../../quant/codes.js";
import type { QuantMatrix } from "../../quant/format.js";

/** The formats native/src/quant_gemm.cc has fused kernels for (others run the TS block kernel on the native GEMM). */
const NATIVE_QUANT: Record<string, { code: number; table: Float32Array | null }> = {
  int8: { code: 0, table: null }, nf4: { code: 1, table: NF4_CODE }, fp4: { code: 2, table: FP4_CODE },
};

/** The raw addon surface (positional arguments; see native/src/addon.cc). */
export interface NativeAddon {
  info(): {
    gemm: string; gemmImpl: string; onednn: boolean; openblas: boolean; threads: number;
    /** "onednn": activations rounded to bf16, oneDNN bf16 kernels; "widen": weight widened to f32 (exact). */
    bf16Gemm: "onednn" | "widen"; bf16Hardware: boolean;
    /** glibc malloc keeps large freed blocks for reuse (see native/src/addon.cc tune_malloc; PEFT_TS_MALLOC=default turns it off). */
    mallocTuned?: boolean;
  };
  numThreads(): number;
  setNumThreads(n: number): void;
  /** "auto" | "onednn" | "openblas" | "ref": which f32 GEMM library the kernels use. */
  setGemmImpl(impl: GemmImpl): void;
  /**
   * bf16-weight GEMM strategy: "auto" (the default: oneDNN bf16 kernels with bf16-rounded activations
   * on AVX512_BF16/AMX CPUs, like torch bf16 autocast; widen elsewhere), "widen" (weight widened to
   * f32, exact), "onednn" (force), "default" (back to PEFT_TS_BF16_GEMM, else auto).
   */
  setBf16Gemm(mode: Bf16GemmMode | "default"): void;
  [kernel: string]: any;
}
export type GemmImpl = "auto" | "onednn" | "onednn-sgemm" | "openblas" | "ref";
export type Bf16GemmMode = "widen" | "auto" | "onednn";

// Op codes: the order of the enums in native/src/peft.h.
const UNARY: UnaryOp[] = ["neg", "exp", "log", "sqrt", "rsqrt", "abs", "tanh", "sigmoid", "relu", "silu", "gelu", "gelu_tanh", "square", "reciprocal"];
const BINARY: BinaryOp[] = ["add", "sub", "mul", "div", "pow", "max", "min"];
const unaryCode = new Map(UNARY.map((op, i) => [op, i] as const));
const binaryCode = new Map(BINARY.map((op, i) => [op, i] as const));

let cached: FullBackend | null | undefined;
let cachedAddon: NativeAddon | null = null;
let why = "";
let warned = false;

/** Where the addon may live: native/build (node-gyp's output) or build/ at the package root. */
export function addonCandidates(): string[] {
  const out: string[] = [];
  let dir = dirname(fileURLToPath(import.meta.url));
  // walk up from this file to the package root (works from src/ under tsx and from dist/src/)
  for (let i = 0; i < 6; i++) {
    out.push(join(dir, "native", "build", "Release", "peft_native.node"), join(dir, "build", "Release", "peft_native.node"));
    dir = dirname(dir);
  }
  return out;
}

function loadAddon(): NativeAddon | null {
  // PEFT_TS_NATIVE_ADDON names the addon file explicitly (a missing file means: no addon)
  const explicit = process.env.PEFT_TS_NATIVE_ADDON;
  const path = explicit ? (existsSync(explicit) ? explicit : undefined) : addonCandidates().find((p) => existsSync(p));
  if (!path) {
    why = explicit ? `PEFT_TS_NATIVE_ADDON=${explicit} does not exist` : "native/build/Release/peft_native.node not found";
    return null;
  }
  // libgomp reads its wait policy when the addon loads it. Its default (spin ~300k iterations after
  // each parallel region) makes every one of the hundreds of small kernels per training step wait for
  // a descheduled sibling thread whenever another process shares the cores (10x slower steps on a
  // busy 2-core machine). Not spinning at all (passive) makes every region wake a sleeping worker,
  // which on a VM sometimes costs more than a small kernel itself (softmax/layernorm 2x slower, per
  // process). A short spin (2,000 iterations, tens of µs) keeps kernels that follow each other warm:
  // measured, idle steps unchanged, busy-machine steps within ±4%. An explicit OMP_WAIT_POLICY /
  // GOMP_SPINCOUNT from the user wins.
  const setPolicy = process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined;
  if (setPolicy) process.env.GOMP_SPINCOUNT = "2000";
  try {
    return createRequire(import.meta.url)(path) as NativeAddon;
  } catch (e) {
    why = `loading ${path} failed: ${(e as Error).message}`;
    return null;
  } finally {
    // read once at load; not passed on to child processes
    if (setPolicy) delete process.env.GOMP_SPINCOUNT;
  }
}

function mm(p: MatmulParams): [number, number, number, number, boolean, boolean, number, number, number, boolean] {
  return [p.batch, p.m, p.n, p.k, p.transA, p.transB, p.strideA, p.strideB, p.strideOut, p.accumulate];
}

function wrap(a: NativeAddon): Partial<KernelSet> {
  // an addon built before the counter-based dropout mask / fused attention dropout: TS kernels for those
  const dropAbi = a.dropoutAbi === 2;
  return {
    matmul: (x, y, out, p) => a.matmul(x, y, out, ...mm(p)),
    matmulBf16: (x, y, out, p) => a.matmulBf16(x, y, out, ...mm(p)),
    quantMatmul: (x: Float32Array, w: QuantMatrix, out: Float32Array, m: number, mode: "forward" | "backward", bf16: boolean) => {
      const f = NATIVE_QUANT[w.format];
      if (!f || typeof a.quantMatmul !== "function") {
        return quantMatmulVia((x2, y2, o2, p2) => a.matmul(x2, y2, o2, ...mm(p2)), x, w, out, m, mode, bf16);
      }
      const n = w.nested;
      a.quantMatmul(x, out, m, mode === "backward", bf16, f.code, w.rows, w.cols, w.blockSize, w.data, w.absmax, f.table,
        n ? n.q : null, n ? n.absmax2 : null, n ? n.offset : 0, n ? n.blockSize : 0, n ? DYNAMIC_CODE : null);
    },
    unary: (op, x, out, alpha) => {
      const c = unaryCode.get(op);
      if (c === undefined) return tsKernels.unary(op, x, out, alpha);
      a.unary(c, x, out, alpha);
    },
    unaryBackward: (op, x, y, gy, gx, alpha) => {
      const c = unaryCode.get(op);
      if (c === undefined) return tsKernels.unaryBackward(op, x, y, gy, gx, alpha);
      a.unaryBackward(c, x, y, gy, gx, alpha);
    },
    binary: (op, x, y, out, shape, as, bs) => {
      const c = binaryCode.get(op);
      // the native kernel takes up to 17 dims
      if (c === undefined || shape.length > 17) return tsKernels.binary(op, x, y, out, shape, as, bs);
      a.binary(c, x, y, out, shape, as, bs);
    },
    affine: (x, out, alpha, beta) => a.affine(x, out, alpha, beta),
    // (an addon built before the fused bias kernels existed falls back to TS for them)
    ...(typeof a.biasAct === "function" && {
      biasAct: (op: BiasActOp, x: Float32Array, bias: Float32Array | null, out: Float32Array, rows: number, cols: number) =>
        a.biasAct(unaryCode.get(op), x, bias, out, rows, cols),
      biasActBackward: (op: BiasActOp, z: Float32Array, gy: Float32Array, gx: Float32Array, gBias: Float32Array | null, rows: number, cols: number) =>
        a.biasActBackward(unaryCode.get(op), z, gy, gx, gBias, rows, cols),
    }),
    sum: (x, out, outer, n, inner) => a.sum(x, out, outer, n, inner),
    max: (x, out, idx, outer, n, inner) => a.max(x, out, idx, outer, n, inner),
    softmax: (x, out, rows, cols) => a.softmax(x, out, rows, cols),
    softmaxBackward: (y, gy, gx, rows, cols) => a.softmaxBackward(y, gy, gx, rows, cols),
    logSoftmax: (x, out, rows, cols) => a.logSoftmax(x, out, rows, cols),
    logSoftmaxBackward: (y, gy, gx, rows, cols) => a.logSoftmaxBackward(y, gy, gx, rows, cols),
    layerNorm: (x, w, b, out, mean, rstd, rows, cols, eps) => a.layerNorm(x, w, b, out, mean, rstd, rows, cols, eps),
    layerNormBackward: (x, w, mean, rstd, gy, gx, gw, gb, rows, cols) => a.layerNormBackward(x, w, mean, rstd, gy, gx, gw, gb, rows, cols),
    rmsNorm: (x, w, out, rstd, rows, cols, eps) => a.rmsNorm(x, w, out, rstd, rows, cols, eps),
    rmsNormBackward: (x, w, rstd, gy, gx, gw, rows, cols) => a.rmsNormBackward(x, w, rstd, gy, gx, gw, rows, cols),
    crossEntropy: (logits, labels, loss, lse, rows, cols, ignore, eps) => a.crossEntropy(logits, labels, loss, lse, rows, cols, ignore, eps),
    crossEntropyBackward: (logits, lse, labels, gLoss, gLogits, rows, cols, ignore, eps) =>
      a.crossEntropyBackward(logits, lse, labels, gLoss, gLogits, rows, cols, ignore, eps),
    attention: (q, k, v, mask, out, probs, p, drop) => {
      if (drop && !dropAbi) return tsKernels.attention(q, k, v, mask, out, probs, p, drop);
      // an addon built before out could be null: give it a scratch output
      if (!out && a.attentionAbi !== 2) out = new Float32Array(p.batch * p.heads * p.tq * p.headDim);
      a.attention(q, k, v, mask, out, probs, p.batch, p.heads, p.kvHeads, p.tq, p.tk, p.headDim, p.scale, p.causal, drop ?? null);
    },
    attentionBackward: (q, k, v, probs, gOut, gq, gk, gv, p, drop) => {
      if (drop && !dropAbi) return tsKernels.attentionBackward(q, k, v, probs, gOut, gq, gk, gv, p, drop);
      a.attentionBackward(q, k, v, probs, gOut, gq, gk, gv, p.batch, p.heads, p.kvHeads, p.tq, p.tk, p.headDim, p.scale, drop ?? null);
    },
    // (an addon built before the memory-linear attention kernels: the op keeps the eager path)
    ...(typeof a.flashAttention === "function" && {
      flashAttention: (q, k, v, mask, out, stats, p, d) =>
        a.flashAttention(q, k, v, mask, out, stats, p.batch, p.heads, p.kvHeads, p.tq, p.tk, p.headDim, p.scale, p.causal,
          p.kvStride ?? p.tk * p.headDim, ...(d ? [d.k0, d.k1, d.p, d.keepScale] : [null])),
      flashAttentionBackward: (q, k, v, mask, out, stats, gOut, gq, gk, gv, p, d) =>
        a.flashAttentionBackward(q, k, v, mask, out, stats, gOut, gq, gk, gv,
          p.batch, p.heads, p.kvHeads, p.tq, p.tk, p.headDim, p.scale, p.causal, ...(d ? [d.k0, d.k1, d.p, d.keepScale] : [null])),
    } satisfies Partial<KernelSet>),
    rotary: (x, cos, sin, out, p, inverse) =>
      a.rotary(x, cos, sin, out, p.batch, p.heads, p.seq, p.headDim, p.strideB, p.strideH, p.strideT, p.perBatch, inverse),
    dropoutMask: (state, out, p, keepScale) => (dropAbi ? a.dropoutMask(state, out, p, keepScale) : tsKernels.dropoutMask(state, out, p, keepScale)),
    dropoutApply: (state, x, out, p, keepScale) =>
      typeof a.dropoutApply === "function" ? a.dropoutApply(state, x, out, p, keepScale) : tsKernels.dropoutApply(state, x, out, p, keepScale),
    siluMul: (gate, up, out) => a.siluMul(gate, up, out),
    siluMulBackward: (gate, up, gy, gGate, gUp) => a.siluMulBackward(gate, up, gy, gGate, gUp),
    embedding: (w, ids, out, dim) => a.embedding(w, ids, out, dim),
    embeddingBackward: (gOut, ids, gW, dim) => a.embeddingBackward(gOut, ids, gW, dim),
    adamw: (p, g, m, v, hp) => a.adamw(p, g, m, v, hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weightDecay, hp.step),
    f32ToBf16: (x, out) => a.f32ToBf16(x, out),
    bf16ToF32: (x, out) => a.bf16ToF32(x, out),
  };
}

export function loadNativeBackend(opts: { required: boolean }): FullBackend | null {
  if (cached === undefined) {
    const addon = loadAddon();
    if (addon) {
      cachedAddon = addon;
      const own = wrap(addon);
      cached = {
        name: "native",
        supports: (k) => k in own,
        numThreads: () => addon.numThreads(),
        bf16RoundsInputs: () => addon.info().bf16Gemm === "onednn",
        ...tsKernels,
        ...own,
      };
    } else {
      cached = null;
    }
  }
  if (!cached) {
    if (opts.required) throw new ConfigError(`native backend requested but unavailable: ${why} (run \`npm run build:native\`)`);
    if (!warned) {
      warned = true;
      process.emitWarning(`peft-ts: native addon unavailable (${why}); using the TS backend (slower)`);
    }
  }
  return cached;
}

/** The raw addon (for benchmarks and thread control), or null when it is not built. */
export function nativeAddon(): NativeAddon | null {
  loadNativeBackend({ required: false });
  return cachedAddon;
}

/** Why the addon is unavailable ("" when it loaded). */
export function nativeUnavailableReason(): string {
  loadNativeBackend({ required: false });
  return cached ? "" : why;
}

/**
 * Opt into (or out of) bf16 compute for bf16-stored weights: "auto" rounds activations to bf16 and
 * uses oneDNN's AVX512_BF16/AMX kernels where the CPU has them (PyTorch bf16-autocast numerics,
 * several times faster there); "widen" (default) computes the exact f32 product. No-op without the addon.
 */
export function setBf16Gemm(mode: Bf16GemmMode): void {
  nativeAddon()?.setBf16Gemm(mode);
}

/** Threads used by the native kernels (oneDNN, OpenBLAS and the fused kernels share one count). */
export function setNativeThreads(n: number): void {
  const a = nativeAddon();
  if (!a) throw new ConfigError(`setNativeThreads: native addon unavailable (${why})`);
  a.setNumThreads(n);
}
