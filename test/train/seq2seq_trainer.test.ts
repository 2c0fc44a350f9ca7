// The Trainer with an encoder-decoder under LoRA: labels become decoder inputs inside the model;
// with label smoothing the labels are taken out and decoder inputs must come in the batch (as HF's
// DataCollatorForSeq2Seq gives them); the smoothed loss is HF's LabelSmoother without a shift.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Trainer, TrainingArguments } from "../../src/train/index.js";
import { noGrad } from "../../src/tensor/autograd.js";
import * as ops from "../../src/ops/index.js";
import { AutoModelForSeq2SeqLM } from "../../src/models/auto.js";
import { shiftTokensRight } from "../../src/models/seq2seq.js";
import { getPeftModel } from "../../src/peft/peft_model.js";
import { LoraConfig } from "../../src/peft/lora/config.js";
import { tmp } from "../peft/helpers.js";

const T5 = join(import.meta.dirname, "..", "fixtures", "seq2seq", "t5-tiny-random");
// a copy task: the target is the source's first five tokens and EOS
const rows = Array.from({ length: 8 }, (_, i) => {
  const src = Array.from({ length: 9 }, (_, t) => 2 + ((i * 13 + t * 7) % 60));
  return { inputIds: src, labels: [...src.slice(0, 5), 1] };
});
const collate = (withDecoderInputs: boolean) => (features: Record<string, unknown>[]) => {
  const labels = features.map((f) => f.labels as number[]);
  const batch: Record<string, unknown> = { inputIds: features.map((f) => f.inputIds), labels };
  if (withDecoderInputs) {
    const d = shiftTokensRight({ data: Int32Array.from(labels.flat()), shape: [labels.length, labels[0].length] }, 0, 0, "test");
    batch.decoderInputIds = Array.from({ length: labels.length }, (_, b) => Array.from(d.data.subarray(b * 6, (b + 1) * 6)));
  }
  return batch;
};
const lora = async () => getPeftModel(await AutoModelForSeq2SeqLM.fromPretrained(T5, { log: () => {} }), new LoraConfig({ taskType: "SEQ_2_SEQ_LM", r: 4, loraAlpha: 8 }), "default", { warn: () => {} });
const args = (extra: Record<string, unknown>) => TrainingArguments.fromDict({
  output_dir: tmp(), max_steps: 12, per_device_train_batch_size: 8, learning_rate: 1e-2, logging_steps: 1, disable_tqdm: true, save_strategy: "no", report_to: ["none"], ...extra,
});

test("Trainer + LoRA on T5: the loss falls, only the adapter changes", async () => {
  const pm = await lora();
  const base = pm.getBaseModel() as unknown as { shared: { weight: { f32(): Float32Array } } };
  const before = base.shared.weight.f32().slice();
  const t = new Trainer({ model: pm, args: args({ learning_rate: 3e-2 }), trainDataset: rows, dataCollator: collate(false) });
  await t.train();
  const losses = t.state.logHistory.filter((e) => "loss" in e).map((e) => e.loss as number);
  assert.equal(losses.length, 12);
  assert.ok(losses[11] < 0.9 * losses[0], `loss ${losses[0]} → ${losses[11]}`);
  assert.deepEqual(base.shared.weight.f32(), before, "frozen base weights");
});

test("Trainer label smoothing on a seq2seq model: decoder inputs from the batch, HF's smoothed CE without a shift", async () => {
  const pm = await lora();
  const batch = collate(true)(rows);
  const want = noGrad(() => {
    const logits = pm.forward({ inputIds: batch.inputIds as number[][], decoderInputIds: batch.decoderInputIds as number[][] } as never).logits!;
    return ops.crossEntropy(logits.reshape([-1, logits.shape[2]]), (batch.labels as number[][]).flat(), { labelSmoothing: 0.1 }).item();
  });
  const t = new Trainer({ model: pm, args: args({ max_steps: 1, label_smoothing_factor: 0.1 }), trainDataset: rows, dataCollator: collate(true) });
  await t.train();
  const first = t.state.logHistory.find((e) => "loss" in e)!.loss as number;
  assert.ok(Math.abs(first - want) < 1e-5, `${first} vs ${want}`);
});
