// Suite "dp": the Trainer's DP-SGD step (per-sample pass: each example its own forward/backward,
// flat clipping, σ = 1 noise, plain batches) against the non-private fp32 step on the same LoRA q/v
// model and shapes as the train suite (bert-small b8 s128, llama-small b4 s256), step time and peak
// RSS. Ghost clipping is not in the Trainer yet (docs/DESIGN.md "DP-SGD"), so there is no ghost row.
// The workers are bench/train.ts's (mode "dp" vs "fp32"); ratio = non-private step/s ÷ DP step/s
// is reported as "slowdown" (issue #20's targets: explicit ≤ 3×, ghost ≤ 1.5×).
import { fileURLToPath } from "node:url";
import type { BenchOptions, BenchRow, Suite } from "./common.js";
import { rateRow, workerMode } from "./common.js";
import { benchThreads, rssRow, runWorker, SHAPES, selectModels } from "./lora.js";
import type { Mode } from "./train.js";

export const dpSuite: Suite = {
  name: "dp",
  description: "DP-SGD Trainer step (per-sample pass, flat clipping) vs the non-private step: step/s and peak RSS on LoRA q/v bert-small and llama-small (--model=NAME)",
  async run(opts: BenchOptions, emit: (r: BenchRow) => void): Promise<void> {
    const threads = await benchThreads(opts);
    const worker = fileURLToPath(new URL("./train.ts", import.meta.url));
    const models = selectModels(opts, ["bert-small", "llama-small"]);
    if (!opts.json) console.log(`# dp: DP-SGD step (per-sample pass) vs non-private fp32 step, LoRA r8 q/v; threads ${threads}; ${workerMode(worker)}\n# ratio = DP step/s ÷ non-private step/s (1/slowdown; issue #20 target for explicit per-sample: ≥ 1/3). CPU shared: noisy.`);
    for (const model of models) {
      const s = SHAPES[model];
      const warmup = 1, steps = opts.quick ? 1 : 2;
      const res = new Map<Mode, { sps: number | null; rss: number | null }>();
      for (const mode of ["fp32", "dp"] as Mode[]) {
        const o = await runWorker(worker, { model, mode, threads, warmup, steps });
        res.set(mode, { sps: (o?.stepsPerS as number) ?? null, rss: (o?.peakRssMiB as number) ?? null });
      }
      const name = `${model} dp-sgd per-sample b${s.batch}s${s.seq} t${threads}`;
      const dp = res.get("dp")!, base = res.get("fp32")!;
      if (dp.sps === null) continue;
      emit(rateRow("dp", `${name} step/s`, dp.sps, base.sps, "step/s"));
      // rss ratio = non-private ÷ DP (> 1: DP uses less)
      if (dp.rss !== null) emit(rssRow("dp", `${name} rss`, dp.rss, base.rss));
    }
  },
};
