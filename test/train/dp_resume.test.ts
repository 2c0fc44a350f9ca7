// Resuming a DP-SGD run (trainer_dp.ts stateJSON/restore): the checkpoint's trainer_state.json
// "dp" carries the accountant's history, so ε continues where it stopped, and the Poisson samples
// are redrawn from the data RNG as in an uninterrupted run (mid-epoch and at an epoch's end).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Trainer, TrainingArguments } from "../../src/train/index.js";
import { RDPAccountant, seededGaussian } from "../../src/train/dp/index.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { TinyRegressor, regressionData, regressionCollator, paramsOf, maxDiff } from "./helpers.js";
import { tmp } from "../peft/helpers.js";

const N = 32; // 4 optimizer steps per epoch (batch 4 × accumulation 2)
function args(extra: Record<string, unknown> = {}): TrainingArguments {
  return TrainingArguments.fromDict({
    output_dir: tmp("dp-resume-"), disable_tqdm: true, report_to: ["none"], learning_rate: 0.05, warmup_steps: 0, lr_scheduler_type: "constant", optim: "sgd",
    per_device_train_batch_size: 4, gradient_accumulation_steps: 2, logging_steps: 1, save_strategy: "steps", save_steps: 2, max_steps: 7,
    dp: true, dp_max_grad_norm: 0.5, dp_delta: 1e-5, ...extra,
  });
}
async function run(a: TrainingArguments, resume?: string): Promise<Trainer> {
  const t = new Trainer({ model: new TinyRegressor(), args: a, trainDataset: regressionData(N), dataCollator: regressionCollator });
  t.dpNoise = seededGaussian(9);
  await t.train({ resumeFromCheckpoint: resume });
  return t;
}
const epsCurve = (t: Trainer) => t.state.logHistory.filter((e) => "epsilon" in e).map((e) => [e.step, e.epsilon]);

test("resume keeps the accountant: the ε curve equals the uninterrupted run's (mid-epoch and epoch-end checkpoints); trainer_state.json holds ε", async () => {
  const full = await run(args({ dp_noise_multiplier: 1.1 }));
  const ref = epsCurve(full);
  assert.equal(ref.length, 7);
  const acc = new RDPAccountant();
  acc.step({ noiseMultiplier: 1.1, sampleRate: 8 / N }, 7);
  assert.ok(Math.abs((ref[6][1] as number) - acc.getEpsilon(1e-5)) < 1e-12);
  const state = JSON.parse(readFileSync(join(full.args.outputDir, "trainer_state.json"), "utf8"));
  assert.equal(state.dp.epsilon, ref[6][1]);
  assert.deepEqual([state.dp.steps, state.dp.noise_multiplier, state.dp.sample_rate, state.dp.delta, state.dp.max_grad_norm, state.dp.accountant], [7, 1.1, 0.25, 1e-5, 0.5, "rdp"]);
  for (const ck of ["checkpoint-2", "checkpoint-4"]) {
    const saved = JSON.parse(readFileSync(join(full.args.outputDir, ck, "trainer_state.json"), "utf8"));
    assert.equal(saved.dp.steps, Number(ck.split("-")[1]));
    const resumed = await run(args({ dp_noise_multiplier: 1.1 }), join(full.args.outputDir, ck));
    assert.deepEqual(epsCurve(resumed), ref, `resumed from ${ck}`);
  }
});

test("resume with σ = 0: the same Poisson batches and update as the uninterrupted run", async () => {
  const full = await run(args({ dp_noise_multiplier: 0 }));
  for (const ck of ["checkpoint-2", "checkpoint-4"]) {
    const resumed = await run(args({ dp_noise_multiplier: 0 }), join(full.args.outputDir, ck));
    const d = maxDiff(paramsOf(resumed.model), paramsOf(full.model));
    assert.ok(d === 0, `resumed from ${ck}: max diff ${d}`);
  }
});

test("resume refusals: another noise multiplier, a checkpoint without DP state; a run without DP drops the DP state", async () => {
  const dpRun = await run(args({ dp_noise_multiplier: 1.1, max_steps: 2 }));
  await assert.rejects(() => run(args({ dp_noise_multiplier: 1.2, max_steps: 2 }), join(dpRun.args.outputDir, "checkpoint-2")),
    (e: Error) => e instanceof ConfigError && /was written with noise multiplier 1\.1, this run has 1\.2/.test(e.message));
  // a run without DP from a DP checkpoint: its trainer_state.json no longer claims DP
  const cont = await run(args({ dp: false, max_steps: 2 }), join(dpRun.args.outputDir, "checkpoint-2"));
  assert.equal(cont.state.dp, null);
  assert.equal(JSON.parse(readFileSync(join(cont.args.outputDir, "trainer_state.json"), "utf8")).dp, undefined);
  const plain = await run(args({ dp: false, max_steps: 2 }));
  await assert.rejects(() => run(args({ dp_noise_multiplier: 1.1, max_steps: 2 }), join(plain.args.outputDir, "checkpoint-2")),
    (e: Error) => e instanceof ConfigError && /has no "dp" privacy state/.test(e.message));
});
