// TrainingArguments (HF names, defaults, validation messages, training_args.json), gradient
// checkpointing (same gradients as without, dropout included), bf16 frozen-weight storage.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { TrainingArguments, enableGradientCheckpointing, disableGradientCheckpointing, storeFrozenWeights, checkpoint, Trainer } from "../../src/train/index.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { manualSeed } from "../../src/tensor/random.js";
import * as ops from "../../src/ops/index.js";
import { GOLDEN, gjson, loadBert, bertBatch, assertClose, tmp } from "../peft/helpers.js";
import { PeftModel } from "../../src/peft/peft_model.js";
import { TinyRegressor, regressionData, regressionCollator } from "./helpers.js";

test("TrainingArguments: HF defaults, snake_case and camelCase input, snake_case JSON", () => {
  const a = new TrainingArguments({ outputDir: "o" });
  assert.equal(a.learningRate, 5e-5);
  assert.equal(a.numTrainEpochs, 3);
  assert.equal(a.maxSteps, -1);
  assert.equal(a.perDeviceTrainBatchSize, 8);
  assert.equal(a.lrSchedulerType, "linear");
  assert.equal(a.loggingSteps, 500);
  assert.equal(a.saveStrategy, "steps");
  assert.equal(a.seed, 42);
  assert.equal(a.adamEpsilon, 1e-8);
  const b = TrainingArguments.fromDict({ output_dir: "x", learning_rate: 1e-3, numTrainEpochs: 1.5, evaluation_strategy: "epoch" });
  assert.equal(b.learningRate, 1e-3);
  assert.equal(b.numTrainEpochs, 1.5);
  assert.equal(b.evalStrategy, "epoch");
  assert.equal(b.doEval, true);
  const j = b.toJSON();
  assert.equal(j.learning_rate, 1e-3);
  assert.equal(j.per_device_train_batch_size, 8);
  assert.equal(j.adam_beta1, 0.9);
  assert.ok(Object.keys(j).every((k) => k === k.toLowerCase()));
  assert.deepEqual(TrainingArguments.fromDict(j).toJSON(), j);
  assert.throws(() => TrainingArguments.fromDict({ learning_rat: 1 }), /unknown field 'learning_rat'/);
});

test("TrainingArguments: HF's errors for invalid combinations", () => {
  const err = (o: Record<string, unknown>, re: RegExp) => assert.throws(() => TrainingArguments.fromDict({ output_dir: "o", ...o }), (e: Error) => e instanceof ConfigError && re.test(e.message));
  err({ load_best_model_at_end: true, eval_strategy: "epoch", save_strategy: "steps" }, /--load_best_model_at_end requires the save and eval strategy to match, but found\n- Evaluation strategy: epoch\n- Save strategy: steps/);
  err({ load_best_model_at_end: true, eval_strategy: "steps", eval_steps: 3, save_steps: 5 }, /requires the saving steps to be a multiple of the evaluation steps, but found 5, which is not a multiple of 3/);
  err({ fp16: true, bf16: true }, /At most one of fp16 and bf16 can be True, but not both/);
  err({ eval_strategy: "sometimes" }, /'sometimes' is not a valid IntervalStrategy/);
  err({ lr_scheduler_type: "zigzag" }, /'zigzag' is not a valid SchedulerType/);
  err({ logging_steps: 2.5 }, /--logging_steps must be an integer if bigger than 1: 2.5/);
  err({ warmup_ratio: 1.5 }, /warmup_ratio must lie in range \[0,1\]/);
  err({ lr_scheduler_type: "reduce_lr_on_plateau" }, /reduce_lr_on_plateau requires an eval strategy/);
  err({ eval_strategy: "steps", logging_steps: 0, logging_strategy: "no" }, /requires either non-zero --eval_steps or --logging_steps/);
  // valid: save_steps a multiple of eval_steps; metric defaults to loss, lower is better
  const ok = TrainingArguments.fromDict({ output_dir: "o", load_best_model_at_end: true, eval_strategy: "steps", eval_steps: 5, save_steps: 10 });
  assert.equal(ok.metricForBestModel, "loss");
  assert.equal(ok.greaterIsBetter, false);
  assert.equal(TrainingArguments.fromDict({ output_dir: "o", metric_for_best_model: "accuracy" }).greaterIsBetter, true);
});

test("gradient checkpointing: the same loss and gradients as without (bert LoRA, golden adapter)", async () => {
  const g = gjson("bert-lora/golden.json");
  const batch = bertBatch(g);
  const model = await PeftModel.fromPretrained(await loadBert(), join(GOLDEN, "bert-lora", "adapter"), { isTrainable: true });
  model.eval();
  const grads = () => new Map(model.namedParameters().filter(([, p]) => p.requiresGrad).map(([n, p]) => [n, Float32Array.from(p.grad!.f32())]));
  model.zeroGrad();
  const l1 = model.forward(batch).loss!;
  l1.backward();
  const g1 = grads();
  model.zeroGrad();
  const n = enableGradientCheckpointing(model);
  assert.equal(n, 2);
  model.train();
  for (const [, m] of model.namedModules()) if ((m as any).p !== undefined) (m as any).p = 0;
  const l2 = model.forward(batch).loss!;
  assert.equal(l2.item(), l1.item());
  l2.backward();
  const g2 = grads();
  for (const [k, v] of g1) assertClose(Tensor.from(g2.get(k)!), Tensor.from(v), k, { abs: 1e-7, rel: 1e-5 });
  assertClose(l1.item(), g.loss, "golden loss");
  disableGradientCheckpointing(model);
});

test("gradient checkpointing replays dropout masks (RNG restored for the recomputation)", () => {
  const ref = new TinyRegressor(2, { dropout: 0.5 }), ck = new TinyRegressor(2, { dropout: 0.5 });
  const batch = regressionCollator(regressionData(6));
  manualSeed(11);
  const la = ref.forward(batch as any).loss!;
  la.backward();
  enableGradientCheckpointing(ck);
  manualSeed(11);
  const lb = ck.forward(batch as any).loss!;
  lb.backward();
  assert.equal(lb.item(), la.item());
  const pa = ref.namedParameters(), pb = new Map(ck.namedParameters());
  for (const [n, p] of pa) assertClose(pb.get(n)!.grad!, p.grad!, n, { abs: 1e-7, rel: 1e-6 });
  // checkpoint() on a plain function with an input that requires grad
  const x = Tensor.from([[0.5, -1], [2, 0.25]]).requiresGrad_();
  const y = checkpoint((t) => ops.tanh(ops.mul(t as Tensor, t as Tensor)), [x]);
  ops.sum(y).backward();
  const xs = [0.5, -1, 2, 0.25];
  assertClose(x.grad!, xs.map((v) => 2 * v * (1 - Math.tanh(v * v) ** 2)), "d/dx tanh(x²)", { abs: 1e-6, rel: 1e-5 });
});

test("bf16: frozen Linear weights stored bf16, trainable stay f32; Trainer trains with bf16=true", async () => {
  const model = await PeftModel.fromPretrained(await loadBert(), join(GOLDEN, "bert-lora", "adapter"), { isTrainable: true });
  const n = storeFrozenWeights(model, "bf16");
  assert.ok(n > 0);
  for (const [name, p] of model.namedParameters()) {
    if (p.requiresGrad) assert.equal(p.dtype, "f32", name);
  }
  assert.equal(model.namedParameters().find(([k]) => k.endsWith("layer.0.attention.self.query.base_layer.weight"))![1].dtype, "bf16");
  const g = gjson("bert-lora/golden.json");
  // bf16 storage of frozen weights: logits stay close to f32 (bf16 has ~3 significant digits)
  model.eval();
  const out = model.forward(bertBatch(g));
  assertClose(out.logits!, g.logits_with_adapter, "bf16 logits", { abs: 2e-2, rel: 2e-2 });
  const m2 = new TinyRegressor();
  const t = new Trainer({ model: m2, args: TrainingArguments.fromDict({ output_dir: tmp(), bf16: true, max_steps: 2, per_device_train_batch_size: 4, disable_tqdm: true, save_strategy: "no", report_to: ["none"] }), trainDataset: regressionData(8), dataCollator: regressionCollator });
  await t.train();
  assert.equal(t.state.globalStep, 2);
});

test("gradient checkpointing with prefix tuning (per-layer prefix keys/values are nested inputs) and via TrainingArguments", async () => {
  const g = gjson("bert-lora/golden.json");
  const batch = bertBatch(g);
  const model = await PeftModel.fromPretrained(await loadBert(), join(GOLDEN, "bert-prefix-tuning", "adapter"), { isTrainable: true });
  model.eval();
  const grads = () => new Map(model.namedParameters().filter(([, p]) => p.requiresGrad).map(([n, p]) => [n, Float32Array.from(p.grad!.f32())]));
  const l1 = model.forward(batch).loss!;
  l1.backward();
  const g1 = grads();
  model.zeroGrad();
  enableGradientCheckpointing(model);
  model.train();
  for (const [, m] of model.namedModules()) if ((m as any).p !== undefined) (m as any).p = 0;
  const l2 = model.forward(batch).loss!;
  l2.backward();
  assert.equal(l2.item(), l1.item());
  const g2 = grads();
  assert.ok(g1.size > 0);
  for (const [k, v] of g1) assertClose(Tensor.from(g2.get(k)!), Tensor.from(v), k, { abs: 1e-7, rel: 1e-5 });
  // the Trainer switch: same losses with and without gradient_checkpointing
  const run = async (gc: boolean) => {
    const m = new TinyRegressor(4, { dropout: 0.3 });
    const t = new Trainer({ model: m, args: TrainingArguments.fromDict({ output_dir: tmp(), gradient_checkpointing: gc, max_steps: 3, per_device_train_batch_size: 4, logging_steps: 1, disable_tqdm: true, save_strategy: "no", report_to: ["none"] }), trainDataset: regressionData(12), dataCollator: regressionCollator });
    await t.train();
    return t.state.logHistory.filter((e) => "loss" in e).map((e) => e.loss);
  };
  const [a, b] = [await run(false), await run(true)];
  a.forEach((v, i) => assert.ok(Math.abs((v as number) - (b[i] as number)) < 1e-6, `${v} vs ${b[i]}`));
});
