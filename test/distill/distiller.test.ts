import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { AutoConfig } from "../../src/io/hf_config.js";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { TrainingArguments } from "../../src/train/args.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { Distiller } from "../../src/distill/distiller.js";
import { DistillationObjective } from "../../src/distill/objective.js";
import { ProjectedHiddenLoss } from "../../src/distill/losses.js";
import { initStudentFromTeacher } from "../../src/distill/student.js";
import { readCsv } from "../../src/data/datasets.js";
import { preprocessSeqCls } from "../../src/data/tasks/seq_cls.js";
import { DataCollatorWithPadding } from "../../src/data/collate.js";

const FIX = new URL("../../../shared/fixtures/", import.meta.url).pathname;
const GOLD = new URL("../../../shared/golden/", import.meta.url).pathname;
const quiet = { log: () => {} };
const mini = join(FIX, "models/bert-mini-en");
const tok = await AutoTokenizer.fromPretrained(mini);
const train = preprocessSeqCls(readCsv(join(FIX, "sst2/train_5k.tsv")).select([...Array(32).keys()]), tok, { maxLength: 32 }).toArray();
const collator = new DataCollatorWithPadding(tok);

function args(dir: string, extra: Record<string, unknown> = {}) {
  return new TrainingArguments({
    outputDir: dir, perDeviceTrainBatchSize: 8, perDeviceEvalBatchSize: 16, numTrainEpochs: 3, learningRate: 2e-3,
    loggingSteps: 4, saveStrategy: "no", reportTo: ["none"], disableTqdm: true, seed: 0, ...extra,
  });
}

function objectiveLoss(obj: DistillationObjective, student: Parameters<DistillationObjective["computeLoss"]>[0]): number {
  (student as { eval(): void }).eval();
  const b = collator.call(train);
  return obj.computeLoss(student, b).loss.item();
}

test("Distiller on SST-2: teacher logits cached once on disk, student trained from half the teacher's layers", async () => {
  const dir = mkdtempSync(join(tmpdir(), "peft-ts-distiller-"));
  const teacher = await AutoModelForSequenceClassification.fromPretrained(mini, { numLabels: 2, ...quiet });
  const student = initStudentFromTeacher(teacher, { everyK: 2 });
  const opts = { teacher, temperature: 2, alpha: 0.5 } as const;
  const before = objectiveLoss(new DistillationObjective(student, opts), student);
  const d = new Distiller({ model: student, args: args(dir), trainDataset: train, dataCollator: collator, trainSampler: "sequential", ...opts, cacheTeacherLogits: true });
  assert.ok(d.teacherCache?.rebuilt);
  assert.ok(existsSync(join(dir, "teacher_logits.safetensors")));
  const out = await d.train();
  assert.equal(out.globalStep, 12);
  const after = objectiveLoss(new DistillationObjective(student, opts), student);
  assert.ok(after < before, `objective on the training rows: ${before} → ${after}`);
  const logged = d.state.logHistory.filter((e) => "loss" in e);
  assert.ok(logged.length >= 3 && logged.every((e) => typeof e.distill_kd === "number" && typeof e.distill_hard === "number"));
  // teacher untouched and frozen
  assert.ok(teacher.parameters().every((p) => !p.requiresGrad && p.grad === null));
  // a second run with the same teacher and data reuses the cache
  const again = new Distiller({ model: initStudentFromTeacher(teacher), args: args(dir), trainDataset: train, dataCollator: collator, ...opts, cacheTeacherLogits: true });
  assert.equal(again.teacherCache?.rebuilt, false);
});

test("Distiller with a hidden-state term trains the projection; bad teacher/student pairs fail before training", async () => {
  const dir = mkdtempSync(join(tmpdir(), "peft-ts-distiller-"));
  const teacher = await AutoModelForSequenceClassification.fromPretrained(mini, { numLabels: 2, ...quiet });
  const cfg = JSON.parse(readFileSync(join(mini, "config.json"), "utf8"));
  const student = AutoModelForSequenceClassification.fromConfig(AutoConfig.fromDict({ ...cfg, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_labels: 2 }));
  const hidden = new ProjectedHiddenLoss(64, 128, { layerMap: [[1, 2], [2, 4]] });
  const w0 = Float32Array.from(hidden.projections[0].weight.f32());
  const d = new Distiller({ model: student, args: args(dir, { maxSteps: 3, loggingSteps: 1 }), trainDataset: train, dataCollator: collator, teacher, temperature: 2, hidden, weights: { hard: 1, kd: 1, hidden: 0.5 } });
  await d.train();
  assert.ok(d.optimizer!.namedParams().some(([n]) => n === "distill.hidden.proj.weight"));
  assert.ok(hidden.projections[0].weight.f32().some((v, i) => v !== w0[i]), "projection updated");
  assert.ok(d.state.logHistory.some((e) => typeof e.distill_hidden === "number"));
  // vocabulary mismatch: ConfigError at construction, before any step
  const tiny = await AutoModelForSequenceClassification.fromPretrained(join(GOLD, "bert-tiny-random"), quiet);
  assert.throws(() => new Distiller({ model: student, args: args(dir), trainDataset: train, teacher: tiny }), /vocab size/);
  assert.throws(() => new Distiller({ model: student, args: args(dir), trainDataset: train, teacher, hidden, cacheTeacherLogits: true }), ConfigError);
});

test("Distiller with a LoRA student (PeftModel): only adapter weights train, the teacher stays frozen", async () => {
  await import("../../src/peft/lora/index.js"); // registers the LoRA method
  const { getPeftModel } = await import("../../src/peft/peft_model.js");
  const { LoraConfig } = await import("../../src/peft/lora/config.js");
  const dir = mkdtempSync(join(tmpdir(), "peft-ts-distiller-"));
  const teacher = await AutoModelForSequenceClassification.fromPretrained(mini, { numLabels: 2, ...quiet });
  const base = initStudentFromTeacher(teacher, { everyK: 2 });
  const peft = getPeftModel(base, new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ["query", "value"], taskType: "SEQ_CLS" }));
  const frozen = base.stateDict().get("bert.encoder.layer.0.attention.self.query.base_layer.weight") ?? base.stateDict().get("bert.encoder.layer.0.attention.self.query.weight");
  const f0 = Float32Array.from(frozen!.f32());
  const d = new Distiller({ model: peft, args: args(dir, { maxSteps: 2, loggingSteps: 1 }), trainDataset: train, dataCollator: collator, teacher, temperature: 2, alpha: 0.5, cacheTeacherLogits: true });
  await d.train();
  assert.ok(d.optimizer!.namedParams().every(([n]) => /lora_|classifier/.test(n)), d.optimizer!.namedParams().map(([n]) => n).join(","));
  assert.deepEqual(frozen!.f32(), f0);
  assert.ok(d.state.logHistory.some((e) => typeof e.distill_kd === "number"));
});
