import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, sumToShape } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { ShapeError } from "../../src/tensor/errors.js";
import * as ops from "../../src/ops/index.js";
import { gradcheck, randn } from "../helpers/gradcheck.js";

const rng = new Rng(77);
const arange = (...shape: number[]) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float32Array.from({ length: n }, (_, i) => i), shape);
};

test("reshape / view / flatten values, -1 inference, errors", () => {
  const x = arange(2, 3, 4);
  assert.deepEqual(x.reshape([6, -1]).shape, [6, 4]);
  assert.deepEqual((x.view(4, 6).toArray() as number[][])[1], [6, 7, 8, 9, 10, 11]);
  assert.deepEqual(x.flatten(1).shape, [2, 12]);
  assert.deepEqual(x.flatten().shape, [24]);
  assert.throws(() => x.reshape([5, 5]), (e: Error) => e instanceof ShapeError && /\[2,3,4\]/.test(e.message));
  // reshape of a non-contiguous view copies in logical order
  assert.deepEqual(arange(2, 3).T.reshape([6]).toArray(), [0, 3, 1, 4, 2, 5]);
});

test("permute / transpose / T share storage and index correctly", () => {
  const x = arange(2, 3, 4);
  const p = x.permute([2, 0, 1]);
  assert.deepEqual(p.shape, [4, 2, 3]);
  assert.equal((p.toArray() as number[][][])[3][1][2], 1 * 12 + 2 * 4 + 3);
  assert.equal(p.storage, x.storage);
  assert.deepEqual(arange(2, 3).T.toArray(), [[0, 3], [1, 4], [2, 5]]);
  assert.deepEqual(x.transpose(0, 2).shape, [4, 3, 2]);
  assert.throws(() => x.permute([0, 0, 1]), ShapeError);
});

test("slice / select / unsqueeze / squeeze / expand values", () => {
  const x = arange(3, 4);
  assert.deepEqual(x.slice(1, 1, 3).toArray(), [[1, 2], [5, 6], [9, 10]]);
  assert.deepEqual(x.slice(0, -1).toArray(), [[8, 9, 10, 11]]);
  assert.deepEqual(x.slice(1, 0, 4, 2).toArray(), [[0, 2], [4, 6], [8, 10]]);
  assert.deepEqual(x.select(1, 3).toArray(), [3, 7, 11]);
  assert.deepEqual(x.select(0, 1).toArray(), [4, 5, 6, 7]);
  assert.deepEqual(x.unsqueeze(1).shape, [3, 1, 4]);
  assert.deepEqual(x.unsqueeze(-1).shape, [3, 4, 1]);
  assert.deepEqual(x.unsqueeze(0).squeeze(0).shape, [3, 4]);
  assert.deepEqual(arange(1, 3, 1).squeeze().shape, [3]);
  const e = Tensor.from([[1], [2]]).expand([2, 3]);
  assert.deepEqual(e.toArray(), [[1, 1, 1], [2, 2, 2]]);
  assert.deepEqual(Tensor.from([1, 2]).expand([2, -1]).toArray(), [[1, 2], [1, 2]]);
  assert.throws(() => Tensor.from([1, 2]).expand([3]), ShapeError);
  assert.deepEqual(sumToShape(Tensor.ones([2, 3]), [3]).toArray(), [2, 2, 2]);
  assert.deepEqual(sumToShape(Tensor.ones([2, 3]), [2, 1]).toArray(), [[3], [3]]);
});

test("view gradients (finite differences)", () => {
  gradcheck((x) => ops.square(x.reshape([3, 4])), [randn([2, 6], rng)], { name: "reshape" });
  gradcheck((x) => ops.square(x.permute([2, 0, 1])), [randn([2, 3, 4], rng)], { name: "permute" });
  gradcheck((x) => ops.square(x.slice(1, 1, 4, 2)), [randn([3, 5], rng)], { name: "slice step 2" });
  gradcheck((x) => ops.square(x.select(0, 1)), [randn([3, 2], rng)], { name: "select" });
  const w = randn([3, 2, 4], rng);
  gradcheck((x) => ops.mul(x.expand([3, 2, 4]), w), [randn([2, 1], rng)], { name: "expand" });
  gradcheck((x) => ops.square(x.unsqueeze(1).squeeze(1)), [randn([3, 2], rng)], { name: "unsqueeze/squeeze" });
  gradcheck((x) => ops.square(x.T.contiguous().flatten()), [randn([3, 2], rng)], { name: "contiguous + flatten" });
  // views of views of a transposed leaf
  gradcheck((x) => ops.square(x.slice(0, 1).reshape([-1])), [randn([3, 4], rng).T], { name: "slice of transposed" });
});

test("sumToShape reduces broadcast dims (leading, inner, several runs, to a scalar, empty) like an explicit sum", () => {
  const rng = new Rng(11);
  for (const [gs, ts] of [[[2, 3, 4], [4]], [[2, 3, 4], [3, 1]], [[2, 3, 4], [2, 1, 4]], [[5, 1, 3, 7], [1, 1, 7]], [[2, 3, 4, 5], [3, 1, 5]], [[4, 6], []], [[2, 0, 3], [3]]] as number[][][]) {
    const g = Tensor.zeros(gs);
    rng.fillNormal(g.data);
    const got = sumToShape(g, ts);
    assert.deepEqual(got.shape, ts);
    const gd = g.f32(), want = new Float64Array(got.size), nd = gs.length, off = nd - ts.length;
    for (let i = 0; i < gd.length; i++) {
      let rem = i, o = 0, mul = 1;
      const idx: number[] = [];
      for (let d = nd - 1; d >= 0; d--) { idx[d] = rem % gs[d]; rem = Math.floor(rem / gs[d]); }
      for (let d = nd - 1; d >= off; d--) { const t = ts[d - off]; o += (t === 1 ? 0 : idx[d]) * mul; mul *= t; }
      want[o] += gd[i];
    }
    got.f32().forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 1e-5, `[${gs}] -> [${ts}] [${i}]: ${v} vs ${want[i]}`));
  }
});
