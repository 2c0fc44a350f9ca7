import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { ShapeError } from "../../src/tensor/errors.js";
import * as ops from "../../src/ops/index.js";
import { assertClose, gradcheck, randn } from "../helpers/gradcheck.js";

const rng = new Rng(21);

/** Attention written out with matmul/softmax/where (HF eager, repeat_kv), an independent path. */
function reference(q: Tensor, k: Tensor, v: Tensor, keyMask: number[][] | null, causal: boolean, scale?: number): Tensor {
  const [B, H, Tq, D] = q.shape;
  const [, Hkv, Tk] = k.shape;
  const rep = H / Hkv;
  const heads: Tensor[] = [];
  for (let h = 0; h < H; h++) {
    const kh = Math.floor(h / rep);
    const qh = q.slice(1, h, h + 1), kk = k.slice(1, kh, kh + 1), vv = v.slice(1, kh, kh + 1);
    let s = ops.scale(ops.matmul(qh, kk.transpose(-2, -1)), scale ?? 1 / Math.sqrt(D)); // [B,1,Tq,Tk]
    const keep: number[][][][] = [];
    for (let b = 0; b < B; b++) {
      const rows: number[][] = [];
      for (let i = 0; i < Tq; i++) {
        const row: number[] = [];
        for (let j = 0; j < Tk; j++) row.push((keyMask ? keyMask[b][j] !== 0 : true) && (!causal || j <= i + Tk - Tq) ? 1 : 0);
        rows.push(row);
      }
      keep.push([rows]);
    }
    s = ops.where(keep, s, -1e30);
    heads.push(ops.matmul(ops.softmax(s), vv));
  }
  return ops.cat(heads, 1);
}

test("attention: closed forms (equal keys average values; causal first query sees only key 0)", () => {
  const q = randn([1, 1, 3, 2], rng);
  const k = Tensor.from([[[[1, 2], [1, 2], [1, 2]]]]);
  const v = Tensor.from([[[[1, 0], [0, 1], [2, 2]]]]);
  const out = ops.scaledDotProductAttention(q, k, v).f32();
  for (let i = 0; i < 3; i++) assertClose(out.subarray(2 * i, 2 * i + 2), [1, 1], 1e-6, 1e-6, "uniform average");
  const c = ops.scaledDotProductAttention(q, k, v, { causal: true }).f32();
  assertClose(c, [1, 0, 0.5, 0.5, 1, 1], 1e-6, 1e-6, "causal running averages");
  // key mask drops key 1 for every query
  const m = ops.scaledDotProductAttention(q, k, v, { keyMask: [[1, 0, 1]] }).f32();
  for (let i = 0; i < 3; i++) assertClose(m.subarray(2 * i, 2 * i + 2), [1.5, 1], 1e-6, 1e-6, "masked average");
});

test("attention: matches the composed reference (GQA, padding, causal with cache offset, custom scale)", () => {
  const cases: { B: number; H: number; Hkv: number; Tq: number; Tk: number; D: number; mask: number[][] | null; causal: boolean; scale?: number }[] = [
    { B: 2, H: 2, Hkv: 2, Tq: 4, Tk: 4, D: 3, mask: [[1, 1, 1, 0], [1, 1, 0, 0]], causal: false },
    { B: 2, H: 4, Hkv: 2, Tq: 5, Tk: 5, D: 4, mask: [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], causal: true },
    { B: 1, H: 4, Hkv: 1, Tq: 2, Tk: 6, D: 2, mask: null, causal: true, scale: 0.7 },
    { B: 2, H: 2, Hkv: 1, Tq: 1, Tk: 5, D: 3, mask: [[1, 1, 1, 1, 1], [0, 1, 1, 1, 1]], causal: true },
  ];
  for (const c of cases) {
    const q = randn([c.B, c.H, c.Tq, c.D], rng), k = randn([c.B, c.Hkv, c.Tk, c.D], rng), v = randn([c.B, c.Hkv, c.Tk, c.D], rng);
    const got = ops.scaledDotProductAttention(q, k, v, { keyMask: c.mask, causal: c.causal, scale: c.scale });
    const want = reference(q, k, v, c.mask, c.causal, c.scale);
    assert.deepEqual(got.shape, [c.B, c.H, c.Tq, c.D]);
    assertClose(got.f32(), want.f32(), 1e-5, 1e-5, `attention ${JSON.stringify(c)}`);
  }
});

test("attention: gradients (GQA + causal + padding; non-contiguous q from a transpose)", () => {
  const mask = [[1, 1, 1, 1], [1, 1, 1, 0]];
  gradcheck((q, k, v) => ops.scaledDotProductAttention(q, k, v, { keyMask: mask, causal: true }),
    [randn([2, 4, 4, 3], rng), randn([2, 2, 4, 3], rng), randn([2, 2, 4, 3], rng)], { name: "sdpa gqa causal" });
  gradcheck((q, k, v) => ops.scaledDotProductAttention(q, k, v, { causal: true }),
    [randn([1, 2, 2, 3], rng), randn([1, 1, 5, 3], rng), randn([1, 1, 5, 3], rng)], { name: "sdpa causal with cache offset" });
  // q laid out [B,T,H,D] and transposed to [B,H,T,D] as the models do
  gradcheck((q, k, v) => ops.scaledDotProductAttention(q, k, v, { keyMask: [[1, 0, 1]] }),
    [randn([1, 3, 2, 2], rng).transpose(1, 2), randn([1, 2, 3, 2], rng), randn([1, 2, 3, 2], rng)], { name: "sdpa non-contiguous q" });
});

test("attention: a fully masked query row is uniform over the keys, not NaN (HF finfo.min semantics)", () => {
  const q = randn([1, 1, 2, 2], rng), k = randn([1, 1, 2, 2], rng);
  const v = Tensor.from([[[[1, 0], [3, 4]]]]);
  // Tq > Tk with causal: query 0 sees no key (offset −1)
  const out = ops.scaledDotProductAttention(randn([1, 1, 3, 2], rng), k, v, { causal: true }).f32();
  assertClose(out.subarray(0, 2), [2, 2], 1e-6, 1e-6, "fully masked row");
  const o2 = ops.scaledDotProductAttention(q, k, v, { keyMask: [[0, 0]] }).f32();
  assert.ok(o2.every((x) => Number.isFinite(x)));
  assertClose(o2, [2, 2, 2, 2], 1e-6, 1e-6, "all keys padded");
});

test("attention: shape errors name the op and shapes", () => {
  const q = randn([1, 3, 2, 4], rng), k = randn([1, 2, 2, 4], rng);
  assert.throws(() => ops.scaledDotProductAttention(q, k, k), (e: Error) => e instanceof ShapeError && /scaledDotProductAttention/.test(e.message) && /3/.test(e.message));
  assert.throws(() => ops.scaledDotProductAttention(randn([1, 2, 2, 4], rng), k, randn([1, 2, 2, 3], rng)), ShapeError);
  assert.throws(() => ops.scaledDotProductAttention(randn([1, 2, 2, 4], rng), k, k, { keyMask: [[1, 1, 1]] }), ShapeError);
});

test("rotaryTables: HF default rope values and linear scaling", () => {
  const { cos, sin } = ops.rotaryTables([0, 1, 5], 4, 10000);
  assert.deepEqual(cos.shape, [3, 4]);
  const inv = [1, 1 / 100]; // 1/10000^(0/4), 1/10000^(2/4)
  const want = (f: (x: number) => number) => [0, 1, 5].flatMap((p) => [...inv, ...inv].map((w) => f(p * w)));
  assertClose(cos.f32(), want(Math.cos), 1e-6, 1e-6, "cos");
  assertClose(sin.f32(), want(Math.sin), 1e-6, 1e-6, "sin");
  const scaled = ops.rotaryTables([4], 4, 10000, 2);
  const plain = ops.rotaryTables([2], 4, 10000);
  assertClose(scaled.cos.f32(), plain.cos.f32(), 1e-6, 1e-6, "linear scaling = positions / factor");
  assertClose(scaled.sin.f32(), plain.sin.f32(), 1e-6, 1e-6, "linear scaling sin");
});

test("applyRotary: rotate_half layout, norm preserving, relative positions, gradient", () => {
  // D = 4: pairs (0,2) and (1,3) rotate together (halves, not interleaved)
  const x = Tensor.from([[[[1, 0, 0, 0]]]]);
  const { cos, sin } = ops.rotaryTables([1], 4, 10000);
  assertClose(ops.applyRotary(x, cos, sin).f32(), [Math.cos(1), 0, Math.sin(1), 0], 1e-6, 1e-6, "rotate_half pairs");
  // the score between rotated q at m and k at n depends only on m − n
  const q = randn([1, 1, 1, 8], rng), k = randn([1, 1, 1, 8], rng);
  const score = (m: number, n: number) => {
    const a = ops.rotaryTables([m], 8, 10000), b = ops.rotaryTables([n], 8, 10000);
    return ops.sum(ops.mul(ops.applyRotary(q, a.cos, a.sin), ops.applyRotary(k, b.cos, b.sin))).item();
  };
  assert.ok(Math.abs(score(7, 3) - score(4, 0)) < 1e-4);
  const t = ops.rotaryTables([0, 3, 9], 6, 500);
  const y = ops.applyRotary(randn([2, 2, 3, 6], rng), t.cos, t.sin);
  const x2 = randn([2, 2, 3, 6], rng);
  const n0 = ops.sum(ops.square(x2)).item(), n1 = ops.sum(ops.square(ops.applyRotary(x2, t.cos, t.sin))).item();
  assert.ok(Math.abs(n0 - n1) < 1e-4 * n0, "rotation keeps the norm");
  assert.deepEqual(y.shape, [2, 2, 3, 6]);
  gradcheck((x) => ops.applyRotary(x, t.cos, t.sin), [randn([2, 2, 3, 6], rng)], { name: "applyRotary" });
  // per-batch tables [B,T,D]
  const cb = ops.stack([t.cos, ops.rotaryTables([1, 2, 3], 6, 500).cos]), sb = ops.stack([t.sin, ops.rotaryTables([1, 2, 3], 6, 500).sin]);
  const xb = randn([2, 1, 3, 6], rng);
  const yb = ops.applyRotary(xb, cb, sb);
  assertClose(yb.slice(0, 0, 1).f32(), ops.applyRotary(xb.slice(0, 0, 1), t.cos, t.sin).f32(), 1e-6, 1e-6, "batch row 0 uses its own table");
  gradcheck((x) => ops.applyRotary(x, cb, sb), [randn([2, 2, 3, 6], rng).transpose(1, 2).transpose(1, 2)], { name: "applyRotary per-batch" });
  assert.throws(() => ops.applyRotary(randn([1, 1, 2, 4], rng), t.cos, t.sin), ShapeError);
});
