// Optimizers: AdamW vs the golden torch.optim.AdamW step and closed-form Adam, SGD momentum,
// Adafactor's first step in closed form, flat gradient buffers, clipping, state save/load.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Tensor } from "../../src/tensor/tensor.js";
import { AdamW, SGD, Adafactor, FlatGrads, clipGradNorm, Optimizer } from "../../src/train/index.js";
import { gtensors, tmp, assertClose } from "../peft/helpers.js";

function param(vals: number[], shape = [vals.length], name = "p"): Tensor {
  const t = Tensor.from(Float32Array.from(vals), shape).requiresGrad_();
  t.name = name;
  return t;
}
function setGrad(p: Tensor, g: number[]): void {
  p.grad = Tensor.from(Float32Array.from(g), p.shape);
}

test("AdamW one step equals golden torch.optim.AdamW (bert-lora after_one_adamw_step)", () => {
  const init = gtensors("bert-lora/initial_trainable_params.safetensors");
  const grads = gtensors("bert-lora/grads.safetensors");
  const after = gtensors("bert-lora/after_one_adamw_step.safetensors");
  const params: Tensor[] = [], names: string[] = [];
  for (const [n, t] of init) {
    const p = Tensor.from(Float32Array.from(t.f32()), t.shape).requiresGrad_();
    const g = grads.get(n);
    assert.ok(g, `grad for ${n}`);
    p.grad = Tensor.from(Float32Array.from(g!.f32()), t.shape);
    params.push(p);
    names.push(n);
  }
  const opt = new AdamW([{ params, names }], { lr: 1e-3, weightDecay: 0.01, betas: [0.9, 0.999], eps: 1e-8 });
  opt.step();
  params.forEach((p, i) => assertClose(p, after.get(names[i])!, names[i], { abs: 1e-7, rel: 1e-6 }));
});

test("AdamW matches closed-form Adam with decoupled decay over 3 steps", () => {
  const p = param([0.5, -1.5, 2.0]);
  const opt = new AdamW([p], { lr: 0.01, weightDecay: 0.1, betas: [0.9, 0.99], eps: 1e-6 });
  const grads = [[0.1, -0.2, 0.3], [0.05, 0.4, -0.1], [-0.3, 0.2, 0.0]];
  const x = [0.5, -1.5, 2.0], m = [0, 0, 0], v = [0, 0, 0];
  grads.forEach((g, t) => {
    setGrad(p, g);
    opt.step();
    const step = t + 1;
    for (let i = 0; i < 3; i++) {
      x[i] *= 1 - 0.01 * 0.1;
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i];
      const mh = m[i] / (1 - 0.9 ** step), vh = v[i] / (1 - 0.99 ** step);
      x[i] -= (0.01 * mh) / (Math.sqrt(vh) + 1e-6);
    }
    assertClose(p, x, `step ${step}`, { abs: 1e-6, rel: 1e-5 });
  });
});

test("SGD with momentum, dampening 0, weight decay, and Nesterov follow torch.optim.SGD", () => {
  for (const nesterov of [false, true]) {
    const p = param([1.0, -2.0]);
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov });
    const x = [1.0, -2.0];
    let buf: number[] | null = null;
    for (const g of [[0.5, -0.5], [0.2, 0.1], [-0.1, 0.3]]) {
      setGrad(p, g);
      opt.step();
      const d = g.map((gi, i) => gi + 0.01 * x[i]);
      buf = buf ? buf.map((b, i) => 0.9 * b + d[i]) : d.slice();
      const upd = nesterov ? d.map((di, i) => di + 0.9 * buf![i]) : buf;
      for (let i = 0; i < 2; i++) x[i] -= 0.1 * upd[i];
      assertClose(p, x, `nesterov=${nesterov}`, { abs: 1e-6, rel: 1e-5 });
    }
  }
});

test("Adafactor first step in closed form (vector and factored matrix) and HF option checks", () => {
  // vector, relative_step=False, scale_parameter=False: beta2t = 0 → v = g² + eps1, update = g/sqrt(v)
  const p = param([1, 2, 3, 4]);
  const opt = new Adafactor([p], { lr: 0.01, relativeStep: false, scaleParameter: false });
  const g = [0.5, -0.25, 1.0, -2.0];
  setGrad(p, g);
  opt.step();
  let u = g.map((x) => x / Math.sqrt(x * x + 1e-30));
  let rms = Math.sqrt(u.reduce((s, x) => s + x * x, 0) / u.length);
  u = u.map((x) => (x / Math.max(rms, 1)) * 0.01);
  assertClose(p, [1, 2, 3, 4].map((x, i) => x - u[i]), "vector");
  // matrix [2,3] with default relative step + parameter scale: lr = max(1e-3, rms(p)) · min(1e-2, 1/sqrt(1))
  const w0 = [0.5, -1, 1.5, 2, -0.5, 1];
  const w = param(w0, [2, 3]);
  const opt2 = new Adafactor([w]);
  const gm = [0.1, 0.2, -0.3, 0.4, -0.5, 0.6];
  setGrad(w, gm);
  opt2.step();
  const sq = gm.map((x) => x * x + 1e-30);
  const row = [0, 1].map((r) => (sq[r * 3] + sq[r * 3 + 1] + sq[r * 3 + 2]) / 3);
  const col = [0, 1, 2].map((c) => (sq[c] + sq[3 + c]) / 2);
  const rmean = (row[0] + row[1]) / 2;
  let upd = gm.map((x, i) => x / Math.sqrt(row[Math.floor(i / 3)] / rmean) / Math.sqrt(col[i % 3]));
  rms = Math.sqrt(upd.reduce((s, x) => s + x * x, 0) / upd.length);
  const prms = Math.sqrt(w0.reduce((s, x) => s + x * x, 0) / w0.length);
  const lr = Math.max(1e-3, prms) * 1e-2;
  upd = upd.map((x) => (x / Math.max(rms, 1)) * lr);
  assertClose(w, w0.map((x, i) => x - upd[i]), "matrix", { abs: 1e-6, rel: 1e-5 });
  assert.throws(() => new Adafactor([param([1])], { lr: 0.1 }), /Cannot combine manual `lr` and `relative_step=True`/i);
  assert.throws(() => new Adafactor([param([1])], { relativeStep: false, lr: 0.1, warmupInit: true }), /warmup_init=True` requires `relative_step=True/);
});

test("clipGradNorm returns the pre-clip norm and scales by max_norm/(norm+1e-6)", () => {
  const a = param([3, 0]), b = param([0, 4], [2], "b");
  setGrad(a, [3, 0]);
  setGrad(b, [0, 4]);
  const n = clipGradNorm([a, b], 1.0);
  assert.equal(n, Math.fround(5));
  const c = 1 / (5 + 1e-6);
  assertClose(a.grad!, [3 * c, 0], "a.grad", { abs: 1e-7, rel: 1e-6 });
  assertClose(b.grad!, [0, 4 * c], "b.grad", { abs: 1e-7, rel: 1e-6 });
  // no clipping when below max_norm: grads untouched
  setGrad(a, [0.3, 0]);
  setGrad(b, [0, 0.4]);
  assert.ok(Math.abs(clipGradNorm([a, b], 1.0) - 0.5) < 1e-7);
  assert.deepEqual(Array.from(a.grad!.f32()), [Math.fround(0.3), 0]);
  // non-finite norms pass through
  setGrad(a, [Infinity, 0]);
  assert.equal(clipGradNorm([a, b], 1.0), Infinity);
});

test("FlatGrads: every .grad is a view of one buffer; backward accumulates into it", () => {
  const a = param([1, 2]), b = param([3, 4, 5], [3], "b");
  const flat = new FlatGrads([a, b]);
  assert.equal(flat.buffer.length, 5);
  assert.equal(a.grad!.storage, flat.buffer);
  assert.equal(b.grad!.storage, flat.buffer);
  a.accumulateGrad(Tensor.from([1, 1]));
  b.accumulateGrad(Tensor.from([2, 2, 2]));
  assert.deepEqual(Array.from(flat.buffer), [1, 1, 2, 2, 2]);
  flat.zero();
  assert.deepEqual(Array.from(flat.buffer), [0, 0, 0, 0, 0]);
});

for (const make of [
  (ps: Tensor[]) => new AdamW([{ params: ps, names: ["w", "b"] }], { lr: 0.01 }),
  (ps: Tensor[]) => new SGD([{ params: ps, names: ["w", "b"] }], { lr: 0.01, momentum: 0.9 }),
  (ps: Tensor[]) => new Adafactor([{ params: ps, names: ["w", "b"] }]),
] as ((ps: Tensor[]) => Optimizer)[]) {
  test(`${make([param([1, 2, 3, 4], [2, 2], "w"), param([1], [1], "b")]).kind}: optimizer.safetensors round trip continues bitwise`, () => {
    const mk = () => [param([1, 2, 3, 4], [2, 2], "w"), param([0.5], [1], "b")];
    const grads = [[[0.1, -0.2, 0.3, 0.4], [0.5]], [[-0.1, 0.2, 0.05, 0.4], [-0.5]], [[0.3, 0.3, -0.3, 0.1], [0.2]]];
    const pa = mk(), oa = make(pa);
    const pb = mk(), ob0 = make(pb);
    for (let i = 0; i < 2; i++) {
      pa.forEach((p, k) => setGrad(p, grads[i][k])); oa.step();
      pb.forEach((p, k) => setGrad(p, grads[i][k])); ob0.step();
    }
    const path = join(tmp(), "optimizer.safetensors");
    ob0.save(path);
    const ob = make(pb);
    ob.load(path);
    pa.forEach((p, k) => setGrad(p, grads[2][k])); oa.step();
    pb.forEach((p, k) => setGrad(p, grads[2][k])); ob.step();
    pa.forEach((p, k) => assert.deepEqual(Array.from(pb[k].f32()), Array.from(p.f32())));
  });
}
