import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor, tensor } from "../../src/tensor/tensor.js";
import { enableGrad, noGrad } from "../../src/tensor/autograd.js";
import { ShapeError } from "../../src/tensor/errors.js";
import * as ops from "../../src/ops/index.js";
import { Rng } from "../../src/tensor/random.js";
import { randn } from "../helpers/gradcheck.js";

/** A function running `rounds` full garbage collections, each followed by a turn of the event loop (WeakRefs clear between turns). */
async function collector(): Promise<(rounds: number) => Promise<void>> {
  const { setFlagsFromString } = await import("node:v8");
  const { runInNewContext } = await import("node:vm");
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  return async (rounds) => {
    for (let i = 0; i < rounds; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
  };
}

test("gradients accumulate across two backward calls until zeroed", () => {
  const x = tensor([1, 2, 3], { requiresGrad: true });
  ops.sum(ops.square(x)).backward();
  assert.deepEqual(x.grad!.toArray(), [2, 4, 6]);
  ops.sum(ops.scale(x, 3)).backward();
  assert.deepEqual(x.grad!.toArray(), [5, 7, 9]);
  x.zeroGrad();
  assert.deepEqual(x.grad!.toArray(), [0, 0, 0]);
});

test("noGrad records nothing; enableGrad re-enables inside it", () => {
  const x = tensor([1, 2], { requiresGrad: true });
  const y = noGrad(() => ops.mul(x, x));
  assert.equal(y.requiresGrad, false);
  assert.equal(y.gradFn, null);
  const z = noGrad(() => enableGrad(() => ops.mul(x, x)));
  assert.equal(z.requiresGrad, true);
  // an exception inside noGrad restores the previous mode
  assert.throws(() => noGrad(() => { throw new Error("boom"); }));
  assert.equal(ops.mul(x, 2).requiresGrad, true);
});

test("detach cuts the graph but shares storage", () => {
  const x = tensor([1, 2], { requiresGrad: true });
  const d = ops.mul(x, 2).detach();
  assert.equal(d.requiresGrad, false);
  const y = ops.add(ops.mul(x, d), x); // d is a constant: dy/dx = d + 1
  ops.sum(y).backward();
  assert.deepEqual(x.grad!.toArray(), [3, 5]);
  const v = x.detach();
  (v.storage as Float32Array)[0] = 10;
  assert.equal(x.f32()[0], 10, "detach is a view of the same storage");
});

test("a second backward through a released graph throws a clear error; retainGraph allows it", () => {
  const x = tensor([1, 2], { requiresGrad: true });
  const loss = ops.sum(ops.exp(x));
  loss.backward();
  assert.throws(() => loss.backward(), (e: Error) => e instanceof ShapeError && /second time/.test(e.message) && /retainGraph/.test(e.message));
  const x2 = tensor([0.5], { requiresGrad: true });
  const l2 = ops.sum(ops.square(x2));
  l2.backward(undefined, { retainGraph: true });
  l2.backward();
  assert.deepEqual(x2.grad!.toArray(), [2]);
});

test("after backward, an output the caller keeps no longer pins the intermediate activations", async () => {
  const collect = await collector();
  const x = tensor([1, 2, 3], { requiresGrad: true });
  let loss!: Tensor;
  let hidden!: WeakRef<Tensor>;
  let hiddenRetained!: WeakRef<Tensor>;
  let lossRetained!: Tensor;
  // build in a function so no local keeps the intermediates alive
  (() => {
    const h = ops.exp(ops.mul(x, 2));
    hidden = new WeakRef(h);
    loss = ops.sum(ops.square(h));
    const h2 = ops.exp(ops.mul(x, 3));
    hiddenRetained = new WeakRef(h2);
    lossRetained = ops.sum(h2);
  })();
  loss.backward();
  lossRetained.backward(undefined, { retainGraph: true });
  await collect(3);
  assert.equal(hidden.deref(), undefined, "the activation of a released graph is collectable while the loss is alive");
  assert.notEqual(hiddenRetained.deref(), undefined, "retainGraph keeps the graph (and its activations)");
  assert.equal(loss.gradFn!.inputs.length, 0);
  // gradients are still right: d/dx Σ exp(2x)² = 4·exp(4x)
  x.grad!.f32().forEach((g, i) => assert.ok(Math.abs(g - 4 * Math.exp(4 * (i + 1)) - 3 * Math.exp(3 * (i + 1))) / g < 1e-5));
});

test("backward on a non-scalar needs an explicit gradient; a tensor without grad refuses backward", () => {
  const x = tensor([1, 2], { requiresGrad: true });
  const y = ops.mul(x, 3);
  assert.throws(() => y.backward(), (e: Error) => e instanceof ShapeError && /non-scalar/.test(e.message) && /\[2\]/.test(e.message));
  y.backward(Tensor.from([1, 10]));
  assert.deepEqual(x.grad!.toArray(), [3, 30]);
  assert.throws(() => Tensor.from([1]).backward(), ShapeError);
});

test("shared subexpressions: gradients from every use are summed", () => {
  const x = tensor([2, -1], { requiresGrad: true });
  const s = ops.mul(x, x); // used three times below
  const y = ops.add(ops.add(ops.mul(s, s), s), ops.sum(s)); // x⁴ + x² + Σx²
  ops.sum(y).backward();
  // Σ(y) = Σx⁴ + Σx² + 2·Σx² (the scalar Σs broadcasts to both elements), so d/dx = 4x³ + 6x
  assert.deepEqual(x.grad!.toArray(), [4 * 8 + 6 * 2, 4 * -1 - 6]);
  // diamond through views: x used via a slice and directly
  const a = tensor([1, 2, 3], { requiresGrad: true });
  const b = ops.add(ops.sum(a.slice(0, 1, 3)), ops.sum(ops.mul(a, a)));
  b.backward();
  assert.deepEqual(a.grad!.toArray(), [2, 5, 7]);
});

test("frozen inputs get no gradient; requiresGrad_ only on f32 leaves", () => {
  const w = Tensor.from([1, 2]);
  const x = tensor([3, 4], { requiresGrad: true });
  ops.sum(ops.mul(w, x)).backward();
  assert.equal(w.grad, null);
  assert.deepEqual(x.grad!.toArray(), [1, 2]);
  assert.throws(() => Tensor.from([1], [1], "i32").requiresGrad_(), ShapeError);
  assert.throws(() => ops.mul(x, 2).requiresGrad_(), ShapeError);
});

test("during forward, a result no backward reads is freed at once (graph edges point at nodes, closures keep only what they read)", async () => {
  const collect = await collector();
  const x = randn([4, 8], new Rng(1)).requiresGrad_();
  const w = randn([8, 8], new Rng(2)); // frozen: linear needs no input for it
  const run = (keep: boolean) => {
    const refs: Record<string, WeakRef<Tensor>> = {};
    let loss!: Tensor;
    (() => {
      const a = ops.add(x, 1); // add's backward reads only shapes
      const h = ops.linear(a, w); // frozen weight: no weight gradient, so a is not saved
      const d = ops.dropout(h, 0.5, true, new Rng(3)); // the mask is rebuilt in backward, h is not saved
      const t = d.reshape([2, 16]).transpose(0, 1).contiguous(); // views and their copy save nothing
      const n = ops.layerNorm(t, null, null); // saves its input's values (not the tensor object)
      const m = ops.mul(n, n); // saves both factors (the control)
      loss = ops.sum(m);
      Object.assign(refs, { a: new WeakRef(a), h: new WeakRef(h), d: new WeakRef(d), t: new WeakRef(t), n: new WeakRef(n) });
      if (keep) (refs as Record<string, unknown>).held = [a, h, d, t, n];
    })();
    return { refs, loss };
  };
  const { refs, loss } = run(false);
  await collect(3);
  for (const k of ["a", "h", "d", "t"]) assert.equal(refs[k].deref(), undefined, `${k} is collectable before backward`);
  assert.notEqual(refs.n.deref(), undefined, "a tensor mul saved for its backward stays alive");
  loss.backward();
  const g1 = x.grad!.f32().slice();
  // the same graph with every intermediate held by the caller gives the same gradient
  x.zeroGrad();
  run(true).loss.backward();
  assert.deepEqual(Array.from(x.grad!.f32()), Array.from(g1));
  assert.ok(g1.some((v) => v !== 0));
});

test("memory contract per op: which input buffers a recorded op keeps for its backward", async () => {
  const collect = await collector();
  const rng = new Rng(5);
  const R = 64, C = 512; // 32768 elements: a buffer of its own
  const x = randn([R, C], rng).requiresGrad_();
  const wFrozen = randn([C, C], rng, 0.05), wTrain = randn([C, C], rng, 0.05).requiresGrad_();
  const A = randn([4, C], rng, 0.05).requiresGrad_(), B = randn([C, 4], rng, 0.05).requiresGrad_();
  const bias = randn([C], rng).requiresGrad_();
  const { cos, sin } = ops.rotaryTables([...Array(R).keys()], 64, 10000);
  const labels = Array.from({ length: R }, (_, i) => i % C);
  // op applied to an intermediate `a` (a fresh [R, C] buffer); whether a's buffer must survive until backward
  const cases: [string, boolean, (a: Tensor) => Tensor][] = [
    ["add", false, (a) => ops.add(a, 1)],
    ["scale", false, (a) => ops.scale(a, 3)],
    ["linear, frozen weight", false, (a) => ops.linear(a, wFrozen)],
    ["linear, trainable weight", true, (a) => ops.linear(a, wTrain)],
    ["linear+gelu, frozen weight", false, (a) => ops.linear(a, wFrozen, bias, { act: "gelu" })],
    ["loraLinear (A needs x)", true, (a) => ops.loraLinear(a, wFrozen, null, A, B, 2)],
    ["dropout", false, (a) => ops.dropout(a, 0.1, true, new Rng(1))],
    ["reshape/transpose/contiguous", false, (a) => a.reshape([R, 8, 64]).transpose(0, 1).contiguous()],
    ["biasAct (copies x+b)", false, (a) => ops.biasAct(a, bias, "gelu")],
    ["gelu", true, (a) => ops.gelu(a)],
    ["softmax (keeps its output)", false, (a) => ops.softmax(a)],
    ["layerNorm", true, (a) => ops.layerNorm(a, null, null)],
    ["rmsNorm", true, (a) => ops.rmsNorm(a, null)],
    ["siluMul", true, (a) => ops.siluMul(a, a)],
    ["applyRotary", false, (a) => ops.applyRotary(a.reshape([1, R, 8, 64]).transpose(1, 2), cos, sin)],
    ["attention", true, (a) => { const h = a.reshape([1, 8, 64, 64]); return ops.scaledDotProductAttention(h, h, h, { causal: true }); }],
    ["attention on a copy (the copy is kept, not the input)", false, (a) => { const h = a.reshape([1, R, 8, 64]).transpose(1, 2).contiguous(); return ops.scaledDotProductAttention(h, h, h, { causal: true }); }],
    ["crossEntropy", true, (a) => ops.crossEntropy(a, labels)],
    ["sum", false, (a) => ops.sum(a)],
    ["mean over a dim", false, (a) => ops.mean(a, 1)],
    ["cat", false, (a) => ops.cat([a, a], 0)],
  ];
  for (const [name, keeps, op] of cases) {
    let buf!: WeakRef<ArrayBufferLike>;
    let loss!: Tensor;
    (() => {
      const a = ops.add(x, 0.5);
      buf = new WeakRef(a.storage.buffer);
      loss = ops.sum(op(a));
    })();
    await collect(2);
    assert.equal(buf.deref() !== undefined, keeps, `${name}: the input buffer is ${keeps ? "needed" : "not needed"} by the backward`);
    loss.backward();
    assert.ok(x.grad!.f32().every(Number.isFinite), `${name}: gradient`);
    x.zeroGrad();
  }
});
