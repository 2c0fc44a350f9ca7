// Fused attention with attention dropout: same result as the eager HF path (scores → mask → softmax →
// ops.dropout → ·V) for the same seed, finite-difference gradients with a fixed mask (GQA, causal and
// padding masks), and the models' attention() helper going through it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { globalRng, manualSeed, Rng } from "../../src/tensor/random.js";
import { ShapeError } from "../../src/tensor/errors.js";
import * as ops from "../../src/ops/index.js";
import { attention } from "../../src/nn/attention.js";
import { gradcheck, randn } from "../helpers/gradcheck.js";

const MIN = -3.4028234663852886e38;

/** The eager path built from ops (HF eager attention with repeat_kv), dropout drawn from `rng`. */
function eager(q: Tensor, k: Tensor, v: Tensor, keyMask: number[][] | null, causal: boolean, scale: number, p: number, rng: Rng): Tensor {
  const [B, H, Tq, D] = q.shape;
  const Hkv = k.shape[1], Tk = k.shape[2];
  if (Hkv !== H) {
    const n = H / Hkv;
    k = k.unsqueeze(2).expand([B, Hkv, n, Tk, D]).reshape([B, H, Tk, D]);
    v = v.unsqueeze(2).expand([B, Hkv, n, Tk, D]).reshape([B, H, Tk, D]);
  }
  const scores = ops.scale(ops.matmul(q, k.transpose(-2, -1)), scale);
  const neg = new Float32Array(B * Tq * Tk);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < Tq; i++)
      for (let j = 0; j < Tk; j++)
        if ((keyMask !== null && keyMask[b][j] === 0) || (causal && j > i + Tk - Tq)) neg[(b * Tq + i) * Tk + j] = MIN;
  const probs = ops.dropout(ops.softmax(ops.add(scores, new Tensor(neg, [B, 1, Tq, Tk])), -1), p, true, rng);
  return ops.matmul(probs, v);
}

/** |x − ref| ≤ rtol·max|ref| elementwise. */
function closeRel(x: Tensor, ref: Tensor, rtol: number, what: string): void {
  const a = x.f32(), r = ref.f32();
  assert.equal(a.length, r.length, `${what}: length`);
  let m = 0;
  for (const v of r) m = Math.max(m, Math.abs(v));
  let worst = 0, at = -1;
  for (let i = 0; i < r.length; i++) {
    const e = Math.abs(a[i] - r[i]);
    if (!(e <= worst)) { worst = e; at = i; }
  }
  assert.ok(worst <= rtol * m, `${what}: element ${at} is ${a[at]}, reference ${r[at]} (max |ref| ${m})`);
}

const cases = [
  { name: "MHA padding", B: 2, H: 4, Hkv: 4, Tq: 9, Tk: 9, D: 8, causal: false, padded: true, p: 0.1 },
  { name: "GQA causal + padding", B: 2, H: 4, Hkv: 2, Tq: 6, Tk: 6, D: 5, causal: true, padded: true, p: 0.3 },
  { name: "GQA causal with cache offset", B: 1, H: 6, Hkv: 2, Tq: 3, Tk: 8, D: 4, causal: true, padded: false, p: 0.5 },
  { name: "BERT-like", B: 2, H: 8, Hkv: 8, Tq: 32, Tk: 32, D: 16, causal: false, padded: true, p: 0.1 },
];

test("fused attention dropout equals the eager ops path (output and q/k/v gradients) for the same seed", () => {
  const rng = new Rng(77);
  for (const c of cases) {
    const q = randn([c.B, c.H, c.Tq, c.D], rng), k = randn([c.B, c.Hkv, c.Tk, c.D], rng), v = randn([c.B, c.Hkv, c.Tk, c.D], rng);
    const keyMask = c.padded ? Array.from({ length: c.B }, (_, b) => Array.from({ length: c.Tk }, (_, j) => (j >= c.Tk - 2 * b ? 0 : 1))) : null;
    const scale = 1 / Math.sqrt(c.D);
    const go = randn([c.B, c.H, c.Tq, c.D], rng);
    const run = (fused: boolean) => {
      const [qq, kk, vv] = [q, k, v].map((t) => t.detach().requiresGrad_());
      const r = new Rng(1000 + c.Tq);
      const out = fused
        ? ops.scaledDotProductAttention(qq, kk, vv, { keyMask, causal: c.causal, scale, dropoutP: c.p, training: true, rng: r })
        : eager(qq, kk, vv, keyMask, c.causal, scale, c.p, r);
      out.backward(go);
      return { out, gq: qq.grad!, gk: kk.grad!, gv: vv.grad!, state: r.getState() };
    };
    const f = run(true), e = run(false);
    closeRel(f.out, e.out, 1e-5, `${c.name}: output`);
    closeRel(f.gq, e.gq, 1e-5, `${c.name}: dq`);
    closeRel(f.gk, e.gk, 1e-5, `${c.name}: dk`);
    closeRel(f.gv, e.gv, 1e-5, `${c.name}: dv`);
    assert.deepEqual(f.state, e.state, `${c.name}: the generator advanced the same`);
    // dropout did something: the no-dropout output differs
    const plain = ops.scaledDotProductAttention(q, k, v, { keyMask, causal: c.causal, scale });
    assert.notDeepEqual(Array.from(plain.f32()), Array.from(f.out.f32()), `${c.name}: dropout is applied`);
  }
});

test("models' attention() uses the fused dropout with the global generator, like the eager path did", () => {
  const rng = new Rng(5);
  const q = randn([2, 4, 7, 8], rng), k = randn([2, 2, 7, 8], rng), v = randn([2, 2, 7, 8], rng);
  const km = [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0]];
  const keyMask = new Tensor(Float32Array.from(km.flat()), [2, 7]);
  manualSeed(123);
  const fused = attention(q, k, v, { keyMask, causal: true, scale: 0.3, dropoutP: 0.2, training: true });
  const after = globalRng.getState();
  manualSeed(123);
  const ref = eager(q, k, v, km, true, 0.3, 0.2, globalRng);
  closeRel(fused, ref, 1e-5, "attention() vs eager");
  assert.deepEqual(after, globalRng.getState());
  // eval mode (or p = 0) draws nothing and is deterministic
  const s0 = globalRng.getState();
  const e1 = attention(q, k, v, { keyMask, causal: true, scale: 0.3, dropoutP: 0.2, training: false });
  const e2 = attention(q, k, v, { keyMask, causal: true, scale: 0.3, dropoutP: 0, training: true });
  assert.deepEqual(globalRng.getState(), s0, "no draws without dropout");
  assert.deepEqual(Array.from(e1.f32()), Array.from(e2.f32()));
});

test("fused attention dropout: finite-difference gradients with a fixed mask (GQA 4/2, causal and padding masks)", () => {
  const rng = new Rng(31);
  const mask = [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]];
  // a fresh generator per call: every evaluation draws the same mask
  gradcheck((q, k, v) => ops.scaledDotProductAttention(q, k, v, { keyMask: mask, causal: true, dropoutP: 0.3, training: true, rng: new Rng(8) }),
    [randn([2, 4, 5, 3], rng), randn([2, 2, 5, 3], rng), randn([2, 2, 5, 3], rng)], { name: "sdpa dropout gqa causal padding" });
  gradcheck((q, k, v) => ops.scaledDotProductAttention(q, k, v, { keyMask: mask, dropoutP: 0.5, training: true, rng: new Rng(9) }),
    [randn([2, 4, 4, 3], rng), randn([2, 2, 5, 3], rng), randn([2, 2, 5, 3], rng)], { name: "sdpa dropout gqa padding" });
  gradcheck((q, k, v) => ops.scaledDotProductAttention(q, k, v, { causal: true, dropoutP: 0.25, training: true, rng: new Rng(10) }),
    [randn([1, 4, 2, 3], rng), randn([1, 2, 5, 3], rng), randn([1, 2, 5, 3], rng)], { name: "sdpa dropout causal with cache offset" });
});

test("fused attention dropout: p = 1 zeroes the output and gradients; invalid p is rejected", () => {
  const rng = new Rng(2);
  const q = randn([1, 2, 3, 4], rng).requiresGrad_(), k = randn([1, 1, 3, 4], rng).requiresGrad_(), v = randn([1, 1, 3, 4], rng).requiresGrad_();
  const out = ops.scaledDotProductAttention(q, k, v, { dropoutP: 1, training: true, rng: new Rng(1) });
  assert.ok(out.f32().every((x) => x === 0));
  out.backward(Tensor.ones(out.shape));
  for (const t of [q, k, v]) assert.ok(t.grad!.f32().every((x) => x === 0));
  assert.throws(() => ops.scaledDotProductAttention(q, k, v, { dropoutP: 1.5, training: true }), ShapeError);
  assert.throws(() => ops.scaledDotProductAttention(q, k, v, { dropoutP: -0.1, training: true }), ShapeError);
});
