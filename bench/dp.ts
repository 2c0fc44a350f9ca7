// Suite "dp": the Trainer's DP-SGD step, explicit (per-sample pass: each example its own
// forward/backward, flat clipping) and ghost clipping (one batched forward/backward with the norms
// and the clipped sum from the captured layer inputs and output gradients), σ = 1 noise, plain
// batches, against the non-private fp32 step on the same LoRA q/v model and shapes as the train
// suite (bert-small b8 s128, llama-small b4 s256), step time and peak RSS.
// The workers are bench/train.ts's (mode "dp" vs "fp32"); ratio = non-private step/s ÷ DP step/s
// is reported as "slowdown" (issue #20's targets: explicit ≤ 3×, ghost ≤ 1.5×).
import { fileURLToPath } from "node:url";
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { rateRow, workerMode } from "./common.js";
import { benchThreads, rssRow, runWorker, SHAPES, selectModels } from "./lora.js";
import type { Mode } from "./train.js";

export const dpSuite: Suite = {
  name: "dp",
  description: "DP-SGD Trainer step (explicit per-sample pass and ghost clipping) vs the non-private step: step/s and peak RSS on LoRA q/v bert-small and llama-small (--model=NAME)",
  async run(opts: BenchOptions, emit: (r: BenchRow) => void): Promise<void> {
    const threads = await benchThreads(opts);
    const worker = fileURLToPath(new URL("./train.ts", import.meta.url));
    const models = selectModels(opts, ["bert-small", "llama-small"]);
    if (!opts.json) console.log(`# dp: DP-SGD step (explicit per-sample pass; ghost clipping) vs non-private fp32 step, LoRA r8 q/v; threads ${threads}; ${workerMode(worker)}\n# ratio = DP step/s ÷ non-private step/s (1/slowdown; issue #20 targets: explicit ≥ 1/3, ghost ≥ 1/1.5). CPU shared: noisy.`);
    for (const model of models) {
      const s = SHAPES[model];
      const warmup = 1, steps = opts.quick ? 1 : 2;
      const res = new Map<Mode, { sps: number | null; rss: number | null }>();
      for (const mode of ["fp32", "dp", "dp_ghost"] as Mode[]) {
        const o = await runWorker(worker, { model, mode, threads, warmup, steps });
        res.set(mode, { sps: (o?.stepsPerS as number) ?? null, rss: (o?.peakRssMiB as number) ?? null });
      }
      const base = res.get("fp32")!;
      for (const [mode, label] of [["dp", "per-sample"], ["dp_ghost", "ghost"]] as [Mode, string][]) {
        const dp = res.get(mode)!;
        if (dp.sps === null) continue;
        const name = `${model} dp-sgd ${label} b${s.batch}s${s.seq} t${threads}`;
        emit(rateRow("dp", `${name} step/s`, dp.sps, base.sps, "step/s"));
        // rss ratio = non-private ÷ DP (> 1: DP uses less)
        if (dp.rss !== null) emit(rssRow("dp", `${name} rss`, dp.rss, base.rss));
      }
    }
  },
};
