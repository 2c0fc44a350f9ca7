// Suite "lora": one LoRA training step (forward + loss + backward + AdamW step + zero grad; r=8,
// alpha 16, dropout 0) at the shapes of /work/shared/bench/torch_peft_bench.py (bert-small b8 s128,
// llama-small b4 s256, bert-base b8 s128 with --full), q/v and all-linear targets, fp32 and
// bf16-stored frozen weights, side by side with `torch_peft_bench.py --mode lora|lora-all`
// (fp32 vs fp32, our bf16 frozen weights vs torch --dtype bf16 autocast) at the same thread count.
//
// Every case (ours and torch's) runs in its own child process so peak RSS (maxRSS of that process)
// is per case; rounds alternate ours/torch so both see the same background load and the best
// round counts. This file also holds the helpers the "infer" and "train" suites share, and runs as
// the worker for its own cases: `node --import tsx bench/lora.ts --worker '<json>'`.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { benchSrc, compiledTwin, rateRow, runAsWorker, workerMode } from "./common.js";
import { findTorchPython } from "./torch.js";


// ------------------------------------------------------------------ shapes (torch_peft_bench.py CONFIGS)
export { SHAPES, loraTargets, type ModelName } from "./lora_shapes.js";
import { SHAPES, loraTargets, type ModelName } from "./lora_shapes.js";

// ------------------------------------------------------------------ child processes
export interface ChildResult {
  [k: string]: unknown;
  peakRssMiB: number;
}

function selfArgs(file: string): string[] {
  if (!file.endsWith(".ts")) return [file];
  const js = compiledTwin(file);
  return js ? [js] : ["--import", "tsx", file];
}

/** Runs one case in a fresh node process (the suite file in worker mode); returns its JSON result or null. */
export async function runWorker(file: string, spec: unknown, timeoutMs = 1_800_000): Promise<ChildResult | null> {
  const r = await runChild(process.execPath, [...selfArgs(file), "--worker", JSON.stringify(spec)], timeoutMs, `worker ${JSON.stringify(spec)}`);
  if (r && r.backend !== "native") console.error(`bench: worker ran on the '${r.backend}' backend, not native (addon missing or being rebuilt?): ${JSON.stringify(spec)}`);
  return r;
}

/** Runs a process and parses the last JSON line of its stdout. */
export function runChild(cmd: string, args: string[], timeoutMs: number, what: string, env?: NodeJS.ProcessEnv): Promise<any | null> {
  return new Promise((res) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
    let out = "", err = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d: string) => (out += d));
    child.stderr.on("data", (d: string) => (err = (err + d).slice(-4000)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        console.error(`bench: ${what} failed (${code ?? signal}): ${err.slice(-2000)}`);
        return res(null);
      }
      const lines = out.split("\n").filter((l) => l.trim().startsWith("{"));
      try {
        res(lines.length ? JSON.parse(lines[lines.length - 1]) : null);
      } catch {
        console.error(`bench: ${what}: unparsable output: ${lines[lines.length - 1]}`);
        res(null);
      }
    });
  });
}

/** torch_peft_bench.py: PEFT_TS_TORCH_BENCH, else the shared copy next to the repository. */
export function torchBenchScript(): string | null {
  const cands = [process.env.PEFT_TS_TORCH_BENCH, join(benchSrc, "..", "..", "shared", "bench", "torch_peft_bench.py"), "/work/shared/bench/torch_peft_bench.py"];
  for (const c of cands) if (c && existsSync(c)) return c;
  return null;
}

export interface TorchRun {
  tokPerS: number;
  medianS: number;
  peakRssMiB: number;
  foreignLoad: number;
}

/** True when the CPU has native bf16 dot products (AVX512_BF16 or AMX-BF16), which torch's bf16 autocast needs to be fast. */
export function cpuHasBf16(): boolean {
  try {
    return /\b(avx512_bf16|amx_bf16)\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return false;
  }
}

/**
 * torch --dtype bf16 references run only where the CPU has bf16 hardware (or with --torch-bf16):
 * elsewhere torch emulates bf16 (~50-100x slower than its fp32: minutes per step), which is neither
 * a useful reference nor affordable in a bench run.
 */
export function torchBf16Enabled(opts: BenchOptions): boolean {
  return cpuHasBf16() || opts.args.includes("--torch-bf16");
}

/** Round r of a side-by-side case: ours first on even rounds, the reference first on odd ones (both see the same background load). */
export async function alternate(r: number, runOurs: () => Promise<void>, runRef: () => Promise<void>): Promise<void> {
  if (r % 2 === 0) {
    await runOurs();
    await runRef();
  } else {
    await runRef();
    await runOurs();
  }
}

/** The header line saying that torch's bf16 references are skipped on this CPU ("" when they run). */
export const bf16SkipLine = (bf16Ref: boolean) =>
  bf16Ref ? "" : "# no AVX512_BF16/AMX on this CPU: torch bf16 references skipped (torch emulates bf16 here, minutes per step; --torch-bf16 forces them)\n";

/** One `torch_peft_bench.py --json` run; null when torch or the script is unavailable or it fails. */
export async function runTorchBench(o: { model: ModelName; mode: string; dtype: "fp32" | "bf16"; threads: number; warmup: number; steps: number }): Promise<TorchRun | null> {
  const py = findTorchPython();
  const script = torchBenchScript();
  if (!py || !script) return null;
  const s = SHAPES[o.model];
  const r = await runChild(py.python, [
    script, "--json", "--model", o.model, "--mode", o.mode, "--dtype", o.dtype, "--batch", String(s.batch), "--seq", String(s.seq),
    "--warmup", String(o.warmup), "--steps", String(o.steps), "--threads", String(o.threads),
  ], 1_800_000, `torch_peft_bench ${o.model} ${o.mode} ${o.dtype}`);
  if (!r) return null;
  return { tokPerS: r.tokens_per_s, medianS: r.median_s, peakRssMiB: r.peak_rss_mib, foreignLoad: r.foreign_cpu_cores_avg };
}

/** Thread count for both sides: --threads, else the native addon's default (its pool size). */
export async function benchThreads(opts: BenchOptions): Promise<number> {
  if (opts.threads) return opts.threads;
  const { nativeAddon } = await import("../src/backend/native/index.js");
  return nativeAddon()?.numThreads() ?? 1;
}

/** Reads `--name=value` from the command line (main.ts would take a separate value word for a suite name). */
export function argValue(opts: BenchOptions, name: string): string | undefined {
  const a = opts.args.find((x) => x.startsWith(name + "="));
  return a === undefined ? undefined : a.slice(name.length + 1);
}

/** The bench models to run: `--model=a,b` narrows the default list (an unknown name is an error). */
export function selectModels(opts: BenchOptions, defaults: ModelName[]): ModelName[] {
  const want = argValue(opts, "--model");
  if (want === undefined) return defaults;
  const names = want.split(",");
  for (const n of names) if (!(n in SHAPES)) throw new Error(`--model: unknown bench model '${n}' (known: ${Object.keys(SHAPES).join(", ")})`);
  return names as ModelName[];
}

export const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

/** Best (highest) of the rounds' values, or null if any round failed. */
export const bestOf = (xs: (number | null)[]) => (xs.length === 0 || xs.some((x) => x === null) ? null : Math.max(...(xs as number[])));
/** Lowest of the rounds' values (for RSS), or null. */
export const lowestOf = (xs: (number | null)[]) => (xs.length === 0 || xs.some((x) => x === null) ? null : Math.min(...(xs as number[])));

export function rssRow(suite: string, name: string, ours: number, ref: number | null): BenchRow {
  return { suite, case: name, ours, reference: ref, unit: "MiB", ratio: ref === null || ours <= 0 ? null : ref / ours };
}

// ------------------------------------------------------------------ worker side (runs in the child)
export interface Batch {
  inputs: Record<string, unknown>;
  tokens: number;
}

/** Random inputs as torch_peft_bench.py builds them (ids uniform over the vocab; BERT: no padding, type 0, random labels). */
export async function makeBatch(model: ModelName, withLabels: boolean): Promise<Batch> {
  const { Rng } = await import("../src/tensor/random.js");
  const s = SHAPES[model];
  const rng = new Rng(1234);
  const V = s.hf.vocab_size as number;
  const ids = Array.from({ length: s.batch }, () => Array.from({ length: s.seq }, () => rng.randint(V)));
  const inputs: Record<string, unknown> = { inputIds: ids };
  if (s.kind === "bert") {
    inputs.attentionMask = ids.map((r) => r.map(() => 1));
    inputs.tokenTypeIds = ids.map((r) => r.map(() => 0));
    if (withLabels) inputs.labels = ids.map(() => rng.randint(2));
  } else if (withLabels) inputs.labels = ids;
  return { inputs, tokens: s.batch * s.seq };
}

/** The bench batch as Trainer examples, one per row (BERT: mask, type ids 0 and its label; llama: labels = the ids). */
export async function trainExamples(model: ModelName): Promise<Record<string, unknown>[]> {
  const s = SHAPES[model];
  const { inputs } = await makeBatch(model, true);
  const ids = inputs.inputIds as number[][];
  return ids.map((row, i) => {
    const e: Record<string, unknown> = { inputIds: row, attentionMask: row.map(() => 1) };
    if (s.kind === "bert") {
      e.tokenTypeIds = row.map(() => 0);
      e.labels = (inputs.labels as number[])[i];
    } else e.labels = row;
    return e;
  });
}

/** `base` with the bench's LoRA adapter (r 8, alpha 16, no dropout) on loraTargets(model, all). */
export async function withBenchLora(base: any, model: ModelName, all: boolean): Promise<any> {
  const { getPeftModel, LoraConfig } = await import("../src/peft/index.js");
  return getPeftModel(base, new LoraConfig({
    taskType: SHAPES[model].kind === "bert" ? "SEQ_CLS" : "CAUSAL_LM", r: 8, loraAlpha: 16, loraDropout: 0, targetModules: loraTargets(model, all),
  }));
}

/** A randomly initialised model (HF init) of the bench shape. */
export async function buildModel(model: ModelName): Promise<any> {
  const { parseConfig } = await import("../src/io/hf_config.js");
  const { AutoModelForSequenceClassification, AutoModelForCausalLM } = await import("../src/models/auto.js");
  const s = SHAPES[model];
  const cfg = parseConfig(s.hf, `bench:${model}`);
  return s.kind === "bert" ? AutoModelForSequenceClassification.fromConfig(cfg) : AutoModelForCausalLM.fromConfig(cfg);
}

/** Sets the native thread count (and bf16 GEMM mode) in the worker. */
export async function workerSetup(spec: { threads: number; bf16Gemm?: string }): Promise<string> {
  const { nativeAddon } = await import("../src/backend/native/index.js");
  const { getBackend } = await import("../src/backend/registry.js");
  const a = nativeAddon();
  if (a) {
    a.setNumThreads(spec.threads);
    if (spec.bf16Gemm) a.setBf16Gemm(spec.bf16Gemm as never);
  }
  return (getBackend() as { name?: string }).name ?? "?";
}

export const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

export interface CpuSnap {
  busy: number;
  own: number;
  wall: number;
}
/** (machine busy CPU seconds, own CPU seconds, wall seconds), as torch_peft_bench.py's cpu_snapshot. */
export function cpuSnapshot(): CpuSnap {
  let busy = NaN;
  try {
    const v = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    busy = (v.slice(0, 8).reduce((a, b) => a + b, 0) - v[3] - v[4]) / 100; // USER_HZ = 100 on Linux
  } catch {
    /* not Linux */
  }
  const u = process.cpuUsage();
  return { busy, own: (u.user + u.system) / 1e6, wall: performance.now() / 1000 };
}
/** Average cores used by OTHER processes between two snapshots (contention indicator). */
export function foreignLoad(a: CpuSnap, b: CpuSnap): number {
  const wall = b.wall - a.wall;
  return wall > 0 ? (b.busy - a.busy - (b.own - a.own)) / wall : NaN;
}
/**
 * Runs `step` warmup + steps times; the wall and own-CPU seconds of the timed ones, and the foreign load
 * over them (cores used by other processes while timing).
 */
export function timeSteps(step: () => void, warmup: number, steps: number): { times: number[]; cpuTimes: number[]; foreign: number } {
  const times: number[] = [], cpuTimes: number[] = [];
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  let snap0 = cpuSnapshot();
  for (let i = 0; i < warmup + steps; i++) {
    if (i === warmup) snap0 = cpuSnapshot();
    const t0 = performance.now(), c0 = cpu();
    step();
    if (i >= warmup) {
      times.push((performance.now() - t0) / 1000);
      cpuTimes.push(cpu() - c0);
    }
  }
  return { times, cpuTimes, foreign: foreignLoad(snap0, cpuSnapshot()) };
}
const fmtLoad = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(2) : "?");
/** A comment line with both sides' foreign load (cores used by other processes while timing). */
export function loadLine(name: string, ours: unknown, torch: unknown): string {
  return `#   ${name}: foreign load during timing: ours ${fmtLoad(ours)} cores, torch ${fmtLoad(torch)} cores`;
}

interface LoraSpec {
  model: ModelName;
  all: boolean;
  bf16: boolean;
  threads: number;
  warmup: number;
  steps: number;
  bf16Gemm?: string;
}

async function loraWorker(spec: LoraSpec): Promise<Record<string, unknown>> {
  const backend = await workerSetup(spec);
  const { AdamW } = await import("../src/train/optim/index.js");
  const { storeFrozenWeights } = await import("../src/train/amp.js");
  const s = SHAPES[spec.model];
  const base = await buildModel(spec.model);
  const pm = await withBenchLora(base, spec.model, spec.all);
  if (spec.bf16) storeFrozenWeights(pm, "bf16");
  const params = pm.parameters().filter((p: { requiresGrad: boolean }) => p.requiresGrad);
  const [trainable, total] = pm.getNbTrainableParameters();
  const opt = new AdamW(params, { lr: 1e-4, weightDecay: 0.01 });
  const { inputs, tokens } = await makeBatch(spec.model, true);
  pm.train();
  const losses: number[] = [];
  const { times, foreign } = timeSteps(() => {
    const out = pm.forward(inputs);
    out.loss!.backward();
    opt.step();
    pm.zeroGrad();
    losses.push(out.loss!.item());
  }, spec.warmup, spec.steps);
  const med = median(times);
  return { backend, foreign, trainable, total, times, medianS: med, tokPerS: tokens / med, lossFirst: losses[0], lossLast: losses[losses.length - 1], peakRssMiB: peakRssMiB() };
}

// ------------------------------------------------------------------ suite
export const loraSuite: Suite = {
  name: "lora",
  description: "LoRA train step (fwd+loss+bwd+AdamW+zero grad) tok/s and peak RSS vs torch_peft_bench.py (--full: bert-base; --model=NAME[,NAME]; --rounds=N; --bf16-gemm=auto; --torch-bf16)",
  async run(opts: BenchOptions, emit: (r: BenchRow) => void): Promise<void> {
    const threads = await benchThreads(opts);
    const rounds = Number(argValue(opts, "--rounds") ?? 1);
    const bf16Gemm = argValue(opts, "--bf16-gemm");
    const models = selectModels(opts, ["bert-small", "llama-small", ...(opts.args.includes("--full") ? ["bert-base" as ModelName] : [])]);
    const py = findTorchPython(), script = torchBenchScript();
    const bf16Ref = torchBf16Enabled(opts);
    if (!opts.json)
      console.log(
        bf16SkipLine(bf16Ref) +
        `# lora: threads ${threads}; torch: ${py && script ? `${py.version} (${script})` : "absent (references skipped)"}; ${rounds} round(s), best round; each case in its own process; ${workerMode(fileURLToPath(import.meta.url))}\n` +
          `# tok/s = batch*seq / median step; rss = peak RSS of the case's process; bf16 = ours: frozen weights stored bf16 (GEMM mode ${bf16Gemm ?? "default"}), torch: --dtype bf16 (autocast)\n` +
          `# ratio tok/s = ours/torch, ratio rss = torch/ours (> 1 = ours better). CPU shared with other jobs: figures are noisy.`,
      );
    for (const model of models) {
      const quick = opts.quick;
      const small = model === "bert-small";
      const warmup = quick ? 1 : small ? 2 : 1;
      const steps = quick ? 2 : small ? 5 : 3;
      for (const all of [false, true]) {
        for (const dtype of ["fp32", "bf16"] as const) {
          const s = SHAPES[model];
          const name = `${model} ${all ? "lora-all" : "lora"} ${dtype} b${s.batch}s${s.seq} t${threads}`;
          const ours: (number | null)[] = [], oursRss: (number | null)[] = [], ref: (number | null)[] = [], refRss: (number | null)[] = [];
          let info: ChildResult | null = null;
          let refLoad: number | null = null;
          for (let r = 0; r < rounds; r++) {
            const runOurs = async () => {
              const o = await runWorker(fileURLToPath(import.meta.url), { model, all, bf16: dtype === "bf16", threads, warmup, steps, bf16Gemm });
              ours.push((o?.tokPerS as number) ?? null);
              oursRss.push(o?.peakRssMiB ?? null);
              info = o ?? info;
            };
            const runRef = async () => {
              const t = dtype === "bf16" && !bf16Ref ? null : await runTorchBench({ model, mode: all ? "lora-all" : "lora", dtype, threads, warmup, steps });
              ref.push(t?.tokPerS ?? null);
              refRss.push(t?.peakRssMiB ?? null);
              refLoad = t?.foreignLoad ?? refLoad;
            };
            await alternate(r, runOurs, runRef);
          }
          const o = bestOf(ours);
          if (o === null) continue;
          if (!opts.json && info) {
            const i = info as ChildResult;
            console.log(`#   ${name}: trainable ${i.trainable} / ${i.total}, loss ${(i.lossFirst as number).toFixed(4)} -> ${(i.lossLast as number).toFixed(4)}, backend ${i.backend}`);
            console.log(loadLine(name, i.foreign, refLoad));
          }
          emit(rateRow("lora", `${name} tok/s`, o, bestOf(ref), "tok/s"));
          emit(rssRow("lora", `${name} rss`, lowestOf(oursRss)!, lowestOf(refRss)));
        }
      }
    }
  },
};

runAsWorker(import.meta.url, loraWorker);
