// Every scheduler against sequences written from transformers' formulas here (independently of
// src/train/schedule.ts), plus the golden lr sequences of bert-lora and bert-lora-trainer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { SGD, getScheduler, LambdaLR, SchedulerType, ReduceLROnPlateau } from "../../src/train/index.js";
import { gjson } from "../peft/helpers.js";

function opt(lr = 0.1): SGD {
  return new SGD([Tensor.zeros([2]).requiresGrad_()], { lr });
}
function run(type: SchedulerType, o: Record<string, number>, steps: number, lr = 0.1): number[] {
  const op = opt(lr);
  const s = getScheduler(type, op, o);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    out.push(op.paramGroups[0].lr);
    s.step();
  }
  return out;
}
function close(a: number[], e: number[], what: string): void {
  assert.equal(a.length, e.length, what);
  a.forEach((v, i) => assert.ok(Math.abs(v - e[i]) <= 1e-12 + 1e-9 * Math.abs(e[i]), `${what}[${i}]: ${v} vs ${e[i]}`));
}

const W = 3, T = 12, LR = 0.1;
const steps = [...Array(T + 3).keys()];

test("constant and constant_with_warmup", () => {
  close(run("constant", {}, 15), steps.map(() => LR), "constant");
  close(run("constant_with_warmup", { numWarmupSteps: W }, 15), steps.map((s) => LR * (s < W ? s / W : 1)), "constant_with_warmup");
});

test("linear with warmup", () => {
  close(run("linear", { numWarmupSteps: W, numTrainingSteps: T }, 15), steps.map((s) => LR * (s < W ? s / W : Math.max(0, (T - s) / (T - W)))), "linear");
});

test("cosine (half wave) and cosine_with_restarts", () => {
  close(run("cosine", { numWarmupSteps: W, numTrainingSteps: T }, 15), steps.map((s) => LR * (s < W ? s / W : Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * ((s - W) / (T - W))))))), "cosine");
  const cyc = 2;
  close(run("cosine_with_restarts", { numWarmupSteps: W, numTrainingSteps: T, numCycles: cyc }, 15), steps.map((s) => {
    if (s < W) return LR * s / W;
    const p = (s - W) / (T - W);
    return p >= 1 ? 0 : LR * 0.5 * (1 + Math.cos(Math.PI * ((cyc * p) % 1)));
  }), "cosine_with_restarts");
});

test("polynomial (power 2, lr_end 0.01)", () => {
  const end = 0.01, pw = 2;
  close(run("polynomial", { numWarmupSteps: W, numTrainingSteps: T, lrEnd: end, power: pw }, 15), steps.map((s) => {
    if (s < W) return LR * s / W;
    if (s > T) return end;
    return (LR - end) * (1 - (s - W) / (T - W)) ** pw + end;
  }), "polynomial");
});

test("inverse_sqrt (timescale defaults to warmup)", () => {
  close(run("inverse_sqrt", { numWarmupSteps: W }, 15), steps.map((s) => LR * (s < W ? s / W : 1 / Math.sqrt(s / W))), "inverse_sqrt");
  close(run("inverse_sqrt", { numWarmupSteps: 0, timescale: 5 }, 6), [0, 1, 2, 3, 4, 5].map((s) => LR / Math.sqrt((s + 5) / 5)), "inverse_sqrt timescale");
});

test("cosine_with_min_lr and warmup_stable_decay", () => {
  close(run("cosine_with_min_lr", { numWarmupSteps: W, numTrainingSteps: T, minLrRate: 0.1 }, 15), steps.map((s) => {
    if (s < W) return LR * s / W;
    const f = 0.5 * (1 + Math.cos(Math.PI * ((s - W) / (T - W))));
    return LR * (f * 0.9 + 0.1);
  }), "cosine_with_min_lr");
  close(run("warmup_stable_decay", { numWarmupSteps: 2, numStableSteps: 3, numDecaySteps: 4, decayType: "linear" as unknown as number }, 10), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => {
    if (s < 2) return LR * s / 2;
    if (s < 5) return LR;
    if (s < 9) return LR * (1 - (s - 5) / 4);
    return 0;
  }), "warmup_stable_decay");
});

test("reduce_lr_on_plateau (torch defaults: factor 0.1, patience 10 → here patience 1)", () => {
  const op = opt();
  const s = new ReduceLROnPlateau(op, { patience: 1 });
  const lrs: number[] = [];
  for (const m of [1.0, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4]) {
    s.stepMetric(m);
    lrs.push(op.paramGroups[0].lr);
  }
  close(lrs, [0.1, 0.1, 0.1, 0.1 * 0.1, 0.01, 0.01, 0.01 * 0.1], "plateau");
  // state round trip
  const op2 = opt();
  const s2 = new ReduceLROnPlateau(op2, { patience: 1 });
  s2.loadStateDict(JSON.parse(JSON.stringify(s.stateDict())));
  s.stepMetric(0.4); s2.stepMetric(0.4);
  assert.equal(op2.paramGroups[0].lr, op.paramGroups[0].lr);
  assert.equal(s2.numBadEpochs, s.numBadEpochs);
});

test("scheduler state round-trips through JSON and continues identically", () => {
  const a = opt(), b = opt();
  const sa = getScheduler("cosine", a, { numWarmupSteps: 2, numTrainingSteps: 10 }) as LambdaLR;
  for (let i = 0; i < 4; i++) sa.step();
  const sb = getScheduler("cosine", b, { numWarmupSteps: 2, numTrainingSteps: 10 });
  sb.loadStateDict(JSON.parse(JSON.stringify(sa.stateDict())));
  for (let i = 0; i < 6; i++) {
    assert.equal(b.paramGroups[0].lr, a.paramGroups[0].lr);
    sa.step(); sb.step();
  }
  assert.throws(() => getScheduler("linear", opt(), { numTrainingSteps: 10 }).loadStateDict(sa.stateDict()), /is for 'cosine'/);
});

test("golden lr sequences: bert-lora 10 steps (warmup 2 of 10) and HF Trainer (warmup 2 of 6)", () => {
  const g = gjson("bert-lora/golden.json").train_10_steps.log as any[];
  close(run("linear", { numWarmupSteps: 2, numTrainingSteps: 10 }, 10, 1e-3), g.map((e) => e.lr), "bert-lora lr");
  const op = opt(1e-3);
  const s = getScheduler("linear", op, { numWarmupSteps: 2, numTrainingSteps: 10 });
  const after: number[] = [];
  for (let i = 0; i < 10; i++) { s.step(); after.push(s.getLastLr()[0]); }
  close(after, g.map((e) => e.lr_after_scheduler_step), "bert-lora lr after step");
  const h = (gjson("bert-lora-trainer/golden.json").log_history as any[]).filter((e) => "learning_rate" in e);
  close(run("linear", { numWarmupSteps: 2, numTrainingSteps: 6 }, 6, 1e-3), h.map((e) => e.learning_rate), "trainer lr");
});
