// Memory stability of a long LoRA run: trains a LoRA classifier on bert-mini-en (or the tiny random
// BERT) for N steps with an evaluation every `eval_every` steps, and reports the peak RSS of each
// window of steps after warm-up, the live JS heap + ArrayBuffers after a full collection at each
// evaluation and after each of `evaluate()` called 40 times after training, and whether they stay
// flat (window peaks within 5% of each other; live memory growing less than 1 KB a step and 8 KB
// an evaluate(), which also appends its metrics to log_history). Exit status 1 when not flat. test/train/memory.test.ts runs a short version.
// Usage: node --import tsx scripts/memory_stability.ts [steps=2000] [bert-mini-en|bert-tiny-random] [eval_every=250] [fixed]
// (fixed: every batch padded to the longest example, 50 tokens: one shape, no dynamic padding)
import "../src/node.js"; // the Node implementations (files, backends, MPI) behind the core
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { AutoModelForSequenceClassification } from "../src/models/auto.js";
import { LoraConfig, getPeftModel } from "../src/peft/index.js";
import { Trainer, TrainingArguments } from "../src/train/index.js";
import { Rng } from "../src/tensor/random.js";

const SHARED = join(import.meta.dirname, "..", "..", "shared");
const MODELS: Record<string, string> = {
  "bert-mini-en": join(SHARED, "fixtures", "models", "bert-mini-en"),
  "bert-tiny-random": join(SHARED, "golden", "bert-tiny-random"),
};

export interface MemoryReport {
  steps: number;
  seconds: number;
  /** Peak RSS (MB) of each window of `window` steps after warm-up. */
  windowPeaksMb: number[];
  /** Live heap + ArrayBuffers (MB) after a full collection, at each evaluation (the first after warm-up). */
  liveMb: number[];
  /** (max − min) / min of windowPeaksMb. */
  rssSpread: number;
  /** Growth of the live memory per step: the lowest value of the second half of liveMb over the first half's (bytes). */
  liveGrowthPerStep: number;
  /** Live memory (MB) after each of the evaluate() calls made after training. */
  evalLiveMb: number[];
  /** Growth of the live memory per evaluate() call over the second half of the calls (the first warm the JIT up; bytes). */
  evalGrowthPerCall: number;
}

/** gc(), from --expose-gc or switched on now. */
async function collector(): Promise<() => void> {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  const { setFlagsFromString } = await import("node:v8");
  const { runInNewContext } = await import("node:vm");
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

/** Live heap + ArrayBuffers after a full collection (MB). */
function liveMb(gc: () => void): number {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
}

/** Runs the training and collects the figures. */
export async function memoryRun(
  steps: number, modelName: string, evalEvery: number,
  o: { window?: number; warmup?: number; evalCalls?: number; fixedLength?: boolean } = {},
): Promise<MemoryReport> {
  const gc = await collector();
  const window = o.window ?? Math.max(10, Math.floor(steps / 20)), evalCalls = o.evalCalls ?? 40;
  const dir = MODELS[modelName];
  if (!dir) throw new Error(`unknown model ${modelName}; one of ${Object.keys(MODELS).join(", ")}`);
  const base = await AutoModelForSequenceClassification.fromPretrained(dir, { numLabels: 2, log: () => {} });
  const model = getPeftModel(base, new LoraConfig({ taskType: "SEQ_CLS", r: 8, loraAlpha: 16, loraDropout: 0.1, targetModules: ["query", "key", "value", "dense"] }));
  const vocab = (base.config as { vocabSize?: number }).vocabSize ?? 1000;
  const rng = new Rng(3);
  // varying lengths (dynamic padding: new shapes every batch, as real data)
  const example = () => {
    const len = 8 + Math.floor(rng.uniform() * 40);
    const ids = [2, ...Array.from({ length: len }, () => 5 + Math.floor(rng.uniform() * (vocab - 5))), 3];
    return { inputIds: ids, attentionMask: ids.map(() => 1), labels: ids[1] % 2 };
  };
  const train = Array.from({ length: 512 }, example), evalSet = Array.from({ length: 64 }, example);
  const collator = (fs: Record<string, unknown>[]) => {
    const L = o.fixedLength ? 50 : Math.max(...fs.map((f) => (f.inputIds as number[]).length));
    const pad = (a: number[]) => [...a, ...Array(L - a.length).fill(0)];
    return { inputIds: fs.map((f) => pad(f.inputIds as number[])), attentionMask: fs.map((f) => pad(f.attentionMask as number[])), labels: fs.map((f) => f.labels) };
  };
  const out = mkdtempSync(join(tmpdir(), "memory-stability-"));
  const args = TrainingArguments.fromDict({
    output_dir: out, max_steps: steps, per_device_train_batch_size: 8, per_device_eval_batch_size: 16, learning_rate: 1e-3, warmup_steps: 10,
    logging_steps: 50, save_strategy: "no", eval_strategy: "steps", eval_steps: evalEvery, disable_tqdm: true, report_to: ["none"], seed: 1,
  });
  const warmup = o.warmup ?? Math.max(window, evalEvery);
  const windowPeaks: number[] = [], live: number[] = [];
  let peak = 0;
  const trainer = new Trainer({
    model, args, trainDataset: train, evalDataset: evalSet, dataCollator: collator,
    callbacks: [{
      onStepEnd: (e) => {
        peak = Math.max(peak, process.memoryUsage.rss());
        const s = e.state.globalStep;
        if (s > warmup && (s - warmup) % window === 0) {
          windowPeaks.push(peak / 2 ** 20);
          if (process.env.MEM_DEBUG) { const m = process.memoryUsage(); console.log(s, (m.rss / 2 ** 20).toFixed(1), "heapTotal", (m.heapTotal / 2 ** 20).toFixed(1), "heapUsed", (m.heapUsed / 2 ** 20).toFixed(1), "ab", (m.arrayBuffers / 2 ** 20).toFixed(1), "ext", (m.external / 2 ** 20).toFixed(1)); }
        }
        if (s >= warmup && (s - warmup) % window === 0) peak = 0;
      },
      onEvaluate: (e) => {
        if (e.state.globalStep >= warmup && e.state.globalStep < steps) live.push(liveMb(gc));
      },
    }],
  });
  const t0 = Date.now();
  await trainer.train();
  const seconds = (Date.now() - t0) / 1000;
  const evalLive: number[] = [];
  for (let i = 0; i < evalCalls; i++) {
    await trainer.evaluate();
    await new Promise((r) => setImmediate(r));
    evalLive.push(liveMb(gc));
  }
  rmSync(out, { recursive: true, force: true });
  const from = Math.floor(evalLive.length / 2);
  const evalGrowth = evalLive.length > from + 1 ? ((evalLive[evalLive.length - 1] - evalLive[from]) * 2 ** 20) / (evalLive.length - 1 - from) : 0;
  const spread = windowPeaks.length ? (Math.max(...windowPeaks) - Math.min(...windowPeaks)) / Math.min(...windowPeaks) : 0;
  // a leak raises even the lowest values; single high readings are garbage a collection missed
  const half = Math.floor(live.length / 2);
  const growth = live.length > 1 ? ((Math.min(...live.slice(half)) - Math.min(...live.slice(0, half))) * 2 ** 20) / (evalEvery * Math.max(1, live.length - half)) : 0;
  return { steps, seconds, windowPeaksMb: windowPeaks, liveMb: live, rssSpread: spread, liveGrowthPerStep: growth, evalLiveMb: evalLive, evalGrowthPerCall: evalGrowth };
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const steps = Number(process.argv[2] ?? 2000), name = process.argv[3] ?? "bert-mini-en", evalEvery = Number(process.argv[4] ?? 250);
  const r = await memoryRun(steps, name, evalEvery, { fixedLength: process.argv[5] === "fixed" });
  const f = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(" ");
  console.log(`${name}: ${r.steps} steps in ${r.seconds.toFixed(0)} s (${(r.seconds / r.steps * 1000).toFixed(1)} ms a step)`);
  console.log(`peak RSS per window (MB): ${f(r.windowPeaksMb)}; spread ${(100 * r.rssSpread).toFixed(1)}%`);
  console.log(`live heap + ArrayBuffers after GC at each evaluation (MB): ${f(r.liveMb)}; growth ${r.liveGrowthPerStep.toFixed(0)} B a step`);
  console.log(`live after each of ${r.evalLiveMb.length} evaluate() calls (MB): ${f(r.evalLiveMb)}; growth ${r.evalGrowthPerCall.toFixed(0)} B a call`);
  const flat = r.rssSpread <= 0.05 && r.liveGrowthPerStep < 1024 && r.evalGrowthPerCall < 8192;
  console.log(flat ? "flat" : "NOT flat");
  process.exitCode = flat ? 0 : 1;
}
