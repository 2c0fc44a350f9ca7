import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Tensor } from "../../src/tensor/tensor.js";
import { ConfigError, ShapeError } from "../../src/tensor/errors.js";
import { Rng } from "../../src/tensor/random.js";
import {
  kdLoss, softCrossEntropy, distillationLoss, hiddenStateLoss, attentionLoss,
  targetAlignmentLoss, targetAlignmentFromLogits, ProjectedHiddenLoss,
} from "../../src/distill/losses.js";
import { constantSchedule, linearSchedule, cosineSchedule } from "../../src/distill/schedules.js";
import * as ops from "../../src/ops/index.js";

const G = JSON.parse(readFileSync(new URL("../../../shared/golden/distill/golden.json", import.meta.url), "utf8"));
const flat = (a: unknown): number[] => (a as unknown[]).flat(Infinity) as number[];

// README tolerance for this test suite: 1e-5 on losses and gradients.
function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

const student = () => Tensor.from(G.student_logits).requiresGrad_();
const teacher = () => Tensor.from(G.teacher_logits);

for (const key of ["1", "2", "4"]) {
  const g = G.by_temperature[key];
  const T = g.T as number;

  test(`kdLoss T=${T}: KL batchmean·T² and its gradient match torch`, () => {
    const s = student();
    const loss = kdLoss(s, teacher(), { temperature: T });
    close([loss.item()], [g.kl_batchmean_times_T2], 1e-5, "loss");
    loss.backward();
    close(s.grad!.f32(), flat(g.grad_kl_batchmean_times_T2), 1e-5, "grad");
  });

  test(`kdLoss T=${T}: KL without T², and sum / mean reductions`, () => {
    const kl = kdLoss(G.student_logits, G.teacher_logits, { temperature: T, scaleT2: false }).item();
    close([kl], [g.kl_batchmean_no_T2], 1e-5, "no T2");
    close([kdLoss(G.student_logits, G.teacher_logits, { temperature: T, reduction: "sum" }).item()], [g.kl_elementwise_sum_reduction_times_T2], 1e-5, "sum");
    close([kdLoss(G.student_logits, G.teacher_logits, { temperature: T, reduction: "mean" }).item()], [g.kl_mean_reduction_times_T2], 1e-5, "mean");
  });

  test(`softCrossEntropy T=${T}: value and gradient (no T²)`, () => {
    const s = student();
    const loss = softCrossEntropy(s, teacher(), { temperature: T });
    close([loss.item()], [g.soft_cross_entropy_mean], 1e-5, "loss");
    loss.backward();
    close(s.grad!.f32(), flat(g.grad_soft_cross_entropy_mean), 1e-5, "grad");
    close([loss.item() * T * T], [g.soft_cross_entropy_mean_times_T2], 1e-4, "times T²");
  });

  test(`distillationLoss T=${T}, alpha 0.5: value and gradient`, () => {
    const s = student();
    const loss = distillationLoss(s, teacher(), G.labels, { temperature: T, alpha: 0.5 });
    close([loss.item()], [g["combined_alpha0.5"]], 1e-5, "loss");
    loss.backward();
    close(s.grad!.f32(), flat(g["grad_combined_alpha0.5"]), 1e-5, "grad");
  });
}

test("distillationLoss alpha 0 is the hard cross entropy (value and gradient)", () => {
  const s = student();
  const loss = distillationLoss(s, teacher(), G.labels, { temperature: 2, alpha: 0 });
  close([loss.item()], [G.hard_ce_mean], 1e-5, "loss");
  loss.backward();
  close(s.grad!.f32(), flat(G.grad_hard_ce_mean), 1e-5, "grad");
});

test("the teacher never receives a gradient", () => {
  const s = student();
  const t = Tensor.from(G.teacher_logits).requiresGrad_();
  distillationLoss(s, t, G.labels, { temperature: 2, alpha: 0.7 }).backward();
  assert.equal(t.grad, null);
  assert.ok(s.grad);
});

test("hiddenStateLoss mse: value and gradient", () => {
  const h = Tensor.from(G.student_hidden).requiresGrad_();
  const loss = hiddenStateLoss(h, G.teacher_hidden, { kind: "mse" });
  close([loss.item()], [G.mse_mean_student_hidden_vs_teacher_hidden], 1e-5, "loss");
  loss.backward();
  close(h.grad!.f32(), flat(G.grad_mse_wrt_student_hidden), 1e-5, "grad");
});

test("hiddenStateLoss cosine = cosine_embedding_loss(target 1): value and gradient", () => {
  const h = Tensor.from(G.student_hidden).requiresGrad_();
  const loss = hiddenStateLoss(h, G.teacher_hidden, { kind: "cosine" });
  close([loss.item()], [G.cosine_embedding_loss_target1_mean], 1e-5, "loss");
  loss.backward();
  close(h.grad!.f32(), flat(G.grad_cosine_wrt_student_hidden), 1e-5, "grad");
});

test("targetAlignmentLoss: mean squared difference, hand-computed", () => {
  // P = [[0.7, 0.2, 0.1], [0.4, 0.6, 0]], D = one-hot [0, 1]
  // squared errors: (0.3², 0.2², 0.1²) + (0.4², 0.4², 0²) = 0.09+0.04+0.01+0.16+0.16+0 = 0.46; mean over 6 = 0.0766…
  const P = Tensor.from([[0.7, 0.2, 0.1], [0.4, 0.6, 0]]).requiresGrad_();
  const loss = targetAlignmentLoss(P, [[1, 0, 0], [0, 1, 0]]);
  close([loss.item()], [0.46 / 6], 1e-7, "loss");
  loss.backward();
  // d/dP = 2(P − D)/6
  close(P.grad!.f32(), [-0.6 / 6, 0.4 / 6, 0.2 / 6, 0.8 / 6, -0.8 / 6, 0], 1e-7, "grad");
});

test("targetAlignmentFromLogits: softmax vs one-hot, sigmoid vs 0/1 for one column, ignore −100", () => {
  // logits [0, ln 3] → softmax [0.25, 0.75]; label 1 → errors (0.25², 0.25²) → mean 0.0625
  close([targetAlignmentFromLogits([[0, Math.log(3)]], [1]).item()], [0.0625], 1e-7, "softmax");
  // one column: sigmoid(ln 3) = 0.75 vs 1 → 0.0625; sigmoid(0)=0.5 vs 0 → 0.25; mean 0.15625
  close([targetAlignmentFromLogits([[Math.log(3)], [0]], [1, 0]).item()], [0.15625], 1e-7, "sigmoid");
  // the ignored row does not count
  close([targetAlignmentFromLogits([[0, Math.log(3)], [5, -5]], [1, -100]).item()], [0.0625], 1e-7, "ignore");
  assert.throws(() => targetAlignmentFromLogits([[0.3]], [2]), ConfigError);
});

test("vocab / label-count mismatch between student and teacher is a ConfigError", () => {
  const s = Tensor.zeros([2, 5]), t = Tensor.zeros([2, 7]);
  assert.throws(() => kdLoss(s, t, { temperature: 2 }), ConfigError);
  assert.throws(() => softCrossEntropy(s, t), ConfigError);
  assert.throws(() => distillationLoss(s, t, [0, 1]), ConfigError);
  assert.throws(() => kdLoss(Tensor.zeros([2, 5]), Tensor.zeros([3, 5])), ShapeError);
  assert.throws(() => kdLoss(s, Tensor.zeros([2, 5]), { temperature: 0 }), ConfigError);
});

test("kdLoss over [B, T, V] with a token mask equals kdLoss over the kept rows", () => {
  const rng = new Rng(5);
  const s3 = Tensor.zeros([2, 3, 4]); rng.fillNormal(s3.data);
  const t3 = Tensor.zeros([2, 3, 4]); rng.fillNormal(t3.data);
  const mask = [1, 1, 0, 1, 0, 1];
  const got = kdLoss(s3, t3, { temperature: 2, mask }).item();
  const rowsOf = (x: Tensor) => (x.toArray() as number[][][]).flat().filter((_, i) => mask[i] === 1);
  const want = kdLoss(rowsOf(s3), rowsOf(t3), { temperature: 2 }).item();
  close([got], [want], 1e-6, "masked");
});

test("attentionLoss averages per-layer MSE; −inf entries are zeroed", () => {
  const a = Tensor.from([[1, 2], [3, 4]]), b = Tensor.from([[1, 0], [3, 8]]);
  // MSE = (0 + 4 + 0 + 16)/4 = 5
  close([attentionLoss(a, b).item()], [5], 1e-6, "single");
  close([attentionLoss([a, a], [b, a]).item()], [2.5], 1e-6, "two layers");
  const c = Tensor.from([[-Infinity, 2], [3, 4]]), d = Tensor.from([[-Infinity, 0], [3, 8]]);
  close([attentionLoss(c, d).item()], [5], 1e-6, "masked scores");
});

test("ProjectedHiddenLoss: a learned projection when widths differ; identity map when equal", () => {
  const rng = new Rng(3);
  const sh = [Tensor.zeros([2, 3, 4]), Tensor.zeros([2, 3, 4])];
  const th = [Tensor.zeros([2, 3, 6]), Tensor.zeros([2, 3, 6]), Tensor.zeros([2, 3, 6])];
  for (const t of [...sh, ...th]) rng.fillNormal(t.data);
  const m = new ProjectedHiddenLoss(4, 6, { layerMap: [[0, 0], [1, 2]], rng });
  assert.deepEqual(m.namedParameters().map(([n]) => n), ["proj.weight", "proj.bias"]);
  const loss = m.forward(sh, th);
  // reference: explicit projection with the module's own weights
  const W = m.projections[0];
  const want = (hiddenStateLoss(W.forward(sh[0]), th[0]).item() + hiddenStateLoss(W.forward(sh[1]), th[2]).item()) / 2;
  close([loss.item()], [want], 1e-6, "value");
  loss.backward();
  assert.ok(W.weight.grad, "the projection is trained");
  const same = new ProjectedHiddenLoss(6, 6, { layerMap: [[1, 1]] });
  assert.equal(same.parameters().length, 0);
  close([same.forward(th, th).item()], [0], 0, "identical states");
  assert.throws(() => m.forward(sh, th.slice(0, 2)), ConfigError);
});

test("schedules: constant, linear decay, cosine", () => {
  assert.equal(constantSchedule(2)(100), 2);
  const lin = linearSchedule(4, 1, 10);
  assert.equal(lin(0), 4);
  assert.equal(lin(5), 2.5);
  assert.equal(lin(10), 1);
  assert.equal(lin(20), 1);
  const cos = cosineSchedule(1, 0, 4);
  close([cos(0), cos(2), cos(4)], [1, 0.5, 0], 1e-12, "cosine");
  void ops;
});
