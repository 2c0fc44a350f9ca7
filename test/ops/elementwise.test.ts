import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import * as ops from "../../src/ops/index.js";
import { gradcheck, randn } from "../helpers/gradcheck.js";

const rng = new Rng(7);

test("add/sub/mul/div broadcast forward", () => {
  const a = Tensor.from([[1, 2, 3], [4, 5, 6]]);
  const b = Tensor.from([10, 20, 30]);
  assert.deepEqual(ops.add(a, b).toArray(), [[11, 22, 33], [14, 25, 36]]);
  assert.deepEqual(ops.sub(b, a).toArray(), [[9, 18, 27], [6, 15, 24]]);
  assert.deepEqual(ops.mul(a, 2).toArray(), [[2, 4, 6], [8, 10, 12]]);
  assert.deepEqual(ops.div(Tensor.from([[2], [4]]), Tensor.from([1, 2])).toArray(), [[2, 1], [4, 2]]);
});

test("binary ops: gradients with broadcasting and non-contiguous views", () => {
  for (const op of [ops.add, ops.sub, ops.mul, ops.div]) {
    const a = randn([3, 4], rng);
    const b = ops.add(randn([4], rng), 3).detach();
    gradcheck(op, [a, b], { name: op.name });
    const at = randn([4, 3], rng).transpose(0, 1);
    gradcheck(op, [at, ops.add(ops.abs(randn([3, 1], rng)), 1).detach()], { name: `${op.name} transposed` });
  }
  gradcheck((x, y) => ops.pow(x, y), [ops.add(ops.abs(randn([5], rng)), 0.5).detach(), randn([5], rng)], { name: "pow" });
  gradcheck((x, y) => ops.maximum(x, y), [randn([6], rng), randn([6], rng)], { name: "maximum" });
});

test("unary ops: gradients", () => {
  const pos = () => ops.add(ops.abs(randn([2, 5], rng)), 0.5).detach();
  const fns: [string, (x: Tensor) => Tensor, () => Tensor][] = [
    ["neg", ops.neg, () => randn([2, 5], rng)],
    ["exp", ops.exp, () => randn([2, 5], rng)],
    ["log", ops.log, pos],
    ["sqrt", ops.sqrt, pos],
    ["rsqrt", ops.rsqrt, pos],
    ["tanh", ops.tanh, () => randn([2, 5], rng)],
    ["sigmoid", ops.sigmoid, () => randn([2, 5], rng)],
    ["relu", ops.relu, () => randn([2, 5], rng)],
    ["silu", ops.silu, () => randn([2, 5], rng)],
    ["gelu", (x) => ops.gelu(x), () => randn([2, 5], rng)],
    ["gelu_tanh", (x) => ops.gelu(x, "tanh"), () => randn([2, 5], rng)],
    ["square", ops.square, () => randn([2, 5], rng)],
    ["scale", (x) => ops.scale(x, -3), () => randn([2, 5], rng)],
  ];
  for (const [name, f, mk] of fns) gradcheck(f, [mk()], { name });
});

test("gelu matches erf definition at known points", () => {
  // gelu(1) = 0.5 * (1 + erf(1/√2)) = 0.8413447460685429
  const y = ops.gelu(Tensor.from([1, -1, 0])).toArray() as number[];
  assert.ok(Math.abs(y[0] - 0.8413447460685429) < 1e-6);
  assert.ok(Math.abs(y[1] + 0.15865525393145707) < 1e-6);
  assert.equal(y[2], 0);
});

test("binary op shape mismatch names the op and shapes", () => {
  assert.throws(() => ops.add(Tensor.zeros([2, 3]), Tensor.zeros([4])), /add: shapes \[2,3\] and \[4\]/);
});
