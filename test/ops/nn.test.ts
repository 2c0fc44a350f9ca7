import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { ShapeError } from "../../src/tensor/errors.js";
import * as ops from "../../src/ops/index.js";
import { assertClose, gradcheck, randn } from "../helpers/gradcheck.js";

const rng = new Rng(11);

test("softmax / logSoftmax: closed forms", () => {
  const x = Tensor.from([[0, Math.log(3)], [5, 5]]);
  assertClose(ops.softmax(x).f32(), [0.25, 0.75, 0.5, 0.5], 1e-7, 1e-6, "softmax");
  assertClose(ops.logSoftmax(x).f32(), [Math.log(0.25), Math.log(0.75), Math.log(0.5), Math.log(0.5)], 1e-6, 1e-6, "logSoftmax");
  // along dim 0 of a [2,2]: columns normalise
  assertClose(ops.softmax(x, 0).f32(), [1 / (1 + Math.exp(5)), 3 / (3 + Math.exp(5)), Math.exp(5) / (1 + Math.exp(5)), Math.exp(5) / (3 + Math.exp(5))], 1e-7, 1e-6, "softmax dim 0");
  // large logits stay finite (stable shift)
  const big = ops.logSoftmax(Tensor.from([[1000, 0]])).f32();
  assert.ok(Number.isFinite(big[0]) && Math.abs(big[1] + 1000) < 1e-3);
});

test("softmax / logSoftmax: gradients (last dim, middle dim, non-contiguous)", () => {
  gradcheck((x) => ops.softmax(x), [randn([3, 5], rng)], { name: "softmax" });
  gradcheck((x) => ops.softmax(x, 1), [randn([2, 4, 3], rng)], { name: "softmax dim 1" });
  gradcheck((x) => ops.logSoftmax(x), [randn([3, 5], rng)], { name: "logSoftmax" });
  gradcheck((x) => ops.logSoftmax(x, 0), [randn([4, 3], rng)], { name: "logSoftmax dim 0" });
  gradcheck((x) => ops.softmax(x), [randn([5, 3], rng).T], { name: "softmax of transposed view" });
});

test("layerNorm: closed form and gradients", () => {
  const x = Tensor.from([[1, 2, 3, 4]]);
  const mu = 2.5, sd = Math.sqrt(1.25 + 1e-5);
  const w = Tensor.from([1, 2, 3, 4]), b = Tensor.from([0.5, 0, 0, -1]);
  const want = [1, 2, 3, 4].map((v, i) => ((v - mu) / sd) * (i + 1) + [0.5, 0, 0, -1][i]);
  assertClose(ops.layerNorm(x, w, b).f32(), want, 1e-5, 1e-5, "layerNorm");
  assertClose(ops.layerNorm(x, null, null, 1e-12).f32(), [1, 2, 3, 4].map((v) => (v - mu) / Math.sqrt(1.25)), 1e-6, 1e-5, "layerNorm no affine");
  gradcheck((x, w, b) => ops.layerNorm(x, w, b), [randn([3, 6], rng), randn([6], rng), randn([6], rng)], { name: "layerNorm" });
  gradcheck((x) => ops.layerNorm(x, null, null), [randn([2, 3, 5], rng)], { name: "layerNorm no affine" });
  gradcheck((x, w) => ops.layerNorm(x, w, null), [randn([6, 4], rng).T, randn([6], rng)], { name: "layerNorm non-contiguous" });
  // frozen weight: only x gets a gradient
  const xf = randn([2, 4], rng).requiresGrad_(), wf = randn([4], rng);
  ops.sum(ops.layerNorm(xf, wf, null)).backward();
  assert.ok(xf.grad && wf.grad === null);
});

test("rmsNorm: closed form and gradients", () => {
  const x = Tensor.from([[3, 4]]);
  const r = Math.sqrt(12.5 + 1e-6);
  assertClose(ops.rmsNorm(x, Tensor.from([2, 1])).f32(), [6 / r, 4 / r], 1e-6, 1e-5, "rmsNorm");
  gradcheck((x, w) => ops.rmsNorm(x, w), [randn([3, 6], rng), randn([6], rng)], { name: "rmsNorm" });
  gradcheck((x) => ops.rmsNorm(x, null), [randn([2, 2, 5], rng)], { name: "rmsNorm no weight" });
  gradcheck((x, w) => ops.rmsNorm(x, w), [randn([5, 3], rng).T, randn([5], rng)], { name: "rmsNorm non-contiguous" });
});

test("norms reject mismatched weights with a ShapeError naming the shapes", () => {
  assert.throws(() => ops.layerNorm(randn([2, 4], rng), randn([3], rng), null), (e: Error) => e instanceof ShapeError && /layerNorm/.test(e.message) && /\[3\]/.test(e.message));
  assert.throws(() => ops.rmsNorm(randn([2, 4], rng), randn([5], rng)), ShapeError);
});

test("embedding: gather, id forms, scatter-add backward", () => {
  const w = Tensor.from([[0, 1], [10, 11], [20, 21]]);
  assert.deepEqual(ops.embedding(w, [[2, 0], [1, 1]]).toArray(), [[[20, 21], [0, 1]], [[10, 11], [10, 11]]]);
  assert.deepEqual(ops.embedding(w, [1]).toArray(), [[10, 11]]);
  assert.deepEqual(ops.embedding(w, Tensor.from([2, 1], [2], "i64")).toArray(), [[20, 21], [10, 11]]);
  assert.deepEqual(ops.embedding(w, Tensor.from([[0]], [1, 1], "i32")).shape, [1, 1, 2]);
  assert.deepEqual(ops.embedding(w, Tensor.from([2, 0])).toArray(), [[20, 21], [0, 1]]);
  assert.deepEqual(ops.embedding(w.to("bf16"), [2]).toArray(), [[20, 21]]);
  assert.throws(() => ops.embedding(w, [3]), (e: Error) => e instanceof ShapeError && /out of range/.test(e.message));
  assert.throws(() => ops.embedding(w, Tensor.from([0.5])), ShapeError);
  // repeated ids accumulate into the same row
  const wg = randn([4, 3], rng).requiresGrad_();
  const y = ops.embedding(wg, [[1, 3, 1]]);
  y.backward(Tensor.ones(y.shape));
  assert.deepEqual(wg.grad!.toArray(), [[0, 0, 0], [2, 2, 2], [0, 0, 0], [1, 1, 1]]);
  gradcheck((w) => ops.embedding(w, [[0, 2, 2], [1, 0, 3]]), [randn([4, 3], rng)], { name: "embedding" });
  // frozen weight: no graph
  assert.equal(ops.embedding(randn([4, 3], rng), [1]).requiresGrad, false);
});

test("dropout: identity when off, inverted scaling, seeded, gradient uses the same mask", () => {
  const x = randn([50, 40], rng);
  assert.equal(ops.dropout(x, 0.3, false), x);
  assert.equal(ops.dropout(x, 0, true), x);
  const y1 = ops.dropout(Tensor.ones([100, 100]), 0.25, true, new Rng(3)).f32();
  const y2 = ops.dropout(Tensor.ones([100, 100]), 0.25, true, new Rng(3)).f32();
  assert.deepEqual(y1, y2, "same seed, same mask");
  let zeros = 0;
  for (const v of y1) {
    if (v === 0) zeros++;
    else assert.ok(Math.abs(v - 1 / 0.75) < 1e-6, `survivor scaled by 1/(1-p), got ${v}`);
  }
  assert.ok(Math.abs(zeros / y1.length - 0.25) < 0.03, `drop fraction ${zeros / y1.length}`);
  assert.ok(ops.dropout(x, 1, true, new Rng(1)).f32().every((v) => v === 0));
  assert.throws(() => ops.dropout(x, 1.5, true), ShapeError);
  const xg = randn([8, 8], rng).requiresGrad_();
  const y = ops.dropout(xg, 0.5, true, new Rng(9));
  y.backward(Tensor.ones(y.shape));
  const yd = y.f32(), gd = xg.grad!.f32();
  for (let i = 0; i < yd.length; i++) assert.equal(gd[i], yd[i] === 0 ? 0 : 2);
});

test("siluMul (SwiGLU gate): gradients by finite differences, equal to mul(silu(gate), up), shape errors", () => {
  const rng = new Rng(41);
  gradcheck((g, u) => ops.siluMul(g, u), [randn([3, 7], rng), randn([3, 7], rng)], { name: "siluMul" });
  gradcheck((g, u) => ops.siluMul(g, u), [randn([7, 3], rng).T, randn([3, 7], rng)], { name: "siluMul non-contiguous gate" });
  const g = randn([4, 33], rng), u = randn([4, 33], rng);
  g.requiresGrad = true;
  u.requiresGrad = true;
  const fused = ops.siluMul(g, u);
  const ref = ops.mul(ops.silu(g), u);
  assertClose(fused.f32(), ref.f32(), 1e-6, 1e-6, "siluMul value");
  ops.sum(fused).backward();
  const gg = g.grad!.f32().slice(), gu = u.grad!.f32().slice();
  g.zeroGrad();
  u.zeroGrad();
  ops.sum(ref).backward();
  assertClose(gg, g.grad!.f32(), 1e-6, 1e-6, "siluMul gate grad");
  assertClose(gu, u.grad!.f32(), 1e-6, 1e-6, "siluMul up grad");
  assert.throws(() => ops.siluMul(randn([2, 3], rng), randn([3, 2], rng)), (e: Error) => e instanceof ShapeError && /\[2,3\]/.test(e.message) && /\[3,2\]/.test(e.message));
});
