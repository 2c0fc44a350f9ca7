// Trainer behaviour on a small MLP: accumulation equivalence, fp16 loss scaling, non-finite
// loss errors, checkpoint rotation, best-model reload, early stopping, callbacks, strategies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, basename } from "node:path";
import { Tensor } from "../../src/tensor/tensor.js";
import * as ops from "../../src/ops/index.js";
import { Trainer, TrainingArguments, TrainingError, EarlyStoppingCallback, TrainerCallback, AdamW, GradScaler } from "../../src/train/index.js";
import { TinyRegressor, regressionData, regressionCollator, paramsOf, maxDiff } from "./helpers.js";
import { tmp } from "../peft/helpers.js";

function args(extra: Record<string, unknown> = {}): TrainingArguments {
  return TrainingArguments.fromDict({ output_dir: tmp("trainer-"), disable_tqdm: true, save_strategy: "no", report_to: ["none"], learning_rate: 0.01, warmup_steps: 0, ...extra });
}

function trainer(model: TinyRegressor, a: TrainingArguments, n = 16, extra: Record<string, unknown> = {}): Trainer {
  return new Trainer({ model, args: a, trainDataset: regressionData(n), evalDataset: regressionData(8, 99), dataCollator: regressionCollator, trainSampler: "sequential", ...extra });
}

test("accumulation: one batch of 16 equals 4 accumulated batches of 4 (same params within 1e-6)", async () => {
  const a = new TinyRegressor(), b = new TinyRegressor();
  await trainer(a, args({ per_device_train_batch_size: 16, max_steps: 3, max_grad_norm: 0 })).train();
  await trainer(b, args({ per_device_train_batch_size: 4, gradient_accumulation_steps: 4, max_steps: 3, max_grad_norm: 0 })).train();
  assert.ok(maxDiff(paramsOf(a), paramsOf(b)) < 1e-6, `diff ${maxDiff(paramsOf(a), paramsOf(b))}`);
});

test("accumulation: uneven last accumulation and a short last batch still average over examples", async () => {
  // 10 examples: batch 4 × ga 3 → micro-batches of 4, 4, 2 in one step == one batch of 10
  const a = new TinyRegressor(), b = new TinyRegressor();
  const ta = trainer(a, args({ per_device_train_batch_size: 10, num_train_epochs: 2 }), 10);
  const tb = trainer(b, args({ per_device_train_batch_size: 4, gradient_accumulation_steps: 3, num_train_epochs: 2 }), 10);
  await ta.train();
  await tb.train();
  assert.equal(tb.state.globalStep, 2);
  assert.ok(maxDiff(paramsOf(a), paramsOf(b)) < 1e-6);
  const la = ta.state.logHistory.filter((e) => "loss" in e), lb = tb.state.logHistory.filter((e) => "loss" in e);
  // 12 examples, batch 4, ga 2 → steps of (4,4) and (4): the second step is an uneven accumulation
  const c = new TinyRegressor(), d = new TinyRegressor();
  const tc = trainer(c, args({ per_device_train_batch_size: 4, gradient_accumulation_steps: 2, num_train_epochs: 1, max_grad_norm: 0, lr_scheduler_type: "constant" }), 12);
  await tc.train();
  assert.equal(tc.state.globalStep, 2);
  const data = regressionData(12);
  const opt = new AdamW([{ params: d.parameters(), names: d.namedParameters().map(([n]) => n) }], { lr: 0.01, weightDecay: 0 });
  for (const rows of [data.slice(0, 8), data.slice(8)]) {
    const out = d.forward(regressionCollator(rows));
    out.loss!.backward();
    opt.step();
    d.zeroGrad();
  }
  assert.ok(maxDiff(paramsOf(c), paramsOf(d)) < 1e-6);
  assert.equal(la.length, lb.length);
});

test("trainer_state epoch/step bookkeeping, logging_first_step, epoch strategies, callbacks fire in order", async () => {
  const events: string[] = [];
  const cb: TrainerCallback = {
    onTrainBegin: () => events.push("train_begin"),
    onEpochEnd: (e) => events.push(`epoch_end@${e.state.globalStep}`),
    onEvaluate: (e) => events.push(`evaluate@${e.state.globalStep}:${"eval_loss" in e.metrics!}`),
    onSave: (e) => events.push(`save@${e.state.globalStep}:${basename(e.checkpoint!)}`),
    onTrainEnd: () => events.push("train_end"),
  };
  const a = args({ per_device_train_batch_size: 4, num_train_epochs: 2, eval_strategy: "epoch", save_strategy: "epoch", logging_strategy: "epoch" });
  const t = trainer(new TinyRegressor(), a, 16, { callbacks: [cb] });
  await t.train();
  assert.deepEqual(events, ["train_begin", "epoch_end@4", "evaluate@4:true", "save@4:checkpoint-4", "epoch_end@8", "evaluate@8:true", "save@8:checkpoint-8", "train_end"]);
  const hist = t.state.logHistory;
  assert.deepEqual(hist.map((e) => e.step), [4, 4, 8, 8, 8]);
  assert.ok("loss" in hist[0] && "eval_loss" in hist[1] && "train_loss" in hist[4]);
  assert.equal(hist[0].epoch, 1);
});

test("a callback can stop training (control.shouldTrainingStop)", async () => {
  const t = trainer(new TinyRegressor(), args({ per_device_train_batch_size: 4, num_train_epochs: 3 }), 16, {
    callbacks: [{ onStepEnd: (e: any) => { if (e.state.globalStep === 3) e.control.shouldTrainingStop = true; } }],
  });
  await t.train();
  assert.equal(t.state.globalStep, 3);
});

test("fp16: an injected inf gradient skips the step, halves the scale and is logged", async () => {
  const model = new TinyRegressor();
  let calls = 0;
  const before: Map<string, Float32Array>[] = [];
  const t = new Trainer({
    model, args: args({ per_device_train_batch_size: 4, max_steps: 3, fp16: true, logging_steps: 1 }), trainDataset: regressionData(12), dataCollator: regressionCollator, trainSampler: "sequential",
    computeLoss: (m, inputs) => {
      calls++;
      before.push(paramsOf(m));
      const loss = (m as TinyRegressor).forward(inputs as any).loss!;
      return calls === 2 ? ops.mul(loss, Tensor.scalar(Infinity)) : loss;
    },
    callbacks: [],
  });
  await t.train();
  const skipped = t.state.logHistory.filter((e) => e.skipped_step === true);
  assert.equal(skipped.length, 1);
  assert.equal(skipped[0].step, 2);
  assert.equal(skipped[0].loss_scale, 2 ** 16);
  assert.equal(skipped[0].new_loss_scale, 2 ** 15);
  assert.equal(t.scaler!.scale, 2 ** 15);
  // step 2 was skipped: the params seen by step 3 equal those seen by step 2
  assert.equal(maxDiff(before[1], before[2]), 0);
  assert.ok(maxDiff(before[0], before[1]) > 0);
  // unscaled gradients: the fp16 run's first step equals an f32 run's first step
  const ref = new TinyRegressor();
  await trainer(ref, args({ per_device_train_batch_size: 4, max_steps: 1 }), 12).train();
  assert.ok(maxDiff(before[1], paramsOf(ref)) < 1e-6);
});

test("GradScaler grows the scale after growth_interval clean steps", () => {
  const s = new GradScaler({ growthInterval: 3 });
  for (let i = 0; i < 3; i++) { s.unscale([new Float32Array([1])]); s.update(); }
  assert.equal(s.scale, 2 ** 17);
  s.unscale([new Float32Array([NaN])]);
  assert.ok(s.foundInf);
  s.update();
  assert.equal(s.scale, 2 ** 16);
});

test("NaN loss without fp16, max_nonfinite_skips 0: stops with an error naming the step and the last good checkpoint", async () => {
  let calls = 0;
  const a = args({ per_device_train_batch_size: 4, max_steps: 5, save_strategy: "steps", save_steps: 2, max_nonfinite_skips: 0 });
  const t = new Trainer({
    model: new TinyRegressor(), args: a, trainDataset: regressionData(20), dataCollator: regressionCollator,
    computeLoss: (m, inputs) => {
      calls++;
      const loss = (m as TinyRegressor).forward(inputs as any).loss!;
      return calls === 3 ? ops.mul(loss, Tensor.scalar(NaN)) : loss;
    },
  });
  await assert.rejects(t.train(), (e: Error) => {
    assert.ok(e instanceof TrainingError);
    assert.match(e.message, /training loss is NaN at step 3/);
    assert.ok(e.message.includes(join(a.outputDir, "checkpoint-2")), e.message);
    return true;
  });
});

test("save_total_limit rotation keeps the newest checkpoints, and never deletes the best one", async () => {
  const a = args({ per_device_train_batch_size: 4, max_steps: 6, save_strategy: "steps", save_steps: 1, save_total_limit: 2 });
  await trainer(new TinyRegressor(), a).train();
  assert.deepEqual(readdirSync(a.outputDir).filter((n) => n.startsWith("checkpoint-")).sort(), ["checkpoint-5", "checkpoint-6"]);
  // best model: eval loss is lowest at step 2 when a callback makes later evaluations worse
  const b = args({ per_device_train_batch_size: 4, max_steps: 6, save_strategy: "steps", save_steps: 1, eval_strategy: "steps", eval_steps: 1, save_total_limit: 2, load_best_model_at_end: true });
  const model = new TinyRegressor();
  const t = trainer(model, b, 16, {
    computeMetrics: () => ({ fake: 0 }),
  });
  const origEval = t.evaluate.bind(t);
  let bestParams: Map<string, Float32Array> | null = null;
  t.evaluate = async (o?: any) => {
    const m = await origEval(o);
    const s = t.state.globalStep;
    m.eval_loss = s === 2 ? 0.01 : 1 + s;
    if (s === 2) bestParams = paramsOf(model);
    return m;
  };
  await t.train();
  const left = readdirSync(b.outputDir).filter((n) => n.startsWith("checkpoint-")).sort();
  assert.deepEqual(left, ["checkpoint-2", "checkpoint-6"]);
  assert.equal(t.state.bestModelCheckpoint, join(b.outputDir, "checkpoint-2"));
  assert.equal(t.state.bestMetric, 0.01);
  assert.equal(t.state.bestGlobalStep, 2);
  // best model reloaded at the end
  assert.equal(maxDiff(paramsOf(model), bestParams!), 0);
  const st = JSON.parse(readFileSync(join(b.outputDir, "checkpoint-6", "trainer_state.json"), "utf8"));
  assert.equal(st.best_model_checkpoint, join(b.outputDir, "checkpoint-2"));
  for (const f of ["model.safetensors", "optimizer.safetensors", "scheduler.json", "rng_state.json", "trainer_state.json", "training_args.json"]) {
    assert.ok(existsSync(join(b.outputDir, "checkpoint-6", f)), f);
  }
  const ta = JSON.parse(readFileSync(join(b.outputDir, "checkpoint-6", "training_args.json"), "utf8"));
  assert.equal(ta.load_best_model_at_end, true);
  assert.equal(ta.per_device_train_batch_size, 4);
});

test("EarlyStoppingCallback stops after `patience` evaluations without improvement", async () => {
  const a = args({ per_device_train_batch_size: 4, max_steps: 20, save_strategy: "steps", save_steps: 1, eval_strategy: "steps", eval_steps: 1, load_best_model_at_end: true, save_total_limit: 1 });
  const es = new EarlyStoppingCallback(2, 0.0);
  const t = trainer(new TinyRegressor(), a, 16, { callbacks: [es] });
  const seq = [1.0, 0.5, 0.6, 0.55, 0.4, 0.45, 0.45, 0.3];
  const origEval = t.evaluate.bind(t);
  t.evaluate = async (o?: any) => {
    const m = await origEval(o);
    m.eval_loss = seq[t.state.globalStep - 1];
    for (const cb of t.callbacks) cb.onEvaluate?.({ args: a, state: t.state, control: t.control, metrics: m });
    return m;
  };
  // the wrapper calls onEvaluate itself with the overridden metric, so drop the built-in call
  const origFire = (t as any).fire.bind(t);
  (t as any).fire = (hook: string, extra: any) => (hook === "onEvaluate" ? undefined : origFire(hook, extra));
  await t.train();
  // best at 2 (0.5); 3 and 4 fail to improve → stop at step 4 ... then 0.4 never reached
  assert.equal(t.state.globalStep, 4);
  assert.equal(t.state.bestMetric, 0.5);
  assert.deepEqual(readdirSync(a.outputDir).filter((n) => n.startsWith("checkpoint-")).sort(), ["checkpoint-2", "checkpoint-4"]);
  assert.throws(() => new EarlyStoppingCallback().onTrainBegin!({ args: args(), state: t.state, control: t.control }), /load_best_model_at_end/);
});

test("resume 'latest' with a half-written temp folder present picks the last complete checkpoint", async () => {
  const { mkdirSync, writeFileSync } = await import("node:fs");
  const a = args({ per_device_train_batch_size: 4, max_steps: 4, save_strategy: "steps", save_steps: 1 });
  const t = trainer(new TinyRegressor(), a);
  t.callbacks.push({ onStepEnd: (e) => { if (e.state.globalStep === 2) e.control.shouldTrainingStop = true; } });
  await t.train();
  // a crash while writing checkpoint-3 leaves only a temp dir (no trainer_state.json in a checkpoint-N)
  mkdirSync(join(a.outputDir, ".checkpoint-3.tmp-x"), { recursive: true });
  mkdirSync(join(a.outputDir, "checkpoint-9"), { recursive: true });
  writeFileSync(join(a.outputDir, "checkpoint-9", "model.safetensors"), "partial");
  const { getLastCheckpoint } = await import("../../src/train/index.js");
  assert.equal(getLastCheckpoint(a.outputDir), join(a.outputDir, "checkpoint-2"));
});

test("reduce_lr_on_plateau in the Trainer: lr cut after eval_loss stops improving (patience from lr_scheduler_kwargs)", async () => {
  const a = args({ per_device_train_batch_size: 4, max_steps: 6, eval_strategy: "steps", eval_steps: 1, logging_steps: 1, lr_scheduler_type: "reduce_lr_on_plateau", lr_scheduler_kwargs: { patience: 0, factor: 0.5 } });
  const t = trainer(new TinyRegressor(), a);
  const seq = [1, 2, 3, 0.5, 0.6, 0.7];
  const origEval = t.evaluate.bind(t);
  t.evaluate = async (o?: any) => { const m = await origEval(o); m.eval_loss = seq[t.state.globalStep - 1]; return m; };
  await t.train();
  const lrs = t.state.logHistory.filter((e) => "learning_rate" in e).map((e) => e.learning_rate);
  // evals after steps 2, 3, 5, 6 do not improve → halvings apply from the following step
  assert.deepEqual(lrs, [0.01, 0.01, 0.005, 0.0025, 0.0025, 0.00125]);
});

test("a Trainer subclass can override computeLoss (the Distiller's hook)", async () => {
  class Scaled extends Trainer {
    calls = 0;
    override computeLoss(model: any, inputs: Record<string, unknown>) {
      this.calls++;
      return ops.mul(super.computeLoss(model, inputs), Tensor.scalar(2));
    }
  }
  const t = new Scaled({ model: new TinyRegressor(), args: args({ per_device_train_batch_size: 4, max_steps: 2, logging_steps: 1 }), trainDataset: regressionData(8), dataCollator: regressionCollator, trainSampler: "sequential" });
  await t.train();
  assert.equal(t.calls, 2);
  const ref = trainer(new TinyRegressor(), args({ per_device_train_batch_size: 4, max_steps: 1, logging_steps: 1 }), 8);
  await ref.train();
  assert.equal(t.state.logHistory[0].loss, 2 * (ref.state.logHistory[0].loss as number));
});

test("the data helper's Dataset class is accepted as a train/eval dataset", async () => {
  const { Dataset } = await import("../../src/data/datasets.js");
  const ds = new Dataset(regressionData(8) as any);
  const t = new Trainer({ model: new TinyRegressor(), args: args({ per_device_train_batch_size: 4, max_steps: 2, eval_strategy: "steps", eval_steps: 2 }), trainDataset: ds as any, evalDataset: ds as any, dataCollator: regressionCollator });
  await t.train();
  assert.ok(t.state.logHistory.some((e) => "eval_loss" in e));
});

test("label smoothing is HF's LabelSmoother: a causal LM's labels are shifted like its own loss", async () => {
  const { AutoModelForCausalLM } = await import("../../src/models/auto.js");
  const { GOLDEN, goldenJson } = await import("../models/helpers.js");
  const model = await AutoModelForCausalLM.fromPretrained(join(GOLDEN, "llama-tiny-random"), { log: () => {} });
  model.eval();
  const g = goldenJson("llama-tiny-random");
  const batch = { inputIds: g.inputs.input_ids, attentionMask: g.inputs.attention_mask, labels: g.inputs.labels };
  const lossWith = (eps: number) => new Trainer({ model, args: args({ label_smoothing_factor: eps }) }).computeLoss(model, batch).item();
  // ε → 0 gives the model's own loss (transformers' value in the golden file)
  assert.ok(Math.abs(lossWith(1e-9) - g.loss) < 1e-5, `ε→0: ${lossWith(1e-9)} vs ${g.loss}`);
  // ε = 0.1 from log-softmax rows: position t against label t + 1, −100 skipped
  const logp = ops.logSoftmax(model.forward({ inputIds: batch.inputIds, attentionMask: batch.attentionMask }).logits!, -1);
  const [B, T, V] = logp.shape;
  const lp = logp.f32();
  let nll = 0, smooth = 0, n = 0;
  for (let b = 0; b < B; b++) for (let t = 0; t < T - 1; t++) {
    const y = g.inputs.labels[b][t + 1];
    if (y === -100) continue;
    const row = lp.subarray((b * T + t) * V, (b * T + t + 1) * V);
    nll -= row[y];
    smooth -= row.reduce((s, v) => s + v, 0) / V;
    n++;
  }
  const expected = (0.9 * nll + 0.1 * smooth) / n;
  assert.ok(Math.abs(lossWith(0.1) - expected) < 1e-5, `ε=0.1: ${lossWith(0.1)} vs ${expected}`);
});
