import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { ShapeError } from "../../src/tensor/errors.js";
import { noGrad } from "../../src/tensor/autograd.js";
import * as ops from "../../src/ops/index.js";
import { assertClose, gradcheck, randn } from "../helpers/gradcheck.js";

const rng = new Rng(31);
const G = JSON.parse(readFileSync(new URL("../../../shared/golden/distill/golden.json", import.meta.url), "utf8"));
const flat = (a: unknown): number[] => (a as unknown[]).flat(Infinity) as number[];
// golden tolerances (README): losses abs 1e-5 rel 1e-4; gradients abs 1e-5 + rel 1e-3
const lossClose = (got: number, want: number, what: string) => assertClose([got], [want], 1e-5, 1e-4, what);
const gradClose = (got: Float32Array, want: unknown, what: string) => assertClose(got, flat(want), 1e-5, 1e-3, what);

test("crossEntropy: closed form, ignore_index, label smoothing, reductions", () => {
  const logits = Tensor.from([[1, 2, 3], [0, 0, 0], [2, -1, 0.5]]);
  const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
  const rows = [[1, 2, 3], [0, 0, 0], [2, -1, 0.5]];
  const nll = [lse(rows[0]) - 3, lse(rows[1]) - 0, lse(rows[2]) - 2];
  assertClose(ops.crossEntropy(logits, [2, 0, 0], { reduction: "none" }).f32(), nll, 1e-6, 1e-6, "none");
  lossClose(ops.crossEntropy(logits, [2, 0, 0], { reduction: "sum" }).item(), nll[0] + nll[1] + nll[2], "sum");
  // mean divides by non-ignored rows only
  lossClose(ops.crossEntropy(logits, [2, -100, 0]).item(), (nll[0] + nll[2]) / 2, "mean with ignore");
  lossClose(ops.crossEntropy(logits, [2, 7, 0], { ignoreIndex: 7 }).item(), (nll[0] + nll[2]) / 2, "custom ignore index");
  // torch: (1−ε)·nll + ε·mean_c(−log p_c), mean over non-ignored rows
  const eps = 0.2;
  const smooth = (r: number[], y: number) => (1 - eps) * (lse(r) - r[y]) + eps * (lse(r) - r.reduce((a, b) => a + b, 0) / r.length);
  lossClose(ops.crossEntropy(logits, [2, -100, 1], { labelSmoothing: eps }).item(), (smooth(rows[0], 2) + smooth(rows[2], 1)) / 2, "label smoothing");
  // [B,T,C] logits with [B,T] labels; "none" keeps [B,T]
  const l3 = randn([2, 3, 4], rng);
  assert.deepEqual(ops.crossEntropy(l3, Tensor.from([[0, 1, -100], [3, 2, 1]], undefined, "i64"), { reduction: "none" }).shape, [2, 3]);
  assert.ok(Number.isNaN(ops.crossEntropy(logits, [-100, -100, -100]).item()), "all ignored: NaN like torch");
  assert.throws(() => ops.crossEntropy(logits, [3, 0, 0]), (e: Error) => e instanceof ShapeError && /out of range/.test(e.message));
  assert.throws(() => ops.crossEntropy(logits, [1, 0]), ShapeError);
});

test("crossEntropy: gradients with ignore_index and label smoothing", () => {
  gradcheck((x) => ops.crossEntropy(x, [1, -100, 3, 0]), [randn([4, 5], rng)], { name: "ce mean" });
  gradcheck((x) => ops.crossEntropy(x, [1, -100, 3, 0], { labelSmoothing: 0.1 }), [randn([4, 5], rng)], { name: "ce smoothing" });
  gradcheck((x) => ops.crossEntropy(x, [1, 2, -100, 0], { reduction: "none", labelSmoothing: 0.3 }), [randn([4, 3], rng)], { name: "ce none" });
  gradcheck((x) => ops.crossEntropy(x, [[1, 0], [2, -100]], { reduction: "sum" }), [randn([2, 2, 3], rng)], { name: "ce 3-d" });
  gradcheck((x) => ops.crossEntropy(x, [1, 0, 2]), [randn([3, 3], rng).T], { name: "ce non-contiguous" });
});

test("losses match PyTorch golden values (distill/golden.json)", () => {
  const s = Tensor.from(G.student_logits), t = Tensor.from(G.teacher_logits);
  const sl = s.detach().requiresGrad_();
  const ce = ops.crossEntropy(sl, G.labels);
  lossClose(ce.item(), G.hard_ce_mean, "hard CE");
  ce.backward();
  gradClose(sl.grad!.f32(), G.grad_hard_ce_mean, "hard CE grad");
  for (const [T, g] of Object.entries<any>(G.by_temperature)) {
    const x = s.detach().requiresGrad_();
    const logp = ops.logSoftmax(ops.scale(x, 1 / Number(T)));
    const pt = ops.softmax(ops.scale(t, 1 / Number(T)));
    const T2 = Number(T) ** 2;
    const kl = ops.scale(ops.klDiv(logp, pt, { reduction: "batchmean" }), T2);
    lossClose(kl.item(), g.kl_batchmean_times_T2, `KL batchmean T=${T}`);
    kl.backward();
    gradClose(x.grad!.f32(), g.grad_kl_batchmean_times_T2, `KL grad T=${T}`);
    lossClose(ops.scale(ops.klDiv(logp, pt, { reduction: "sum" }), T2).item(), g.kl_elementwise_sum_reduction_times_T2, `KL sum T=${T}`);
    lossClose(ops.scale(ops.klDiv(logp, pt, { reduction: "mean" }), T2).item(), g.kl_mean_reduction_times_T2, `KL mean T=${T}`);
    // logTarget form gives the same value
    lossClose(ops.klDiv(logp, ops.logSoftmax(ops.scale(t, 1 / Number(T))), { reduction: "batchmean", logTarget: true }).item(), g.kl_batchmean_no_T2, `KL logTarget T=${T}`);
    const x2 = s.detach().requiresGrad_();
    const comb = ops.add(ops.scale(ops.klDiv(ops.logSoftmax(ops.scale(x2, 1 / Number(T))), pt, { reduction: "batchmean" }), 0.5 * T2), ops.scale(ops.crossEntropy(x2, G.labels), 0.5));
    lossClose(comb.item(), g["combined_alpha0.5"], `combined T=${T}`);
    comb.backward();
    gradClose(x2.grad!.f32(), g["grad_combined_alpha0.5"], `combined grad T=${T}`);
  }
  const sh = Tensor.from(G.student_hidden).requiresGrad_(), th = Tensor.from(G.teacher_hidden);
  const mse = ops.mseLoss(sh, th);
  lossClose(mse.item(), G.mse_mean_student_hidden_vs_teacher_hidden, "mse");
  mse.backward();
  gradClose(sh.grad!.f32(), G.grad_mse_wrt_student_hidden, "mse grad");
  const sh2 = Tensor.from(G.student_hidden).requiresGrad_();
  const cosLoss = ops.mean(ops.affine(ops.cosineSimilarity(sh2.reshape([12, 8]), th.reshape([12, 8])), -1, 1));
  lossClose(cosLoss.item(), G.cosine_embedding_loss_target1_mean, "cosine embedding loss");
  cosLoss.backward();
  gradClose(sh2.grad!.f32(), G.grad_cosine_wrt_student_hidden, "cosine grad");
});

test("mseLoss / klDiv / cosineSimilarity: closed forms and gradients", () => {
  lossClose(ops.mseLoss([1, 2, 3], [1, 0, 0]).item(), 13 / 3, "mse mean");
  lossClose(ops.mseLoss([1, 2, 3], [1, 0, 0], "sum").item(), 13, "mse sum");
  assert.deepEqual(ops.mseLoss([1, 2], [0, 0], "none").toArray(), [1, 4]);
  gradcheck((a, b) => ops.mseLoss(a, b), [randn([3, 4], rng), randn([4], rng)], { name: "mse broadcast" });
  // KL: target 0 contributes 0 (xlogy), not NaN
  const logq = Math.log(0.5);
  lossClose(ops.klDiv([[logq, logq]], [[1, 0]], { reduction: "sum" }).item(), Math.log(2), "kl with zero target");
  lossClose(ops.klDiv([[logq, logq], [logq, logq]], [[1, 0], [0.5, 0.5]], { reduction: "batchmean" }).item(), Math.log(2) / 2, "kl batchmean");
  const p = () => ops.softmax(randn([3, 4], rng));
  gradcheck((x, t) => ops.klDiv(ops.logSoftmax(x), t, { reduction: "batchmean" }), [randn([3, 4], rng), p()], { name: "kl both args", eps: 1e-3 });
  gradcheck((x, t) => ops.klDiv(x, t, { reduction: "none", logTarget: true }), [randn([2, 3], rng), randn([2, 3], rng)], { name: "kl logTarget" });
  // cosine: orthogonal 0, parallel 1, antiparallel −1; eps guards zero vectors
  assertClose(ops.cosineSimilarity([[1, 0], [2, 2], [1, 1]], [[0, 3], [1, 1], [-2, -2]]).f32(), [0, 1, -1], 1e-6, 1e-6, "cosine");
  assert.equal(ops.cosineSimilarity([0, 0], [1, 0]).item(), 0);
  assertClose(ops.cosineSimilarity([[1, 2], [3, 4]], [[1, 0], [0, 1]], 0).f32(), [1 / Math.sqrt(10), 4 / Math.sqrt(20)], 1e-6, 1e-6, "cosine dim 0");
  gradcheck((a, b) => ops.cosineSimilarity(a, b), [randn([3, 5], rng), randn([3, 5], rng)], { name: "cosine" });
  gradcheck((a, b) => ops.cosineSimilarity(a, b, 0), [randn([4, 3], rng), randn([4, 1], rng)], { name: "cosine dim 0 broadcast" });
});

test("linearCrossEntropy: same loss and x/W gradients as crossEntropy(linear(x, W)) in chunks, bf16 W, extra consumers of the logits", () => {
  const rng = new Rng(77);
  const rows = 11, H = 6, V = 9;
  const labels = Int32Array.from({ length: rows }, (_, r) => (r % 4 === 2 ? -100 : (r * 5) % V));
  // finite differences (chunks of 4 rows: the last chunk is partial)
  for (const keep of [false, true]) {
    gradcheck((x, w) => ops.linearCrossEntropy(x, w, labels, { chunkRows: 4, logits: keep ? ops.linear(x, w) : undefined }), [randn([rows, H], rng), randn([V, H], rng)], { name: `linearCrossEntropy${keep ? " (given logits)" : ""}` });
  }
  const run = (mode: "unfused" | "given" | "fused", chunkRows?: number) => {
    const r2 = new Rng(5);
    const x = randn([rows, H], r2), w = randn([V, H], r2);
    x.requiresGrad = true;
    w.requiresGrad = true;
    const logits = ops.linear(x, w);
    const ce = mode === "unfused" ? ops.crossEntropy(logits, labels) : ops.linearCrossEntropy(x, w, labels, { chunkRows, logits: mode === "given" ? logits : undefined });
    // another consumer of the logits (a distillation term, say) must still reach x and W; the
    // incoming gradient 3 checks the fused form's scaling of its precomputed gradients
    const total = ops.add(ops.scale(ce, 3), ops.scale(ops.sum(ops.square(logits)), 0.01));
    total.backward();
    return { loss: ce.item(), gx: x.grad!.f32().slice(), gw: w.grad!.f32().slice() };
  };
  const ref = run("unfused");
  for (const mode of ["given", "fused"] as const) for (const chunk of [1, 4, 11, 100]) {
    const f = run(mode, chunk);
    assert.ok(Math.abs(f.loss - ref.loss) < 1e-6 * Math.abs(ref.loss), `${mode}: loss chunk ${chunk}`);
    assertClose(f.gx, ref.gx, 1e-5, 1e-5, `${mode}: gx chunk ${chunk}`);
    assertClose(f.gw, ref.gw, 1e-5, 1e-5, `${mode}: gw chunk ${chunk}`);
  }
  // no gradient wanted (noGrad): the fused form only computes the loss
  const xe = randn([rows, H], rng), we = randn([V, H], rng);
  const lossNoGrad = noGrad(() => ops.linearCrossEntropy(xe, we, labels, { chunkRows: 4 }));
  assert.equal(lossNoGrad.requiresGrad, false);
  assert.ok(Math.abs(lossNoGrad.item() - ops.crossEntropy(ops.linear(xe, we), labels).item()) < 1e-5, "noGrad loss");
  // frozen bf16 weight: only x gets a gradient, equal to the unfused form with the same bf16 weight
  const x = randn([rows, H], rng), wb = randn([V, H], rng).to("bf16");
  const xb = x.detach();
  xb.requiresGrad = true;
  ops.crossEntropy(ops.linear(xb, wb), labels).backward();
  for (const given of [false, true]) for (const chunkRows of [3, 100]) {
    // several chunks: the weight is widened once; one chunk: the bf16 GEMM reads it directly
    const xa = x.detach();
    xa.requiresGrad = true;
    ops.linearCrossEntropy(xa, wb, labels, { chunkRows, logits: given ? ops.linear(xa, wb) : undefined }).backward();
    assertClose(xa.grad!.f32(), xb.grad!.f32(), 1e-5, 1e-5, `gx with bf16 weight, chunks of ${chunkRows}${given ? ", given logits" : ""}`);
  }
  assert.throws(() => ops.linearCrossEntropy(x, randn([V, H + 1], rng), labels), (e: Error) => e instanceof ShapeError && /weight \[9,7\]/.test(e.message));
  assert.throws(() => ops.linearCrossEntropy(x, randn([V, H], rng), labels, { logits: randn([rows, V + 1], rng) }), ShapeError);
  assert.throws(() => ops.linearCrossEntropy(x, randn([V, H], rng), Int32Array.of(1, 2)), (e: Error) => e instanceof ShapeError && /2 labels for 11 rows/.test(e.message));
});
