// Tensor-parallel region ops with the single-process group (world 1): gradients by finite
// differences, and the vocab-parallel cross entropy against ops.crossEntropy. The 2-rank values
// are in test/dist/tp.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../../src/tensor/random.js";
import { LocalGroup } from "../../src/dist/index.js";
import * as ops from "../../src/ops/index.js";
import { copyToParallel, gatherFromParallel, reduceFromParallel, vocabParallelCrossEntropy } from "../../src/ops/parallel.js";
import { assertClose, gradcheck, randn } from "../helpers/gradcheck.js";

const g = new LocalGroup();

test("copyToParallel / reduceFromParallel / gatherFromParallel: identity values and gradients with one rank", () => {
  const rng = new Rng(3);
  gradcheck((x) => ops.mul(copyToParallel(x, g), x), [randn([3, 4], rng)], { name: "copyToParallel" });
  gradcheck((x) => ops.tanh(reduceFromParallel(ops.mul(x, 2), g)), [randn([2, 5], rng)], { name: "reduceFromParallel" });
  gradcheck((x) => ops.square(gatherFromParallel(x, g, [5])), [randn([2, 3, 5], rng)], { name: "gatherFromParallel" });
  const x = randn([2, 3], rng);
  assert.deepEqual(copyToParallel(x, g).toArray(), x.toArray());
  assert.deepEqual(reduceFromParallel(x, g).toArray(), x.toArray());
  assert.throws(() => gatherFromParallel(x, g, [2]), /rank 0 holds \[2,3\] but the split is \[2\]/);
});

test("vocabParallelCrossEntropy over the whole vocab equals crossEntropy (value, gradient, ignore_index, reductions)", () => {
  const rng = new Rng(5);
  const logits = randn([6, 11], rng, 3);
  const labels = Int32Array.from([3, -100, 0, 10, 7, 7]);
  for (const reduction of ["mean", "sum", "none"] as const) {
    const a = vocabParallelCrossEntropy(logits, labels, g, { vocabStart: 0, vocabSize: 11, reduction });
    const b = ops.crossEntropy(logits, labels, { reduction });
    assertClose(a.f32(), b.f32(), 1e-6, 1e-6, `loss (${reduction})`);
  }
  gradcheck((l) => vocabParallelCrossEntropy(l, labels, g, { vocabStart: 0, vocabSize: 11 }), [randn([6, 11], rng, 2)], { name: "vocabParallelCE" });
  assert.throws(() => vocabParallelCrossEntropy(logits, Int32Array.from([0, 1, 2, 3, 4, 11]), g, { vocabStart: 0, vocabSize: 11 }), /label 11 at row 5 is out of range for 11 classes/);
  assert.throws(() => vocabParallelCrossEntropy(logits, labels, g, { vocabStart: 3, vocabSize: 11 }), /slice 3…14 does not fit a vocab of 11/);
});
