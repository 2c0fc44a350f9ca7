import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import * as ops from "../../src/ops/index.js";
import { gradcheck, randn } from "../helpers/gradcheck.js";

const rng = new Rng(5);

test("sum/mean/max/var forward", () => {
  const a = Tensor.from([[1, 2, 3], [4, 5, 6]]);
  assert.equal(ops.sum(a).item(), 21);
  assert.deepEqual(ops.sum(a, 0).toArray(), [5, 7, 9]);
  assert.deepEqual(ops.mean(a, 1, { keepdim: true }).toArray(), [[2], [5]]);
  assert.deepEqual(ops.max(a, 1).values.toArray(), [3, 6]);
  assert.deepEqual(Array.from(ops.max(a, 0).indices), [1, 1, 1]);
  assert.ok(Math.abs((ops.variance(a, 1).toArray() as number[])[0] - 1) < 1e-6);
  assert.ok(Math.abs((ops.variance(a, 1, { unbiased: false }).toArray() as number[])[0] - 2 / 3) < 1e-6);
});

test("reductions: gradients", () => {
  gradcheck((x) => ops.sum(x, [0, 2]), [randn([2, 3, 4], rng)], { name: "sum" });
  gradcheck((x) => ops.mean(x, -1, { keepdim: true }), [randn([3, 4], rng)], { name: "mean" });
  gradcheck((x) => ops.max(x, 1).values, [randn([3, 5], rng)], { name: "max" });
  gradcheck((x) => ops.variance(x, 1), [randn([3, 5], rng)], { name: "var" });
  gradcheck((x) => ops.sum(x, 1), [randn([4, 3], rng).T], { name: "sum of transposed view" });
});
