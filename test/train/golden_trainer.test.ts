// The Trainer against the real transformers 5.17 Trainer (golden/bert-lora-trainer) and the
// manual 10-step loops of golden/bert-lora (AdamW, linear warmup, clipping at 1.0 and 0.1).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileSync, existsSync } from "node:fs";
import { GOLDEN, gjson, gtensors, tmp, assertClose, loadBert } from "../peft/helpers.js";
import { PeftModel } from "../../src/peft/peft_model.js";
import { Dropout } from "../../src/nn/layers.js";
import { DataCollatorWithPadding } from "../../src/data/collate.js";
import { Trainer, TrainingArguments, AdamW } from "../../src/train/index.js";

const TG = gjson("bert-lora-trainer/golden.json");
const LG = gjson("bert-lora/golden.json");

/** The golden runs override dropout to 0 (base_model_overrides). */
async function loraModel(): Promise<PeftModel> {
  const m = await PeftModel.fromPretrained(await loadBert(), join(GOLDEN, "bert-lora", "adapter"), { isTrainable: true });
  for (const [, mod] of m.namedModules()) if (mod instanceof Dropout) (mod as unknown as { p: number }).p = 0;
  return m;
}

function trainerDataset(): Record<string, unknown>[] {
  return TG.dataset.map((r: any) => ({ inputIds: r.input_ids, attentionMask: r.attention_mask, tokenTypeIds: r.token_type_ids, labels: r.labels }));
}

function trainerArgs(outputDir: string, extra: Record<string, unknown> = {}): TrainingArguments {
  const ta = TG.training_args;
  return TrainingArguments.fromDict({
    output_dir: outputDir,
    per_device_train_batch_size: ta.per_device_train_batch_size,
    gradient_accumulation_steps: ta.gradient_accumulation_steps,
    num_train_epochs: ta.num_train_epochs,
    learning_rate: ta.learning_rate,
    weight_decay: ta.weight_decay,
    adam_beta1: ta.adam_beta1, adam_beta2: ta.adam_beta2, adam_epsilon: ta.adam_epsilon,
    max_grad_norm: ta.max_grad_norm,
    lr_scheduler_type: ta.lr_scheduler_type,
    warmup_steps: ta.warmup_steps,
    logging_steps: ta.logging_steps,
    seed: ta.seed,
    save_strategy: "no",
    disable_tqdm: true,
    ...extra,
  });
}

const TOL = { abs: 1e-5, rel: 1e-4 };

test("param groups follow HF get_decay_parameter_names (golden optimizer_param_groups)", async () => {
  const model = await loraModel();
  const t = new Trainer({ model, args: trainerArgs(tmp()), trainDataset: trainerDataset() });
  const opt = t.createOptimizer();
  const got = opt.paramGroups.map((g) => ({ weight_decay: g.weightDecay, lr: g.lr, params: g.names }));
  const exp = TG.optimizer_param_groups.map((g: any) => ({ weight_decay: g.weight_decay, lr: g.lr, params: g.params }));
  assert.deepEqual(got, exp);
});

test("Trainer reproduces HF Trainer 5.17 log_history (loss not divided by accumulation, as 5.17 did for PEFT)", async () => {
  const model = await loraModel();
  const out = tmp("trainer-golden-");
  const t = new Trainer({ model, args: trainerArgs(out, { loss_not_divided_by_accumulation: true, report_to: ["jsonl"] }), trainDataset: trainerDataset(), trainSampler: "sequential" });
  const res = await t.train();
  const hist = t.state.logHistory;
  const golden = TG.log_history as any[];
  assert.equal(hist.length, golden.length);
  for (let i = 0; i < golden.length - 1; i++) {
    assert.deepEqual(Object.keys(hist[i]), Object.keys(golden[i]), `log entry ${i} keys`);
    assert.equal(hist[i].step, golden[i].step);
    assertClose(hist[i].epoch as number, golden[i].epoch, `epoch ${i}`, { abs: 1e-12, rel: 0 });
    assertClose(hist[i].learning_rate as number, golden[i].learning_rate, `lr ${i}`, { abs: 1e-12, rel: 1e-9 });
    assertClose(hist[i].loss as number, golden[i].loss, `loss ${i}`, TOL);
    assertClose(hist[i].grad_norm as number, golden[i].grad_norm, `grad_norm ${i}`, { abs: 1e-5, rel: 1e-3 });
  }
  const last = hist[hist.length - 1], glast = golden[golden.length - 1];
  assert.deepEqual(Object.keys(last).sort(), Object.keys(glast).sort());
  assert.equal(last.total_flos, glast.total_flos);
  assertClose(last.train_loss as number, glast.train_loss, "train_loss", TOL);
  assert.equal(res.globalStep, TG.train_output.global_step);
  // final weights
  const fin = gtensors("bert-lora-trainer/final_trainable_params.safetensors");
  const params = new Map(model.namedParameters());
  for (const [name, e] of fin) assertClose(params.get(name)!, e, name, TOL);
  // trainer_state.json: HF's key set and values
  const st = JSON.parse(readFileSync(join(out, "trainer_state.json"), "utf8"));
  const gst = JSON.parse(readFileSync(join(GOLDEN, "bert-lora-trainer", "trainer_state.json"), "utf8"));
  assert.deepEqual(Object.keys(st).sort(), Object.keys(gst).sort());
  for (const k of ["global_step", "epoch", "max_steps", "num_train_epochs", "logging_steps", "eval_steps", "save_steps", "train_batch_size", "total_flos", "best_metric", "best_model_checkpoint", "trial_name"]) {
    assert.deepEqual(st[k], gst[k], `trainer_state.${k}`);
  }
  assert.deepEqual(st.stateful_callbacks, gst.stateful_callbacks);
  // jsonl and metrics.json
  const lines = readFileSync(join(out, "log_history.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines, JSON.parse(JSON.stringify(hist)));
  const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
  for (const k of ["train_loss", "train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos", "epoch"]) assert.ok(k in metrics, k);
  assert.ok(existsSync(join(out, "report.html")));
});

test("default accumulation semantics (loss / accumulation) match golden manual_loop_equivalent", async () => {
  const model = await loraModel();
  const t = new Trainer({ model, args: trainerArgs(tmp(), { report_to: ["none"] }), trainDataset: trainerDataset(), trainSampler: "sequential" });
  await t.train();
  const steps = TG.manual_loop_equivalent.steps as any[];
  const hist = t.state.logHistory.filter((e) => "loss" in e);
  assert.equal(hist.length, steps.length);
  steps.forEach((s, i) => {
    assertClose(hist[i].loss as number, s.loss, `loss ${i}`, TOL);
    assertClose(hist[i].grad_norm as number, s.grad_norm, `grad_norm ${i}`, { abs: 1e-5, rel: 1e-3 });
    assertClose(hist[i].learning_rate as number, s.lr_used, `lr ${i}`, { abs: 1e-12, rel: 1e-9 });
  });
});

for (const [key, clip, file] of [["train_10_steps", 1.0, "after_10_steps.safetensors"], ["train_10_steps_clip_0.1", 0.1, "after_10_steps_clip0.1.safetensors"]] as const) {
  test(`golden bert-lora ${key}: loss, lr and grad norm per step, final params`, async () => {
    const model = await loraModel();
    const g = LG.train_10_steps;
    const data = g.input_ids.map((ids: number[], i: number) => ({ inputIds: ids, attentionMask: g.attention_mask[i], tokenTypeIds: g.token_type_ids[i], labels: g.labels[i] }));
    // single param group with every trainable param (biases decayed too), as the golden loop
    const named = model.namedParameters().filter(([, p]) => p.requiresGrad);
    const opt = new AdamW([{ params: named.map(([, p]) => p), names: named.map(([n]) => n) }], { lr: 1e-3, weightDecay: 0.01, betas: [0.9, 0.999], eps: 1e-8 });
    const args = TrainingArguments.fromDict({
      output_dir: tmp(), per_device_train_batch_size: 4, max_steps: 10, learning_rate: 1e-3, weight_decay: 0.01,
      lr_scheduler_type: "linear", warmup_steps: 2, max_grad_norm: clip, logging_steps: 1, save_strategy: "no", disable_tqdm: true, report_to: ["none"],
    });
    // the data helper's collator (HF DataCollatorWithPadding) and a {length, get} dataset
    const ds = { length: data.length, get: (i: number) => data[i] };
    const t = new Trainer({ model, args, trainDataset: ds, dataCollator: new DataCollatorWithPadding({ padTokenId: 0 }), trainSampler: "sequential", optimizers: [opt, null] });
    await t.train();
    const log = LG[key].log as any[];
    const hist = t.state.logHistory.filter((e) => "loss" in e);
    assert.equal(hist.length, 10);
    log.forEach((s, i) => {
      assertClose(hist[i].loss as number, s.loss, `loss step ${s.step}`, TOL);
      assertClose(hist[i].learning_rate as number, s.lr, `lr step ${s.step}`, { abs: 1e-12, rel: 1e-9 });
      assertClose(hist[i].grad_norm as number, s.grad_norm_before_clip, `grad norm step ${s.step}`, { abs: 1e-5, rel: 1e-3 });
    });
    assertClose(t.lrScheduler!.getLastLr()[0], log[9].lr_after_scheduler_step, "lr after last step", { abs: 1e-12, rel: 1e-9 });
    const fin = gtensors(`bert-lora/${file}`);
    const params = new Map(model.namedParameters());
    for (const [name, e] of fin) assertClose(params.get(name)!, e, name, { abs: 1e-5, rel: 0 });
  });
}

test("PeftModel checkpoints hold the HF adapter layout; resuming from one continues bitwise (dropout on, shuffled)", async () => {
  const mk = async () => PeftModel.fromPretrained(await loadBert(), join(GOLDEN, "bert-lora", "adapter"), { isTrainable: true });
  const mkArgs = (out: string) => TrainingArguments.fromDict({
    output_dir: out, per_device_train_batch_size: 4, num_train_epochs: 2, learning_rate: 1e-3, warmup_steps: 1, logging_steps: 1,
    save_strategy: "steps", save_steps: 1, disable_tqdm: true, report_to: ["none"], seed: 3,
  });
  const outA = tmp("peft-ckpt-a-");
  const a = new Trainer({ model: await mk(), args: mkArgs(outA), trainDataset: trainerDataset() });
  await a.train();
  const ck = join(outA, "checkpoint-2");
  for (const f of ["adapter_config.json", "adapter_model.safetensors", "optimizer.safetensors", "scheduler.json", "rng_state.json", "trainer_state.json", "training_args.json"]) {
    assert.ok(existsSync(join(ck, f)), f);
  }
  // the checkpoint's adapter loads with PeftModel.fromPretrained
  await PeftModel.fromPretrained(await loadBert(), ck);
  const outB = tmp("peft-ckpt-b-");
  const { cpSync } = await import("node:fs");
  cpSync(ck, join(outB, "checkpoint-2"), { recursive: true });
  const modelB = await mk();
  const b = new Trainer({ model: modelB, args: mkArgs(outB), trainDataset: trainerDataset() });
  await b.train({ resumeFromCheckpoint: join(outB, "checkpoint-2") });
  const lossesOf = (t: Trainer) => t.state.logHistory.filter((e) => "loss" in e).map((e) => [e.step, e.loss, e.grad_norm, e.learning_rate]);
  assert.equal(lossesOf(a).length, 6);
  assert.deepEqual(lossesOf(b), lossesOf(a));
});
