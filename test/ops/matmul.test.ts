import { test } from "node:test";
import assert from "node:assert/strict";
import { getBackend } from "../../src/backend/registry.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import * as ops from "../../src/ops/index.js";
import { gradcheck, randn } from "../helpers/gradcheck.js";

const rng = new Rng(3);

test("matmul forward small", () => {
  const a = Tensor.from([[1, 2], [3, 4]]);
  const b = Tensor.from([[5, 6], [7, 8]]);
  assert.deepEqual(ops.matmul(a, b).toArray(), [[19, 22], [43, 50]]);
  assert.deepEqual(ops.matmul(a, b.T).toArray(), [[17, 23], [39, 53]]);
  assert.deepEqual(ops.matmul(Tensor.from([1, 1]), b).toArray(), [12, 14]);
});

test("matmul gradients: plain, transposed views, batched with broadcast", () => {
  gradcheck(ops.matmul, [randn([3, 4], rng), randn([4, 5], rng)], { name: "mm" });
  gradcheck(ops.matmul, [randn([4, 3], rng).T, randn([5, 4], rng).T], { name: "mm transposed" });
  gradcheck(ops.matmul, [randn([2, 3, 4], rng), randn([4, 2], rng)], { name: "bmm broadcast b" });
  gradcheck(ops.matmul, [randn([2, 1, 3, 4], rng), randn([3, 4, 2], rng)], { name: "bmm broadcast both" });
  gradcheck(ops.matmul, [randn([4], rng), randn([4, 3], rng)], { name: "vec @ mat" });
});

test("linear forward/backward with and without bias; bf16 weight", () => {
  const x = randn([2, 3, 4], rng), w = randn([5, 4], rng), b = randn([5], rng);
  gradcheck((x, w, b) => ops.linear(x, w, b), [x, w, b], { name: "linear" });
  gradcheck((x, w) => ops.linear(x, w), [randn([3, 4], rng), randn([5, 4], rng)], { name: "linear nobias" });
  const wb = w.detach().to("bf16");
  const y = ops.linear(x.detach(), wb);
  // the stored weight times x, or times bf16-rounded x where the backend runs the CPU's bf16 kernels
  const xs = getBackend().bf16RoundsInputs() ? x.detach().to("bf16").to("f32") : x.detach();
  const yref = ops.matmul(xs, new Tensor(wb.f32(), [5, 4]).T);
  assert.deepEqual(Array.from(y.data as Float32Array).map((v) => Math.round(v * 1e4)), Array.from(yref.data as Float32Array).map((v) => Math.round(v * 1e4)));
});

test("matmul inner-dim mismatch is a clear error", () => {
  assert.throws(() => ops.matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5])), /matmul: inner dimensions differ: \[2,3\] @ \[4,5\]/);
});

test("loraLinear equals linear(x,W,b) + s·linear(linear(x,A),B) in value and every gradient; frozen W gets none", () => {
  const s = 1.5;
  const ref = (x: Tensor, w: Tensor, b: Tensor | null, a: Tensor, bb: Tensor) => ops.add(ops.linear(x, w, b), ops.scale(ops.linear(ops.linear(x, a), bb), s));
  gradcheck((x, w, b, a, bb) => ops.loraLinear(x, w, b, a, bb, s), [randn([2, 3, 6], rng), randn([5, 6], rng), randn([5], rng), randn([2, 6], rng), randn([5, 2], rng)], { name: "loraLinear" });
  for (const bf16 of [false, true]) {
    const x = randn([3, 7, 6], rng), w0 = randn([5, 6], rng), b = randn([5], rng), a = randn([2, 6], rng), bb = randn([5, 2], rng);
    const w = bf16 ? w0.detach().to("bf16") : w0.detach();
    const run = (f: typeof ref) => {
      const xs = x.detach().requiresGrad_(), as = a.detach().requiresGrad_(), bs = bb.detach().requiresGrad_();
      const y = f(xs, w, b, as, bs);
      ops.sum(ops.mul(y, y)).backward();
      return { y: Array.from(y.f32()), gx: Array.from(xs.grad!.f32()), ga: Array.from(as.grad!.f32()), gb: Array.from(bs.grad!.f32()) };
    };
    const got = run((x, w, b, a, bb) => ops.loraLinear(x, w, b, a, bb, s)), want = run(ref);
    for (const k of ["y", "gx", "ga", "gb"] as const) {
      got[k].forEach((v, i) => assert.ok(Math.abs(v - want[k][i]) <= 1e-4 * (1 + Math.abs(want[k][i])), `${k}[${i}] (bf16 ${bf16}): ${v} vs ${want[k][i]}`));
    }
    assert.equal(w.grad, null);
    assert.equal(b.grad, null);
  }
  assert.throws(() => ops.loraLinear(randn([2, 6], rng), randn([5, 6], rng), null, randn([2, 5], rng), randn([5, 2], rng), 1), /lora_A/);
});
