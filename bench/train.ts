// Suite "train": end-to-end steps/s and peak RSS of the real Trainer (src/train: collation, forward,
// backward, grad-norm clipping 1.0, AdamW lr 1e-4 wd 0.01, linear schedule, zero grad) on a LoRA
// model (r=8, alpha 16, q/v targets) at the lora suite's shapes (bert-small b8 s128, llama-small
// b4 s256, --full adds bert-base b8 s128), fp32 vs bf16 (frozen weights stored bf16, args.bf16) vs
// gradient checkpointing (fp32), side by side with torch_peft_bench.py --mode lora where it has the
// matching mode (fp32, bf16 autocast; it has no gradient checkpointing). The torch figure is a bare
// loop (no clipping, schedule or collation), so the ratio slightly favours torch.
// Each case runs in its own child process (peak RSS per case); the worker is this file:
// `node --import tsx bench/train.ts --worker '<json>'`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { rateRow, runAsWorker, workerMode } from "./common.js";
import { findTorchPython } from "./torch.js";
import {
  argValue, benchThreads, bestOf, buildModel, cpuSnapshot, CpuSnap, foreignLoad, loadLine, lowestOf, median, ModelName, peakRssMiB, rssRow, runTorchBench, runWorker, alternate, bf16SkipLine, SHAPES, selectModels, torchBenchScript, torchBf16Enabled, workerSetup, trainExamples, withBenchLora,
} from "./lora.js";

/** dp: DP-SGD (per-sample pass, flat clipping, σ 1, plain batches so every step has the same size; bench/dp.ts); dp_ghost: the same with ghost clipping. */
export type Mode = "fp32" | "bf16" | "gc" | "dp" | "dp_ghost";

interface TrainSpec {
  model: ModelName;
  mode: Mode;
  threads: number;
  warmup: number;
  steps: number;
  bf16Gemm?: string;
}

async function trainWorker(spec: TrainSpec): Promise<Record<string, unknown>> {
  const backend = await workerSetup(spec);
  const { Trainer, TrainingArguments } = await import("../src/train/index.js");
  const s = SHAPES[spec.model];
  const pm = await withBenchLora(await buildModel(spec.model), spec.model, false);
  // one batch of the bench shape, repeated: each step sees batch-size examples of seq tokens
  const examples = await trainExamples(spec.model);
  const total = spec.warmup + spec.steps;
  const dataset = Array.from({ length: total }, () => examples).flat();
  const out = mkdtempSync(join(tmpdir(), "peft-ts-bench-train-"));
  const times: number[] = [];
  let t0 = 0;
  let snap0: CpuSnap | null = null;
  try {
    const args = new TrainingArguments({
      outputDir: out, perDeviceTrainBatchSize: s.batch, maxSteps: total, learningRate: 1e-4, weightDecay: 0.01,
      bf16: spec.mode === "bf16", gradientCheckpointing: spec.mode === "gc", saveStrategy: "no", loggingStrategy: "no",
      evalStrategy: "no", reportTo: ["none"], disableTqdm: true,
      ...(spec.mode === "dp" || spec.mode === "dp_ghost" ? { dp: true, dpNoiseMultiplier: 1.0, dpMaxGradNorm: 1.0, dpPoissonSampling: false, dpClipping: spec.mode === "dp" ? "flat" : "ghost" } : {}),
    });
    const trainer = new Trainer({
      model: pm, args, trainDataset: dataset, trainSampler: "sequential",
      callbacks: [{
        onStepBegin: () => {
          if (times.length === spec.warmup) snap0 = cpuSnapshot();
          t0 = performance.now();
        },
        onStepEnd: () => void times.push((performance.now() - t0) / 1000),
      }],
    });
    const r = await trainer.train();
    const foreign = snap0 ? foreignLoad(snap0, cpuSnapshot()) : NaN;
    const timed = times.slice(spec.warmup);
    const med = median(timed);
    return { backend, foreign, times, medianS: med, stepsPerS: 1 / med, tokPerS: (s.batch * s.seq) / med, trainLoss: r.trainingLoss, peakRssMiB: peakRssMiB() };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export const trainSuite: Suite = {
  name: "train",
  description: "Trainer steps/s and peak RSS on LoRA q/v (bert-small, llama-small; --full: bert-base): fp32, bf16 frozen weights, gradient checkpointing, vs torch_peft_bench.py --mode lora (--model=NAME; --rounds=N; --torch-bf16)",
  async run(opts: BenchOptions, emit: (r: BenchRow) => void): Promise<void> {
    const threads = await benchThreads(opts);
    const rounds = Number(argValue(opts, "--rounds") ?? 1);
    const bf16Gemm = argValue(opts, "--bf16-gemm");
    const self = fileURLToPath(import.meta.url);
    const py = findTorchPython(), script = torchBenchScript();
    const bf16Ref = torchBf16Enabled(opts);
    const models = selectModels(opts, ["bert-small", "llama-small", ...(opts.args.includes("--full") ? ["bert-base" as ModelName] : [])]);
    if (!opts.json)
      console.log(
        bf16SkipLine(bf16Ref) +
        `# train: Trainer (clip 1.0, AdamW, linear schedule) on LoRA r8 q/v; threads ${threads}; torch: ${py && script ? `${py.version} bare loop (torch_peft_bench.py --mode lora)` : "absent (references skipped)"}; ${workerMode(self)}\n` +
          `# ${rounds} round(s), best round; each case in its own process; bf16 = frozen weights stored bf16 (args.bf16) vs torch --dtype bf16 (autocast);\n` +
          `# gc-fp32 = gradient checkpointing, compared with torch fp32 without checkpointing (the torch bench has none); rss = peak RSS of the case's process\n` +
          `# ratio step/s = ours/torch, ratio rss = torch/ours (> 1 = ours better). CPU shared with other jobs: figures are noisy.`,
      );
    for (const model of models) {
      const s = SHAPES[model];
      const small = model === "bert-small";
      const warmup = opts.quick ? 1 : small ? 2 : 1;
      const steps = opts.quick ? 2 : small ? 5 : 3;
      const torchRef = new Map<Mode, { sps: number | null; rss: number | null }>();
      for (const mode of ["fp32", "bf16", "gc"] as Mode[]) {
        const name = `${model} trainer ${mode === "gc" ? "gc-fp32" : mode} b${s.batch}s${s.seq} t${threads}`;
        const ours: (number | null)[] = [], oursRss: (number | null)[] = [], ref: (number | null)[] = [], refRss: (number | null)[] = [];
        let oLoad: unknown = null, tLoad: unknown = null;
        for (let r = 0; r < rounds; r++) {
          const runOurs = async () => {
            const o = await runWorker(self, { model, mode, threads, warmup, steps, bf16Gemm });
            ours.push((o?.stepsPerS as number) ?? null);
            oursRss.push(o?.peakRssMiB ?? null);
            oLoad = o?.foreign ?? oLoad;
          };
          const runRef = async () => {
            if (mode === "gc" || mode === "dp" || mode === "dp_ghost" || (mode === "bf16" && !bf16Ref)) return;
            const t = await runTorchBench({ model, mode: "lora", dtype: mode, threads, warmup, steps });
            ref.push(t ? 1 / t.medianS : null);
            refRss.push(t?.peakRssMiB ?? null);
            tLoad = t?.foreignLoad ?? tLoad;
          };
          await alternate(r, runOurs, runRef);
        }
        if (mode !== "gc") torchRef.set(mode, { sps: bestOf(ref), rss: lowestOf(refRss) });
        const o = bestOf(ours);
        if (o === null) continue;
        // gradient checkpointing: compared with torch fp32 (no checkpointing) for speed, RSS likewise
        if (!opts.json) console.log(loadLine(name, oLoad, tLoad));
        const ref0 = mode === "gc" ? torchRef.get("fp32") ?? { sps: null, rss: null } : { sps: bestOf(ref), rss: lowestOf(refRss) };
        emit(rateRow("train", `${name} step/s`, o, ref0.sps, "step/s"));
        emit(rssRow("train", `${name} rss`, lowestOf(oursRss)!, ref0.rss));
      }
    }
  },
};

runAsWorker(import.meta.url, trainWorker);
