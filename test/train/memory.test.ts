// Memory stability, short version of scripts/memory_stability.ts (which runs 2,000 steps of
// bert-mini-en): 240 LoRA steps on the tiny random BERT with dynamic padding and an evaluation
// every 40 steps, then 40 evaluate() calls. After 80 warm-up steps the peak RSS of each 16-step
// window stays within 12% (this model's RSS is mostly the runtime, and when V8 collects and glibc
// reuses moves it by several MB; the 2,000-step figures of bert-mini-en are in DESIGN.md), the live JS heap + ArrayBuffers after a full collection grows less than
// 4 KB a step (resolution: a collection's noise is ~0.1 MB), and evaluate() leaves less than 8 KB a
// call behind (its log_history entry, JIT code).
import { test } from "node:test";
import assert from "node:assert/strict";
import { memoryRun } from "../../scripts/memory_stability.js";

test("240 LoRA steps and 40 evaluate() calls: flat peak RSS, no growth of the live heap", async (t) => {
  const r = await memoryRun(240, "bert-tiny-random", 40, { window: 16, warmup: 80, evalCalls: 40 });
  const f = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(" ");
  t.diagnostic(`peak RSS per window ${f(r.windowPeaksMb)} MB (spread ${(100 * r.rssSpread).toFixed(1)}%); live ${f(r.liveMb)} MB (${r.liveGrowthPerStep.toFixed(0)} B/step); after evaluate() ${r.evalGrowthPerCall.toFixed(0)} B/call`);
  assert.equal(r.windowPeaksMb.length, 10);
  assert.ok(r.rssSpread <= 0.12, `peak RSS per window: ${f(r.windowPeaksMb)} MB`);
  assert.ok(r.liveGrowthPerStep < 4096, `live memory grows ${r.liveGrowthPerStep.toFixed(0)} B a step: ${f(r.liveMb)} MB`);
  assert.ok(r.evalGrowthPerCall < 8192, `live memory grows ${r.evalGrowthPerCall.toFixed(0)} B per evaluate(): ${f(r.evalLiveMb)} MB`);
});
