// DP-SGD in the Trainer (src/train/trainer_dp.ts): ε is logged at every logging step, grows, and
// equals the accountant for the steps taken (also in trainer_state.json); σ = 0 with plain batches
// equals a hand-written clipped-mean SGD; a target ε is met; refusals are clear.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Trainer, TrainingArguments, SGD } from "../../src/train/index.js";
import { RDPAccountant, perSampleGradients, seededGaussian } from "../../src/train/dp/index.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { tensor } from "../../src/tensor/tensor.js";
import { TinyRegressor, regressionData, regressionCollator, paramsOf, maxDiff } from "./helpers.js";
import { tmp } from "../peft/helpers.js";
import { plotsFromLogHistory } from "../../src/train/report.js";

const N = 32;
function args(extra: Record<string, unknown> = {}): TrainingArguments {
  return TrainingArguments.fromDict({ output_dir: tmp("dp-trainer-"), disable_tqdm: true, save_strategy: "no", report_to: ["none"], learning_rate: 0.05, warmup_steps: 0, lr_scheduler_type: "constant", optim: "sgd", per_device_train_batch_size: 4, gradient_accumulation_steps: 2, logging_steps: 1, dp: true, dp_max_grad_norm: 0.5, ...extra });
}
const trainer = (m: TinyRegressor, a: TrainingArguments) => new Trainer({ model: m, args: a, trainDataset: regressionData(N), dataCollator: regressionCollator, trainSampler: "sequential" });

test("ε is logged every logging step, grows, and equals the RDP accountant for the steps taken (trainer_state.json too)", async () => {
  const a = args({ dp_noise_multiplier: 1.1, max_steps: 5, dp_delta: 1e-5 });
  const t = trainer(new TinyRegressor(), a);
  t.dpNoise = seededGaussian(3);
  const out = await t.train();
  const eps = t.state.logHistory.filter((e) => "epsilon" in e).map((e) => [e.step, e.epsilon] as [number, number]);
  assert.deepEqual(eps.map(([s]) => s), [1, 2, 3, 4, 5]);
  for (const [step, e] of eps) {
    const acc = new RDPAccountant();
    acc.step({ noiseMultiplier: 1.1, sampleRate: 8 / N }, step);
    assert.ok(Math.abs(e - acc.getEpsilon(1e-5)) < 1e-12, `step ${step}: ${e} vs ${acc.getEpsilon(1e-5)}`);
  }
  for (let i = 1; i < eps.length; i++) assert.ok(eps[i][1] > eps[i - 1][1]);
  assert.equal(out.metrics.dp_epsilon, eps[4][1]);
  assert.equal(out.metrics.dp_sample_rate, 0.25);
  const state = JSON.parse(readFileSync(join(a.outputDir, "trainer_state.json"), "utf8"));
  assert.deepEqual(state.log_history.filter((e: any) => "epsilon" in e).map((e: any) => e.epsilon), eps.map(([, e]) => e));
  const plot = plotsFromLogHistory(t.state.logHistory).find((p) => p.id === "epsilon");
  assert.deepEqual(plot?.series[0].points, eps, "the report plots ε over steps");
});

test("σ = 0 with plain batches: the Trainer's update is the clipped mean of per-sample gradients (SGD by hand)", async () => {
  const a = args({ dp_noise_multiplier: 0, dp_poisson_sampling: false, max_steps: 3 });
  const m = new TinyRegressor(), ref = new TinyRegressor();
  await trainer(m, a).train();
  const data = regressionData(N);
  const named = ref.namedParameters();
  const opt = new SGD([{ params: named.map(([, p]) => p), names: named.map(([n]) => n) }], { lr: 0.05 });
  for (let s = 0; s < 3; s++) {
    const rows = data.slice(8 * s, 8 * s + 8);
    const g = perSampleGradients(named, 8, (i) => ref.forward(regressionCollator([rows[i]]) as any).loss!);
    const sums = named.map(([, p]) => new Float32Array(p.size));
    for (const gi of g) {
      const norm = Math.sqrt(gi.reduce((acc, v) => acc + v.reduce((x, y) => x + y * y, 0), 0));
      const c = Math.min(1, 0.5 / (norm + 1e-6));
      gi.forEach((v, k) => v.forEach((x, j) => { sums[k][j] += (c * x) / 8; }));
    }
    named.forEach(([, p], k) => { p.grad = tensor(sums[k], { shape: p.shape }); });
    opt.step();
  }
  assert.ok(maxDiff(paramsOf(m), paramsOf(ref)) < 1e-6, `diff ${maxDiff(paramsOf(m), paramsOf(ref))}`);
});

test("dp_target_epsilon: the searched noise multiplier spends at most the target by the end", async () => {
  const a = args({ dp_target_epsilon: 4, num_train_epochs: 1, logging_steps: 100 });
  const t = trainer(new TinyRegressor(), a);
  t.dpNoise = seededGaussian(4);
  const out = await t.train();
  assert.equal(t.state.globalStep, 4); // 32 examples, batch 4 × accumulation 2
  const e = out.metrics.dp_epsilon as number;
  assert.ok(e <= 4 && e > 3.9, `ε ${e}`);
});

test("DP refusals: neither/both ε and σ, ghost clipping with a custom loss, fp16, ZeRO, batch larger than the data", async () => {
  assert.throws(() => args({}), (e: Error) => e instanceof ConfigError && /exactly one of dp_target_epsilon and dp_noise_multiplier/.test(e.message));
  assert.throws(() => args({ dp_noise_multiplier: 1, dp_target_epsilon: 3 }), /got both/);
  const custom = new Trainer({ model: new TinyRegressor(), args: args({ dp_noise_multiplier: 1, dp_clipping: "ghost" }), trainDataset: regressionData(N), dataCollator: regressionCollator, computeLoss: (m, b) => (m as TinyRegressor).forward(b as any).loss! });
  await assert.rejects(() => custom.train(), (e: Error) => e instanceof ConfigError && /dp_clipping "ghost" needs the model's own loss.*custom compute_loss/.test(e.message));
  assert.throws(() => args({ dp_noise_multiplier: 1, dp_clipping: "bogus" }), /dp_clipping must be "flat", "per_layer" or "ghost"/);
  assert.throws(() => args({ dp_noise_multiplier: 1, fp16: true }), /fp16/);
  assert.throws(() => args({ dp_noise_multiplier: 1, zero_stage: 1 }), (e: Error) => e instanceof ConfigError && /tensor parallelism or ZeRO is not supported .*each example's whole gradient on one rank/.test(e.message));
  const t = new Trainer({ model: new TinyRegressor(), args: args({ dp_noise_multiplier: 1, per_device_train_batch_size: 64 }), trainDataset: regressionData(N), dataCollator: regressionCollator });
  await assert.rejects(() => t.train(), /exceeds the 32 training examples/);
});

test("CLI: the dp_* flags exist with the TrainingArguments names and build DP arguments", async () => {
  const { TRAINING_OPTS } = await import("../../src/cli/options.js");
  const { trainingArguments } = await import("../../src/cli/trainer_api.js");
  const names = TRAINING_OPTS.map((o) => o.name);
  for (const n of ["dp", "dp_target_epsilon", "dp_noise_multiplier", "dp_delta", "dp_max_grad_norm", "dp_accountant", "dp_clipping", "dp_poisson_sampling"]) assert.ok(names.includes(n), n);
  assert.deepEqual(TRAINING_OPTS.find((o) => o.name === "dp_clipping")!.choices, ["flat", "per_layer", "ghost"]);
  const a = trainingArguments({ output_dir: tmp("dp-cli-"), dp: true, dp_target_epsilon: 8, dp_accountant: "gdp" });
  assert.equal(a.dp, true);
  assert.equal(a.dpTargetEpsilon, 8);
  assert.equal(a.dpAccountant, "gdp");
  assert.equal(a.toDict().dp_max_grad_norm, 1);
});
