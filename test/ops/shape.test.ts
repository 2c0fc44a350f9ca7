import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { ShapeError } from "../../src/tensor/errors.js";
import * as ops from "../../src/ops/index.js";
import { gradcheck, randn } from "../helpers/gradcheck.js";

const rng = new Rng(41);

test("cat / stack / split: values", () => {
  const a = Tensor.from([[1, 2], [3, 4]]), b = Tensor.from([[5, 6]]);
  assert.deepEqual(ops.cat([a, b]).toArray(), [[1, 2], [3, 4], [5, 6]]);
  assert.deepEqual(ops.cat([a, a.T], -1).toArray(), [[1, 2, 1, 3], [3, 4, 2, 4]]);
  assert.deepEqual(ops.stack([a, a.T], 1).toArray(), [[[1, 2], [1, 3]], [[3, 4], [2, 4]]]);
  assert.deepEqual(ops.stack([Tensor.from([1, 2]), Tensor.from([3, 4])], -1).toArray(), [[1, 3], [2, 4]]);
  // integer tensors concatenate too (ids, masks)
  const ids = ops.cat([Tensor.from([[1, 2]], undefined, "i32"), Tensor.from([[3]], undefined, "i32")], 1);
  assert.equal(ids.dtype, "i32");
  assert.deepEqual(ids.toArray(), [[1, 2, 3]]);
  const x = Tensor.from([0, 1, 2, 3, 4]);
  assert.deepEqual(ops.split(x, 2).map((t) => t.toArray()), [[0, 1], [2, 3], [4]]);
  assert.deepEqual(ops.split(x, [1, 4]).map((t) => t.toArray()), [[0], [1, 2, 3, 4]]);
  assert.deepEqual(ops.split(a, 1, 1).map((t) => t.toArray()), [[[1], [3]], [[2], [4]]]);
  assert.throws(() => ops.cat([a, Tensor.from([[1, 2, 3]])]), (e: Error) => e instanceof ShapeError && /cat/.test(e.message) && /\[1,3\]/.test(e.message));
  assert.throws(() => ops.split(x, [2, 2]), ShapeError);
  assert.throws(() => ops.stack([a, b]), ShapeError);
  assert.throws(() => ops.cat([a, a.to("i32")]), ShapeError);
});

test("cat / stack / split: gradients", () => {
  gradcheck((a, b) => ops.cat([a, b], 1), [randn([2, 3], rng), randn([2, 2], rng)], { name: "cat" });
  gradcheck((a, b) => ops.cat([a, b], 0), [randn([3, 2], rng).T, randn([1, 3], rng)], { name: "cat non-contiguous" });
  gradcheck((a, b) => ops.stack([a, b], 1), [randn([2, 3], rng), randn([2, 3], rng)], { name: "stack" });
  gradcheck((x) => { const [p, q] = ops.split(x, [1, 3], 1); return ops.mul(ops.sum(p, 1, { keepdim: true }), q); }, [randn([2, 4], rng)], { name: "split" });
  // a frozen input gets no gradient, the trainable one does
  const f = randn([2, 2], rng), t = randn([2, 2], rng).requiresGrad_();
  ops.sum(ops.cat([f, t])).backward();
  assert.equal(f.grad, null);
  assert.deepEqual(t.grad!.toArray(), [[1, 1], [1, 1]]);
});

test("where / maskedFill: values, broadcasting, gradients", () => {
  assert.deepEqual(ops.where([[1], [0]], [[1, 2]], [[5, 6], [7, 8]]).toArray(), [[1, 2], [7, 8]]);
  assert.deepEqual(ops.where(Tensor.from([1, 0], [2], "u8"), 3, [4, 5]).toArray(), [3, 5]);
  assert.deepEqual(ops.maskedFill([[1, 2], [3, 4]], [[0, 1]], -9).toArray(), [[1, -9], [3, -9]]);
  assert.deepEqual(ops.maskedFill([[1, 2]], Tensor.from([1, 0], [2], "bool"), 0).toArray(), [[0, 2]]);
  assert.throws(() => ops.maskedFill([1, 2], [[1, 0], [0, 1]], 0), ShapeError);
  const cond = [[1, 0, 1], [0, 0, 1]];
  gradcheck((a, b) => ops.where(cond, a, b), [randn([2, 3], rng), randn([3], rng)], { name: "where broadcast" });
  gradcheck((x) => ops.maskedFill(x, [[1], [0]], 2), [randn([2, 3], rng)], { name: "maskedFill" });
  gradcheck((x) => ops.maskedFill(x, [0, 1], 2), [randn([2, 3], rng).T], { name: "maskedFill non-contiguous" });
});
