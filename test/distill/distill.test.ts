import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AutoModelForCausalLM, AutoModelForSequenceClassification } from "../../src/models/auto.js";
import { AutoConfig } from "../../src/io/hf_config.js";
import { AutoTokenizer } from "../../src/io/tokenizer.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { ConfigError } from "../../src/tensor/errors.js";
import { Rng } from "../../src/tensor/random.js";
import { noGrad } from "../../src/tensor/autograd.js";
import * as ops from "../../src/ops/index.js";
import { checkDistillCompatible, initStudentFromTeacher, keptLayers } from "../../src/distill/student.js";
import { DistillationObjective } from "../../src/distill/objective.js";
import { TeacherLogitCache, hashModelWeights } from "../../src/distill/teacher_cache.js";
import { kdLoss } from "../../src/distill/losses.js";
import { linearSchedule } from "../../src/distill/schedules.js";
import { readFileSync } from "node:fs";

const GOLD = new URL("../../../shared/golden/", import.meta.url).pathname;
const FIX = new URL("../../../shared/fixtures/", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "peft-ts-distill-"));
const quiet = { log: () => {} };
const batchIn = JSON.parse(readFileSync(join(GOLD, "bert-tiny-random/golden.json"), "utf8")).inputs;
const batch = { inputIds: batchIn.input_ids, attentionMask: batchIn.attention_mask, tokenTypeIds: batchIn.token_type_ids, labels: batchIn.labels };

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
};

test("initStudentFromTeacher: bert-mini-en 4 layers → 2 (teacher layers 0, 2), other weights copied", async () => {
  const teacher = await AutoModelForSequenceClassification.fromPretrained(join(FIX, "models/bert-mini-en"), { numLabels: 2, ...quiet });
  assert.deepEqual(keptLayers(4, 2), [0, 2]);
  assert.deepEqual(keptLayers(12, 2), [0, 2, 4, 6, 8, 10]);
  const student = initStudentFromTeacher(teacher, { everyK: 2 });
  assert.equal(student.config.numHiddenLayers, 2);
  assert.equal(student.constructor, teacher.constructor);
  const t = teacher.stateDict(), s = student.stateDict();
  assert.ok(t.size > s.size);
  close(s.get("bert.encoder.layer.1.attention.self.query.weight")!.f32(), t.get("bert.encoder.layer.2.attention.self.query.weight")!.f32(), 0, "layer 1 ← 2");
  close(s.get("bert.encoder.layer.0.output.dense.bias")!.f32(), t.get("bert.encoder.layer.0.output.dense.bias")!.f32(), 0, "layer 0 ← 0");
  close(s.get("bert.embeddings.word_embeddings.weight")!.f32(), t.get("bert.embeddings.word_embeddings.weight")!.f32(), 0, "embeddings");
  close(s.get("classifier.weight")!.f32(), t.get("classifier.weight")!.f32(), 0, "classifier");
  // copies, not shared storage
  (s.get("classifier.bias")!.data as Float32Array)[0] += 1;
  assert.notEqual(s.get("classifier.bias")!.f32()[0], t.get("classifier.bias")!.f32()[0]);
  teacher.eval(); student.eval();
  const out = student.forward({ inputIds: [[2, 1002, 2102, 3]] });
  assert.deepEqual(out.logits!.shape, [1, 2]);
  checkDistillCompatible(teacher, student);
  assert.throws(() => initStudentFromTeacher(teacher, { layers: [0, 7] }), ConfigError);
});

test("initStudentFromTeacher on a causal LM (llama-mini-en): the student generates logits over the same vocabulary", async () => {
  const teacher = await AutoModelForCausalLM.fromPretrained(join(FIX, "models/llama-mini-en"), quiet);
  const student = initStudentFromTeacher(teacher, { layers: [0, 3] });
  assert.equal(student.config.numHiddenLayers, 2);
  close(student.stateDict().get("model.layers.1.mlp.down_proj.weight")!.f32(), teacher.stateDict().get("model.layers.3.mlp.down_proj.weight")!.f32(), 0, "layer 1 ← 3");
  student.eval();
  assert.deepEqual(student.forward({ inputIds: [[2, 1002, 2102]] }).logits!.shape, [1, 3, 8000]);
});

test("mismatched vocab sizes or label counts are a ConfigError before training", async () => {
  const dir = join(GOLD, "bert-tiny-random");
  const teacher = await AutoModelForSequenceClassification.fromPretrained(dir, quiet);
  const json = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  const otherVocab = AutoModelForSequenceClassification.fromConfig(AutoConfig.fromDict({ ...json, vocab_size: 200 }));
  assert.throws(() => checkDistillCompatible(teacher, otherVocab), /vocab size 170 differs from the student's 200/);
  assert.throws(() => new DistillationObjective(otherVocab, { teacher }), ConfigError);
  const threeLabels = AutoModelForSequenceClassification.fromConfig(AutoConfig.fromDict({ ...json, num_labels: 3, id2label: undefined, label2id: undefined }));
  assert.throws(() => new DistillationObjective(threeLabels, { teacher }), /2 labels but the student has 3/);
});

test("DistillationObjective: loss = (1−α)·CE + α·KL·T², gradients reach only the student", async () => {
  const dir = join(GOLD, "bert-tiny-random");
  const teacher = await AutoModelForSequenceClassification.fromPretrained(dir, quiet);
  const student = initStudentFromTeacher(teacher, { everyK: 2 });
  student.eval();
  // perturb the student so it differs from the teacher
  const rng = new Rng(1);
  for (const p of student.parameters()) for (let i = 0; i < p.size; i++) (p.data as Float32Array)[i] += rng.normal(0, 0.05);
  const obj = new DistillationObjective(student, { teacher, temperature: 2, alpha: 0.3 });
  const { loss, parts } = obj.computeLoss(student, batch);
  const sLogits = noGrad(() => student.forward(batch).logits!);
  const tLogits = noGrad(() => teacher.forward(batch).logits!);
  const ce = ops.crossEntropy(sLogits, batch.labels).item();
  const kd = kdLoss(sLogits, tLogits, { temperature: 2 }).item();
  close([parts.hard, parts.kd], [ce, kd], 1e-5, "parts");
  close([loss.item()], [0.7 * ce + 0.3 * kd], 1e-5, "loss");
  loss.backward();
  assert.ok(student.parameters().every((p) => p.grad !== null));
  assert.ok(teacher.parameters().every((p) => p.grad === null && !p.requiresGrad));
});

test("several teachers: KD target is the average of their softened distributions", async () => {
  const dir = join(GOLD, "bert-tiny-random");
  const t1 = await AutoModelForSequenceClassification.fromPretrained(dir, quiet);
  const t2 = await AutoModelForSequenceClassification.fromPretrained(dir, quiet);
  const rng = new Rng(2);
  for (const p of t2.parameters()) for (let i = 0; i < p.size; i++) (p.data as Float32Array)[i] += rng.normal(0, 0.1);
  const student = initStudentFromTeacher(t1);
  student.eval();
  const T = 3;
  const obj = new DistillationObjective(student, { teacher: [t1, t2], temperature: T, weights: { kd: 1, hard: 0 } });
  const got = obj.computeLoss(student, batch).loss.item();
  // by hand: p̄ = (softmax(t1/T) + softmax(t2/T))/2; KL = Σ p̄ (log p̄ − log_softmax(s/T)) / B · T²
  const soft = (m: typeof t1) => (ops.softmax(ops.scale(noGrad(() => m.forward(batch).logits!), 1 / T)).toArray() as number[][]);
  const p1 = soft(t1), p2 = soft(t2);
  const ls = ops.logSoftmax(ops.scale(noGrad(() => student.forward(batch).logits!), 1 / T)).toArray() as number[][];
  let kl = 0;
  p1.forEach((row, b) => row.forEach((_, c) => { const p = (p1[b][c] + p2[b][c]) / 2; kl += p * (Math.log(p) - ls[b][c]); }));
  close([got], [(kl / p1.length) * T * T], 1e-5, "averaged KD");
});

test("teacher logit cache: built once, reused, rebuilt when teacher weights or data change; same loss as live teachers", async () => {
  const dir = join(GOLD, "bert-tiny-random");
  const teacher = await AutoModelForSequenceClassification.fromPretrained(dir, quiet);
  const features = batch.inputIds.map((ids: number[], i: number) => {
    const n = batch.attentionMask[i].reduce((a: number, b: number) => a + b, 0);
    return { inputIds: ids.slice(0, n), attentionMask: batch.attentionMask[i].slice(0, n), tokenTypeIds: batch.tokenTypeIds[i].slice(0, n), labels: batch.labels[i] };
  });
  const path = join(tmp, "cache", "teacher_logits.safetensors");
  const c1 = TeacherLogitCache.loadOrBuild(path, teacher, features, { batchSize: 2 });
  assert.equal(c1.rebuilt, true);
  const live = noGrad(() => teacher.forward(batch).logits!);
  close(c1.batch(0, [0, 1, 2]).f32(), live.f32(), 1e-5, "cached = live");
  const c2 = TeacherLogitCache.loadOrBuild(path, teacher, features);
  assert.equal(c2.rebuilt, false);
  close(c2.batch(0, [2, 0]).f32(), [...live.f32().slice(4, 6), ...live.f32().slice(0, 2)], 1e-5, "reordered");
  // stale: different data
  assert.equal(TeacherLogitCache.loadOrBuild(path, teacher, features.slice(1)).rebuilt, true);
  // stale: different teacher weights
  const h0 = hashModelWeights(teacher);
  (teacher.stateDict().get("classifier.bias")!.data as Float32Array)[0] += 0.5;
  assert.notEqual(hashModelWeights(teacher), h0);
  const c3 = TeacherLogitCache.loadOrBuild(path, teacher, features);
  assert.equal(c3.rebuilt, true);
  // the objective gives the same loss from the cache (batch carries exampleIndex) as from the live teacher
  const student = initStudentFromTeacher(teacher);
  student.eval();
  const withIdx = { ...batch, exampleIndex: [0, 1, 2] };
  const a = new DistillationObjective(student, { teacher, temperature: 2, cache: c3 }).computeLoss(student, withIdx).loss.item();
  const b = new DistillationObjective(student, { teacher, temperature: 2 }).computeLoss(student, batch).loss.item();
  close([a], [b], 1e-5, "cache vs live");
  assert.throws(() => new DistillationObjective(student, { teacher, cache: c3 }).computeLoss(student, batch), /exampleIndex/);
});

test("token-level cache (causal LM): rows follow the attention mask of a padded batch", async () => {
  const teacher = await AutoModelForCausalLM.fromPretrained(join(FIX, "models/llama-mini-en"), quiet);
  const tok = await AutoTokenizer.fromPretrained(join(FIX, "models/llama-mini-en"));
  const texts = ["to be or not to be", "the cat sat"];
  const features = texts.map((t) => { const ids = tok.encode(t); return { inputIds: ids, attentionMask: ids.map(() => 1), labels: ids }; });
  const cache = TeacherLogitCache.loadOrBuild(join(tmp, "lm_cache.safetensors"), teacher, features, { batchSize: 1 });
  assert.equal(cache.kind, "token");
  const L = Math.max(...features.map((f) => f.inputIds.length));
  const mask = features.map((f) => [...f.attentionMask, ...new Array(L - f.inputIds.length).fill(0)]);
  const ids = features.map((f) => [...f.inputIds, ...new Array(L - f.inputIds.length).fill(0)]);
  const live = noGrad(() => teacher.forward({ inputIds: ids, attentionMask: mask }).logits!) as Tensor;
  const cached = cache.batch(0, [0, 1], mask);
  assert.deepEqual(cached.shape, live.shape);
  const V = 8000, ld = live.f32(), cd = cached.f32();
  for (let b = 0; b < 2; b++) for (let t = 0; t < L; t++) {
    if (!mask[b][t]) continue;
    close(cd.subarray((b * L + t) * V, (b * L + t + 1) * V), ld.subarray((b * L + t) * V, (b * L + t + 1) * V), 1e-4, `b${b} t${t}`);
  }
  // KD on a causal LM student with padding: only masked-in positions count
  const student = initStudentFromTeacher(teacher, { everyK: 2 });
  student.eval();
  const obj = new DistillationObjective(student, { teacher, temperature: 1, weights: { kd: 1, hard: 0.5, targetAlignment: 0.1 }, cache });
  const r = obj.computeLoss(student, { inputIds: ids, attentionMask: mask, labels: ids.map((row, b) => row.map((x, t) => (mask[b][t] ? x : -100))), exampleIndex: [0, 1] });
  assert.ok(Number.isFinite(r.loss.item()) && r.parts.kd > 0 && r.parts.hard > 0 && r.parts.targetAlignment > 0);
});

test("a few SGD steps on the distillation objective reduce the KD loss (scheduled temperature)", async () => {
  const dir = join(GOLD, "bert-tiny-random");
  const teacher = await AutoModelForSequenceClassification.fromPretrained(dir, quiet);
  const student = AutoModelForSequenceClassification.fromConfig(AutoConfig.fromDict({ ...JSON.parse(readFileSync(join(dir, "config.json"), "utf8")), num_hidden_layers: 1 }));
  student.eval();
  // a confident teacher (sharpened head) so that there is something to learn
  for (const n of ["classifier.weight", "classifier.bias"]) for (const d of [teacher.stateDict().get(n)!.data as Float32Array]) d.forEach((v, i) => (d[i] = v * 20));
  const obj = new DistillationObjective(student, { teacher, temperature: linearSchedule(2, 1, 30), weights: { kd: 1, hard: 0 } });
  const first = obj.computeLoss(student, batch, 0).parts.kd;
  for (let step = 0; step < 30; step++) {
    student.zeroGrad();
    obj.computeLoss(student, batch, step).loss.backward();
    for (const p of student.parameters()) {
      if (!p.grad) continue;
      const d = p.data as Float32Array, g = p.grad.f32();
      for (let i = 0; i < d.length; i++) d[i] -= 0.2 * g[i];
    }
  }
  const after = new DistillationObjective(student, { teacher, temperature: 2, weights: { kd: 1, hard: 0 } }).computeLoss(student, batch).parts.kd;
  assert.ok(first > 0.1 && after < first * 0.5, `KD loss at T=2 went from ${first} to ${after}`);
});

test("initStudentFromPretrained: the teacher's label setup is applied; a different vocabulary is refused", async () => {
  const { initStudentFromPretrained } = await import("../../src/distill/student.js");
  const mini = join(FIX, "models/bert-mini-en");
  const teacher = await AutoModelForSequenceClassification.fromPretrained(mini, { numLabels: 3, ...quiet });
  const auto = { fromPretrained: (d: string, o?: Record<string, unknown>) => AutoModelForSequenceClassification.fromPretrained(d, { ...o, ...quiet }) };
  const student = await initStudentFromPretrained(auto, mini, teacher);
  assert.equal(student.config.numLabels, 3);
  const tiny = await AutoModelForSequenceClassification.fromPretrained(join(GOLD, "bert-tiny-random"), quiet);
  await assert.rejects(initStudentFromPretrained(auto, mini, tiny), ConfigError);
});
