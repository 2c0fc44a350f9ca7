// Suite "ops": GEMM (f32 and bf16 weights) at BERT shapes and the fused ops at BERT-base sizes
// (batch 8, seq 128, hidden 768, 12 heads), timed for the native backend, the TS backend and
// PyTorch (same shapes, dtype and thread count). For f32 GEMM the OpenBLAS and oneDNN figures
// are also reported on their own, so "≥ 0.9× the best of OpenBLAS/oneDNN/PyTorch" can be read off.
import { join } from "node:path";
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { benchSrc, timeMs, timeRow } from "./common.js";
import { TorchServer } from "./torch.js";
import { tsBackend } from "../src/backend/ts/index.js";
import { loadNativeBackend, nativeAddon } from "../src/backend/native/index.js";
import type { FullBackend, MatmulParams } from "../src/backend/backend.js";
import { Rng } from "../src/tensor/random.js";
import { f32ToBf16Bits } from "../src/tensor/dtype.js";


interface OpCase {
  case: string;
  op: string;
  reps: number;
  tsReps: number;
  [field: string]: unknown;
  /** Returns a runner for the given backend (all buffers allocated up front). */
  make(be: FullBackend): () => void;
}

const rng = new Rng(7);
const randn = (n: number) => rng.fillNormal(new Float32Array(n));

function gemmCase(op: "gemm_f32" | "gemm_bf16", m: number, n: number, k: number, quick: boolean): OpCase {
  const big = m * n * k >= 1 << 30;
  return {
    case: `${op} ${m}x${n}x${k}`,
    op, m, n, k,
    reps: quick ? 3 : 10,
    tsReps: big || quick ? 1 : 2,
    make(be) {
      // a Linear: x [m,k] · W[n,k]ᵀ
      const x = randn(m * k), w = randn(n * k), out = new Float32Array(m * n);
      const p: MatmulParams = { batch: 1, m, n, k, transA: false, transB: true, strideA: 0, strideB: 0, strideOut: 0, accumulate: false };
      if (op === "gemm_f32") return () => be.matmul(x, w, out, p);
      const wb = Uint16Array.from(w, (v) => f32ToBf16Bits(v));
      return () => be.matmulBf16(x, wb, out, p);
    },
  };
}

function cases(quick: boolean): OpCase[] {
  const B = 8, T = 128, H = 12, D = 64, C = 768;
  const out: OpCase[] = [];
  for (const op of ["gemm_f32", "gemm_bf16"] as const)
    for (const [m, n, k] of [[512, 768, 768], [128, 3072, 768], [1024, 1024, 1024]]) out.push(gemmCase(op, m, n, k, quick));
  const reps = quick ? 5 : 20;
  out.push({
    case: `softmax ${B * H * T}x${T}`, op: "softmax", rows: B * H * T, cols: T, reps, tsReps: 2,
    make(be) {
      const x = randn(B * H * T * T), y = new Float32Array(x.length);
      return () => be.softmax(x, y, B * H * T, T);
    },
  });
  out.push({
    case: `layernorm ${B * T}x${C}`, op: "layernorm", rows: B * T, cols: C, reps, tsReps: 2,
    make(be) {
      const x = randn(B * T * C), w = randn(C), b = randn(C), y = new Float32Array(x.length);
      const mu = new Float32Array(B * T), rs = new Float32Array(B * T);
      return () => be.layerNorm(x, w, b, y, mu, rs, B * T, C, 1e-12);
    },
  });
  out.push({
    case: `gelu ${B * T}x${4 * C}`, op: "gelu", n: B * T * 4 * C, reps, tsReps: 2,
    make(be) {
      const x = randn(B * T * 4 * C), y = new Float32Array(x.length);
      return () => be.unary("gelu", x, y, 0);
    },
  });
  out.push({
    case: `gelu backward ${B * T}x${4 * C}`, op: "gelu_backward", n: B * T * 4 * C, reps, tsReps: 2,
    make(be) {
      const x = randn(B * T * 4 * C), gy = randn(x.length), gx = new Float32Array(x.length);
      return () => be.unaryBackward("gelu", x, x, gy, gx, 0);
    },
  });
  // fused bias + GELU (a BERT intermediate after its GEMM): PyTorch runs F.gelu(x + b), two ops
  out.push({
    case: `bias+gelu ${B * T}x${4 * C}`, op: "bias_gelu", rows: B * T, cols: 4 * C, reps, tsReps: 2,
    make(be) {
      const x = randn(B * T * 4 * C), y = new Float32Array(x.length);
      // the kernel adds the bias into x in place: alternate b and −b so x does not drift
      const b = randn(4 * C), nb = b.map((v) => -v);
      let flip = false;
      return () => be.biasAct("gelu", x, (flip = !flip) ? b : nb, y, B * T, 4 * C);
    },
  });
  out.push({
    case: `bias+gelu backward ${B * T}x${4 * C}`, op: "bias_gelu_backward", rows: B * T, cols: 4 * C, reps, tsReps: 2,
    make(be) {
      const z = randn(B * T * 4 * C), gy = randn(z.length), gx = new Float32Array(z.length), gb = new Float32Array(4 * C);
      return () => be.biasActBackward("gelu", z, gy, gx, gb, B * T, 4 * C);
    },
  });
  const attnP = { batch: B, heads: H, kvHeads: H, tq: T, tk: T, headDim: D, scale: 1 / Math.sqrt(D), causal: false };
  const attnBufs = () => {
    const n = B * H * T * D;
    const mask = new Float32Array(B * T);
    for (let b = 0; b < B; b++) for (let j = T - 8; j < T; j++) mask[b * T + j] = -3.4028234663852886e38;
    return { q: randn(n), k: randn(n), v: randn(n), mask, o: new Float32Array(n), p: new Float32Array(B * H * T * T), go: randn(n), gq: new Float32Array(n), gk: new Float32Array(n), gv: new Float32Array(n) };
  };
  out.push({
    case: `attention b${B} h${H} t${T} d${D}`, op: "attention", batch: B, heads: H, seq: T, dim: D, reps: quick ? 3 : 10, tsReps: 1,
    make(be) {
      const a = attnBufs();
      return () => be.attention(a.q, a.k, a.v, a.mask, a.o, a.p, attnP);
    },
  });
  out.push({
    case: `attention b${B} h${H} t${T} d${D} (vs eager)`, op: "attention_eager", batch: B, heads: H, seq: T, dim: D, reps: quick ? 3 : 10, tsReps: 0,
    make(be) {
      const a = attnBufs();
      return () => be.attention(a.q, a.k, a.v, a.mask, a.o, a.p, attnP);
    },
  });
  out.push({
    case: `attention fwd+bwd b${B} h${H} t${T} d${D}`, op: "attention_fwd_bwd", batch: B, heads: H, seq: T, dim: D, reps: quick ? 3 : 10, tsReps: 1,
    make(be) {
      const a = attnBufs();
      return () => {
        be.attention(a.q, a.k, a.v, a.mask, a.o, a.p, attnP);
        be.attentionBackward(a.q, a.k, a.v, a.p, a.go, a.gq, a.gk, a.gv, attnP);
      };
    },
  });
  out.push({
    case: `cross_entropy ${4 * T}x32000`, op: "cross_entropy", rows: 4 * T, cols: 32000, reps, tsReps: 1,
    make(be) {
      const x = randn(4 * T * 32000), lse = new Float32Array(4 * T), loss = new Float32Array(4 * T);
      const y = Int32Array.from({ length: 4 * T }, () => rng.randint(32000));
      return () => be.crossEntropy(x, y, loss, lse, 4 * T, 32000, -100, 0);
    },
  });
  out.push({
    case: "adamw 4M params", op: "adamw", n: 1 << 22, reps, tsReps: 2,
    make(be) {
      const n = 1 << 22, p = randn(n), g = randn(n), m = new Float32Array(n), v = new Float32Array(n);
      let step = 0;
      return () => be.adamw(p, g, m, v, { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: ++step });
    },
  });
  return out;
}

/**
 * A pause between timing one thread pool and another: OpenMP workers spin briefly and OpenBLAS's
 * pthread workers for up to ~0.1 s after a call, and would otherwise steal the cores from the next
 * subject's first repetitions.
 */
const settle = () => new Promise<void>((res) => setTimeout(res, 150));

/** Calls fn back to back for `ms` milliseconds. */
function warmFor(fn: () => void, ms: number): void {
  const t0 = performance.now();
  do fn();
  while (performance.now() - t0 < ms);
}

/** Runs a two-thread kernel (layernorm 1024×768) for `ms` milliseconds. */
function warmThreads(be: FullBackend, ms: number): void {
  const R = 1024, C = 768;
  const x = randn(R * C), w = randn(C), b = randn(C), y = new Float32Array(R * C), mu = new Float32Array(R), rs = new Float32Array(R);
  warmFor(() => be.layerNorm(x, w, b, y, mu, rs, R, C, 1e-12), ms);
}

export const opsSuite: Suite = {
  name: "ops",
  description: "GEMM f32/bf16 and fused ops (softmax, layernorm, gelu and its backward, bias+gelu, attention, cross-entropy, AdamW) vs PyTorch",
  async run(opts: BenchOptions, emit: (r: BenchRow) => void): Promise<void> {
    const native = loadNativeBackend({ required: false });
    const addon = nativeAddon();
    if (addon && opts.threads) addon.setNumThreads(opts.threads);
    const threads = addon ? addon.numThreads() : opts.threads ?? 1;
    const info = addon?.info();
    const all = cases(opts.quick);
    const skipTs = opts.args.includes("--no-ts");
    const rounds = opts.quick ? 2 : 4;

    // PyTorch runs in a helper process; each round times PyTorch then us, so both see the same
    // background load, and each figure is the best round's median (robust to other processes).
    // A new process's OpenMP worker starts on the main thread's core; the OS moves it to the free core
    // only after tens of ms (measured: layernorm 1024×768 takes 0.32 ms for the first ~70 ms of a
    // process, then 0.10 ms). Keep the pool busy for 300 ms before timing anything.
    if (native) warmThreads(native, 300);
    const started = await TorchServer.start(join(benchSrc, "torch_ops.py"), [String(threads)]);
    const torch = started?.server ?? null;
    if (!torch) console.error("bench ops: no python with torch found (~/.peft-ref/bin/python, python3, or PEFT_TS_TORCH_PYTHON); PyTorch references skipped");
    for (const { make, tsReps, ...c } of all) torch?.send({ cmd: "case", ...c });
    if (!opts.json)
      console.log(
        `# native: ${info ? `${info.gemm}, auto GEMM = onednn-sgemm (batch 1) / onednn matmul (batched), bf16 GEMM via ${info.bf16Gemm}` : "unavailable"}; threads ${threads}\n` +
          `# torch: ${started ? `${started.hello.torch}, ${started.hello.threads} threads` : "absent"}; OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? "(unset)"}\n` +
          `# ms per call: best of ${rounds} interleaved rounds of the median of each round's reps (ours after 100 ms of back-to-back calls); ratio = reference/ours (> 1 = ours faster)`,
      );

    try {
      for (const c of all) {
        const best = (xs: (number | null)[]) => (xs.some((x) => x === null) || xs.length === 0 ? null : Math.min(...(xs as number[])));
        const refs: (number | null)[] = [], ours: number[] = [];
        const libs: Record<string, number[]> = {};
        const run = native ? c.make(native) : null;
        let libRun: ((impl: string) => void) | null = null;
        if (c.op === "gemm_f32" && addon) {
          const { m, n, k } = c as unknown as { m: number; n: number; k: number };
          const x = randn(m * k), w = randn(n * k), o = new Float32Array(m * n);
          libRun = (impl) => addon.matmulWith(impl, x, w, o, 1, m, n, k, false, true, 0, 0, 0, false);
        }
        for (let r = 0; r < rounds; r++) {
          refs.push(torch ? ((await torch.request({ cmd: "time", case: c.case, reps: c.reps }))?.ms ?? null) : null);
          await settle();
          if (run) {
            // back-to-back calls for 100 ms first: after the settle pause the OS may have put the
            // woken worker thread next to the main thread, and moves it within tens of ms
            warmFor(run, 100);
            ours.push(timeMs(run, c.reps));
          }
          if (libRun)
            for (const impl of ["openblas", "onednn", "onednn-sgemm"]) {
              if (impl === "openblas" ? !info!.openblas : !info!.onednn) continue;
              await settle();
              (libs[impl] ??= []).push(timeMs(() => libRun!(impl), c.reps));
            }
          await settle();
        }
        // on CPUs with AVX512_BF16/AMX also time the opt-in bf16-kernel path (bf16-rounded activations)
        const bf16Kernels: number[] = [];
        if (c.op === "gemm_bf16" && addon && info?.bf16Hardware && native) {
          addon.setBf16Gemm("auto");
          try {
            bf16Kernels.push(timeMs(c.make(native), c.reps));
          } finally {
            addon.setBf16Gemm("default");
          }
        }
        const ref = best(refs);
        if (bf16Kernels.length) emit(timeRow("ops", `${c.case} [native bf16 kernels (opt-in) vs torch]`, bf16Kernels[0], ref));
        if (run) {
          const o = Math.min(...ours);
          emit(timeRow("ops", `${c.case} [native vs torch]`, o, ref));
          for (const [impl, ts] of Object.entries(libs)) emit(timeRow("ops", `${c.case} [native vs ${impl}]`, o, Math.min(...ts)));
          if (libRun) {
            const all3 = [...Object.values(libs).map((ts) => Math.min(...ts)), ...(ref === null ? [] : [ref])];
            emit(timeRow("ops", `${c.case} [native vs best of libs+torch]`, o, all3.length ? Math.min(...all3) : null));
          }
        }
        if (!skipTs && c.tsReps > 0) {
          const tsMs = timeMs(c.make(tsBackend), c.tsReps, c.tsReps > 1 ? 1 : 0);
          emit(timeRow("ops", `${c.case} [ts vs torch]`, tsMs, ref));
        }
      }
    } finally {
      torch?.close();
    }
  },
};
